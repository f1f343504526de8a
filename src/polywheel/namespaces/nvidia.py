"""`nvidia :: sm_arch :: 90_real` and the CUDA toolkit bounds.

The mapping from CMake's CUDA architectures to `sm_arch` values: an entry's number and
kind make the value (`90-real` is `90_real`, `90-virtual` is `90_virtual`, a bare `90`
both), and an arch-specific (`90a`, `100a`) or family-specific (`100f`, `121f`) suffix
does not change it: `90a-real` and `100f-real` are `90_real` and `100_real`. The suffix
changes where the code runs (see `cuda_arch`), so polywheel refuses a set of entries
whose values would make installers pick the wheel on a device none of its code runs on:
`100a` alone claims `100_real`, which the provider reports on 10.3 devices too, where
`sm_100a` code does not run; `100a` with `103a`, or `100f`, is fine.

A variant asks for suffixed targets through `cuda-architectures`; its entries go to
CMake as written, while a variant declared by `sm_arch` properties alone gets the plain
entries (`90_real` → `90-real`). `cuda_version_lower_bound` comes from the toolkit a
build really used unless the maintainer declares it.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from typing import TYPE_CHECKING, Any, ClassVar

from polywheel.errors import BuildError, ConfigError, close_matches_hint
from polywheel.namespaces.base import AuditFinding, FeatureDoc, Namespace
from polywheel.namespaces.cuda_arch import (
    Code,
    CudaToolkit,
    codes_from_cmake_entry,
    cuda_lower_bound,
    device_name,
    probe_cuda_toolkit,
    uncovered_devices,
    unsupported_codes,
)
from polywheel.properties import VariantProperty

if TYPE_CHECKING:
    from polywheel.audit.binary import BinaryAudit
    from polywheel.cmake.report import BuildReport

__all__ = [
    "LOWER_BOUND",
    "NVIDIA",
    "SM_ARCH",
    "SM_ARCH_RE",
    "check_toolkit_architectures",
    "cmake_architectures",
    "cuda_lower_bound",
    "properties_from_cmake_architectures",
]

SM_ARCH = "sm_arch"
LOWER_BOUND = "cuda_version_lower_bound"
UPPER_BOUND = "cuda_version_upper_bound"
FEATURES = (SM_ARCH, LOWER_BOUND, UPPER_BOUND)
SM_ARCH_RE = re.compile(r"^[1-9][0-9]*[0-9]_(real|virtual)$")
_CUDA_VERSION_RE = re.compile(r"^[1-9][0-9]*(\.[0-9]+)?$")
_ENTRY_EXAMPLES = (
    "use entries like '90', '90-real', '90-virtual', arch-specific '90a-real' or "
    "family-specific '100f-real' ('native', 'all' and 'all-major' cannot be described "
    "by `nvidia :: sm_arch`)"
)


def _entry_codes(archs: Iterable[str], *, key: str) -> list[tuple[str, tuple[Code, ...]]]:
    parsed = []
    for arch in archs:
        try:
            parsed.append((arch.strip(), codes_from_cmake_entry(arch)))
        except ValueError as exc:
            raise ConfigError(f"{exc}; {_ENTRY_EXAMPLES}", key=key) from None
    if not parsed:
        raise ConfigError("must name at least one CUDA architecture", key=key)
    return parsed


def coverage_problem(uncovered: Mapping[int, Sequence[str]], codes: Iterable[Code]) -> str:
    """Why a wheel would be picked where its code does not run, in one sentence."""
    devices = ", ".join(device_name(d) for d in uncovered)
    values = sorted({v for chosen in uncovered.values() for v in chosen})
    majors = {d // 10 for d in uncovered}
    exact: dict[int, list[str]] = {}
    for code in sorted(codes, key=lambda c: (c.number, c.kind)):
        if code.suffix == "a" and code.number // 10 in majors:
            exact.setdefault(code.number, []).append(code.name)
    why = "".join(
        f"; {' and '.join(names)} run{'s' if len(names) == 1 else ''} only on compute "
        f"capability {device_name(number)}"
        for number, names in exact.items()
    )
    return (
        f"installers would pick the wheel on compute capability {devices} devices (the "
        f"nvidia provider reports sm_arch {values} there), where none of its GPU code "
        f"runs{why}"
    )


def _coverage_hint(uncovered: Mapping[int, Sequence[str]]) -> str:
    device = next(iter(uncovered))
    family = device // 10 * 10
    return (
        f"add code that runs on {device_name(device)} (e.g. '{device}a-real' or "
        f"'{device}f-real'), or target the whole family with '{family}f' instead of "
        "arch-specific entries"
    )


def properties_from_cmake_architectures(
    archs: Iterable[str], *, key: str
) -> frozenset[VariantProperty]:
    """CMake `CMAKE_CUDA_ARCHITECTURES` entries → `nvidia :: sm_arch` properties.

    Refuses entries whose properties would be selected on a device none of the
    entries' code runs on (an arch-specific target alone in a family of several).
    """
    parsed = _entry_codes(archs, key=key)
    codes = [code for _, entry in parsed for code in entry]
    values = {code.property_value for code in codes}
    uncovered = uncovered_devices(values, codes)
    if uncovered:
        entries = [text for text, _ in parsed]
        raise ConfigError(
            f"{entries} would be labelled nvidia :: sm_arch {sorted(values)}, but "
            + coverage_problem(uncovered, codes),
            key=key,
            hint=_coverage_hint(uncovered),
        )
    return frozenset(VariantProperty("nvidia", SM_ARCH, v) for v in values)


def cmake_architectures(
    properties: Iterable[VariantProperty], declared: Sequence[str] | None = None
) -> tuple[str, ...]:
    """The CMake entries a variant builds, each with `-real` or `-virtual`, ordered by
    architecture: from its declared `cuda-architectures` when it has them (they may
    name `90a` or `100f`, which the properties cannot tell from `90` and `100`),
    otherwise one per `nvidia :: sm_arch` value ('90_real' → '90-real')."""
    if declared is not None:
        codes = {c for entry in declared for c in codes_from_cmake_entry(entry)}
    else:
        codes = {
            Code(int(p.value.partition("_")[0]), "", p.value.partition("_")[2])
            for p in properties
            if p.namespace == "nvidia" and p.feature == SM_ARCH
        }
    return tuple(f"{c.number}{c.suffix}-{c.kind}" for c in sorted(codes))


def check_toolkit_architectures(
    archs: Sequence[str], *, label: str, toolkit: CudaToolkit | None = None
) -> None:
    """Refuse, before CMake runs, entries the toolkit cannot compile (CUDA 13 dropped
    everything below sm_75), naming the variant and the toolkit. `toolkit` None probes
    the nvcc CMake would find; without one nothing is checked."""
    toolkit = toolkit or probe_cuda_toolkit()
    problem = toolkit and _toolkit_problem(archs, toolkit)
    if problem:
        raise BuildError(
            problem,
            label=label,
            hint="drop those entries from the variant, or build it with a toolkit that "
            "has them (CUDACXX or CMAKE_CUDA_COMPILER choose the nvcc)",
        )


def _toolkit_problem(archs: Sequence[str], toolkit: CudaToolkit) -> str | None:
    bad: dict[str, list[Code]] = {}
    for arch in archs:
        try:
            codes = codes_from_cmake_entry(arch)
        except ValueError:
            continue  # not ours to judge: CMake reports its own spellings
        if missing := unsupported_codes(codes, toolkit):
            bad[arch.strip()] = missing
    if not bad:
        return None
    names = ", ".join(c.name for c in sorted({c for codes in bad.values() for c in codes}))
    known = sorted(toolkit.real)
    has = f"sm_{known[0]} to sm_{known[-1]}" if known else "no SASS targets"
    family = any(c.suffix == "f" and c.number in toolkit.real for cs in bad.values() for c in cs)
    why = "; family-specific targets need CUDA 12.9 or later" if family else ""
    return (
        f"CUDA {toolkit.version} ({toolkit.nvcc}) cannot compile the CUDA architectures "
        f"{list(bad)}: it has no {names} (it builds {has}){why}"
    )


def declares_lower_bound(properties: Iterable[VariantProperty]) -> bool:
    return any(p.namespace == "nvidia" and p.feature == LOWER_BOUND for p in properties)


def _version_tuple(version: str) -> tuple[int, ...]:
    return tuple(int(x) for x in version.split("."))


def _reported_codes(reported: Sequence[str]) -> list[Code] | None:
    """The codes of CMake's final entries; None when one is not explicit ('native')."""
    try:
        return [code for entry in reported for code in codes_from_cmake_entry(entry)]
    except ValueError:
        return None


