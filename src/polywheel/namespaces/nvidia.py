"""`nvidia :: sm_arch :: 90_real` and the CUDA toolkit bounds.

`sm_arch` values map one to one onto CMake's CUDA architectures (`90_real` is `90-real`,
`90_virtual` is `90-virtual`), and `cuda_version_lower_bound` comes from the toolkit a
build really used unless the maintainer declares it.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from typing import TYPE_CHECKING, Any, ClassVar

from polywheel.errors import BuildError, ConfigError, close_matches_hint
from polywheel.namespaces.base import AuditFinding, FeatureDoc, Namespace
from polywheel.properties import VariantProperty

if TYPE_CHECKING:
    from polywheel.audit.binary import BinaryAudit
    from polywheel.cmake.report import BuildReport

__all__ = [
    "LOWER_BOUND",
    "NVIDIA",
    "SM_ARCH",
    "SM_ARCH_RE",
    "cmake_architectures",
    "cuda_lower_bound",
    "properties_from_cmake_architectures",
]

SM_ARCH = "sm_arch"
LOWER_BOUND = "cuda_version_lower_bound"
UPPER_BOUND = "cuda_version_upper_bound"
FEATURES = (SM_ARCH, LOWER_BOUND, UPPER_BOUND)
SM_ARCH_RE = re.compile(r"^[1-9][0-9]*[0-9]_(real|virtual)$")
_CMAKE_ARCH_RE = re.compile(r"^([1-9][0-9]*[0-9])(?:-(real|virtual))?$")
_CUDA_VERSION_RE = re.compile(r"^[1-9][0-9]*(\.[0-9]+)?$")


def properties_from_cmake_architectures(
    archs: Iterable[str], *, key: str
) -> frozenset[VariantProperty]:
    """CMake `CMAKE_CUDA_ARCHITECTURES` entries → `nvidia :: sm_arch` properties."""
    props: set[VariantProperty] = set()
    for arch in archs:
        match = _CMAKE_ARCH_RE.fullmatch(arch.strip())
        if not match:
            raise ConfigError(
                f"{arch!r} is not an explicit CUDA architecture; use entries like '90', "
                "'90-real' or '90-virtual' ('native', 'all' and arch-specific 'a' targets "
                "cannot be described by `nvidia :: sm_arch`)",
                key=key,
            )
        number, kind = match.groups()
        kinds = [kind] if kind else ["real", "virtual"]
        props.update(VariantProperty("nvidia", SM_ARCH, f"{number}_{k}") for k in kinds)
    if not props:
        raise ConfigError("must name at least one CUDA architecture", key=key)
    return frozenset(props)


def cmake_architectures(properties: Iterable[VariantProperty]) -> tuple[str, ...]:
    """`nvidia :: sm_arch :: 90_real` → CMake '90-real', ordered by architecture."""
    archs = [
        tuple(p.value.split("_"))
        for p in properties
        if p.namespace == "nvidia" and p.feature == SM_ARCH
    ]
    return tuple(f"{n}-{kind}" for n, kind in sorted(archs, key=lambda a: (int(a[0]), a[1])))


def cuda_lower_bound(compiler_version: str) -> str:
    """The toolkit '13.0.88' → '13.0', the value `nvidia :: cuda_version_lower_bound` takes."""
    parts = compiler_version.strip().split(".")
    if len(parts) < 2 or not all(p.isdigit() for p in parts[:2]):
        raise ValueError(f"not a CUDA compiler version: {compiler_version!r}")
    return f"{int(parts[0])}.{int(parts[1])}"


def declares_lower_bound(properties: Iterable[VariantProperty]) -> bool:
    return any(p.namespace == "nvidia" and p.feature == LOWER_BOUND for p in properties)


def _same_archs(reported: Iterable[str], expected: Iterable[str]) -> bool:
    def expand(archs: Iterable[str]) -> set[str]:
        out: set[str] = set()
        for arch in archs:
            out |= {arch} if "-" in arch else {f"{arch}-real", f"{arch}-virtual"}
        return out

    return expand(reported) == expand(expected)


def _version_tuple(version: str) -> tuple[int, ...]:
    return tuple(int(x) for x in version.split("."))


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
        expected = cmake_architectures(props)
        if not report.cuda_enabled:
            raise BuildError(
                "the variant declares nvidia :: sm_arch, but the CMake project never enabled "
                "the CUDA language, so the wheel holds no GPU code",
                label=label,
                hint="is a CUDA toolkit installed? CMake looks at CUDACXX, PATH and "
                "/usr/local/cuda; the project must enable CUDA when CMAKE_CUDA_ARCHITECTURES "
                "is given",
            )
        reported = report.list("cuda_architectures")
        if not _same_archs(reported, expected):
            raise BuildError(
                f"CMAKE_CUDA_ARCHITECTURES ended up as {';'.join(reported) or '(empty)'} but "
                f"the variant needs {';'.join(expected)}; the project overrides the value "
                "polywheel passed",
                label=label,
                hint="set CMAKE_CUDA_ARCHITECTURES only if it is not defined yet",
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
        found = {f"{a}_real" for b in binaries for a in b.sass}
        found |= {f"{a}_virtual" for b in binaries for a in b.ptx}
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
        return findings


def with_toolkit_lower_bound(
    props: Sequence[VariantProperty], toolkit: str | None
) -> tuple[VariantProperty, ...]:
    """The properties plus the toolkit's lower bound, unless one is declared."""
    if toolkit is None or declares_lower_bound(props):
        return tuple(props)
    return tuple(sorted({*props, VariantProperty("nvidia", LOWER_BOUND, toolkit)}))