def binary_codes(binary: BinaryAudit) -> list[Code]:
    """The GPU code of one binary: its named targets, and plain ones for bare numbers."""
    codes = set()
    for name in binary.cuda_targets:
        try:
            codes.add(Code.from_name(name))
        except ValueError:
            continue  # a hostile number; its bare number below is judged instead
    named = {(c.number, c.kind) for c in codes}
    codes |= {Code(n, "", "real") for n in binary.sass if (n, "real") not in named}
    codes |= {Code(n, "", "virtual") for n in binary.ptx if (n, "virtual") not in named}
    return sorted(codes)


def _not_enabled(archs: Sequence[str], label: str) -> BuildError:
    toolkit = probe_cuda_toolkit()
    problem = toolkit and _toolkit_problem(archs, toolkit)
    if problem:
        # check_language(CUDA) test-compiles for these architectures and quietly
        # reports no compiler when that fails: the toolkit is the reason.
        return BuildError(
            f"{problem}, so CMake found no working CUDA compiler and the project built "
            "without GPU code",
            label=label,
            hint="drop those entries from the variant, or build it with a toolkit that "
            "has them (CUDACXX or CMAKE_CUDA_COMPILER choose the nvcc)",
        )
    return BuildError(
        "the variant declares nvidia :: sm_arch, but the CMake project never enabled "
        "the CUDA language, so the wheel holds no GPU code",
        label=label,
        hint="is a CUDA toolkit installed? CMake looks at CUDACXX, PATH and "
        "/usr/local/cuda; the project must enable CUDA when CMAKE_CUDA_ARCHITECTURES "
        "is given",
    )


class NVIDIA(Namespace):
    name = "nvidia"
    provider: ClassVar[Mapping[str, Any]] = {
        "requires": ["nvidia-variant-provider"],
        "plugin-api": "nvidia_variant_provider.plugin:NvidiaVariantPlugin",
    }
    kind = "accelerator"
    feature_docs = (
        FeatureDoc(f"`{SM_ARCH}`", "`NN_real` or `NN_virtual`, e.g. `90_real`"),
        FeatureDoc(f"`{LOWER_BOUND}`, `{UPPER_BOUND}`", "`major` or `major.minor`, e.g. `12.8`"),
    )

    def check_value(self, prop: VariantProperty, *, key: str) -> None:
        if prop.feature not in FEATURES:
            raise ConfigError(
                f"property '{prop}': the nvidia provider knows the features "
                f"{', '.join(FEATURES[:-1])} and {FEATURES[-1]}",
                key=key,
                hint=close_matches_hint(prop.feature, FEATURES),
            )
        pattern = SM_ARCH_RE if prop.feature == SM_ARCH else _CUDA_VERSION_RE
        if not pattern.fullmatch(prop.value):
            example = "'90_real' or '90_virtual'" if prop.feature == SM_ARCH else "'12.8'"
            raise ConfigError(
                f"property '{prop}': {prop.value!r} is not a valid {prop.feature} value, "
                f"e.g. {example}",
                key=key,
            )

    def narrowness(self, props: Sequence[VariantProperty]) -> int:
        # Any GPU build installs on fewer machines than a CPU-only one.
        return 1 if props else 0

    def verified_properties(
        self, props: Sequence[VariantProperty], report: BuildReport, *, label: str
    ) -> tuple[VariantProperty, ...]:
        claimed = {p.value for p in props if p.feature == SM_ARCH}
        expected = cmake_architectures(props)
        reported = report.list("cuda_architectures")
        if not report.cuda_enabled:
            raise _not_enabled(reported or expected, label)
        # Compared by meaning: the properties cannot tell '90a-real' from '90-real'.
        codes = _reported_codes(reported)
        if codes is None or {c.property_value for c in codes} != claimed:
            raise BuildError(
                f"CMAKE_CUDA_ARCHITECTURES ended up as {';'.join(reported) or '(empty)'} but "
                f"the variant needs {';'.join(expected)}; the project overrides the value "
                "polywheel passed",
                label=label,
                hint="set CMAKE_CUDA_ARCHITECTURES only if it is not defined yet",
            )
        uncovered = uncovered_devices(claimed, codes)
        if uncovered:
            raise BuildError(
                f"CMAKE_CUDA_ARCHITECTURES ended up as {';'.join(reported)}: "
                + coverage_problem(uncovered, codes),
                label=label,
                hint=_coverage_hint(uncovered),
            )
        version = report.cuda_compiler_version
        if version is None:
            raise BuildError(
                "CUDA is enabled but CMake reported no CUDA compiler version", label=label
            )
        toolkit = cuda_lower_bound(version)
        for prop in props:
            if prop.feature == LOWER_BOUND and _version_tuple(toolkit) < _version_tuple(prop.value):
                raise BuildError(
                    f"declares cuda_version_lower_bound {prop.value} but was built with "
                    f"CUDA {version}",
                    label=label,
                )
        return with_toolkit_lower_bound(props, toolkit)

    def audit(
        self, claims: Mapping[str, Sequence[str]] | None, binaries: Sequence[BinaryAudit]
    ) -> list[AuditFinding]:
        if claims is None:
            # A plain wheel may carry GPU code for any architecture: it is loaded only
            # where a GPU exists, which is what non-variant CUDA wheels do today.
            return []
        claimed = set(claims.get(SM_ARCH, ()))
        codes = [(b, binary_codes(b)) for b in binaries]
        found = {c.property_value for _, cs in codes for c in cs}
        findings: list[AuditFinding] = []
        missing = sorted(claimed - found)
        extra = sorted(found - claimed)
        if missing:
            findings.append(
                ("error", f"claims nvidia :: sm_arch {missing}, absent from its fat binaries")
            )
        if extra:
            findings.append(
                ("error", f"its fat binaries carry {extra}, which the wheel does not claim")
            )
        if missing:
            return findings
        every = sorted({c for _, cs in codes for c in cs})
        uncovered = uncovered_devices(claimed, every)
        if uncovered:
            findings.append(
                (
                    "error",
                    f"its fat binaries hold {', '.join(c.name for c in every)}, but with "
                    f"nvidia :: sm_arch {sorted(claimed)} " + coverage_problem(uncovered, every),
                )
            )
        return findings


def with_toolkit_lower_bound(
    props: Sequence[VariantProperty], toolkit: str | None
) -> tuple[VariantProperty, ...]:
    """The properties plus the toolkit's lower bound, unless one is declared."""
    if toolkit is None or declares_lower_bound(props):
        return tuple(props)
    return tuple(sorted({*props, VariantProperty("nvidia", LOWER_BOUND, toolkit)}))
