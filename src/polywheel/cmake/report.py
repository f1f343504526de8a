"""What a variant's CMake build reported back, and the check that it honoured the
variant: refuse to label a build whose flags or CUDA architectures never reached it."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from pathlib import Path

from polywheel.cmake.compile_commands import CompileUnit
from polywheel.errors import BuildError
from polywheel.matrix.spec import VariantSpec
from polywheel.namespaces import KNOWN, AuditFinding, known
from polywheel.properties import VariantProperty
from polywheel.wheel.reader import open_wheel

__all__ = [
    "BuildReport",
    "RawBuild",
    "compile_unit_findings",
    "report_path",
    "verify_build_report",
]


def report_path(staging: Path) -> Path:
    """Where a build's configure writes its report (POLYWHEEL_BUILD_INFO)."""
    return staging / "build-info.txt"


@dataclasses.dataclass(frozen=True)
class BuildReport:
    """What the configure step really did (written by Polywheel.cmake)."""

    values: Mapping[str, str]

    @classmethod
    def parse(cls, text: str) -> BuildReport:
        pairs = (line.split("=", 1) for line in text.splitlines() if "=" in line)
        return cls(dict(pairs))

    @classmethod
    def read(cls, path: Path) -> BuildReport | None:
        return cls.parse(path.read_text()) if path.is_file() else None

    def render(self) -> str:
        return "".join(f"{k}={v}\n" for k, v in self.values.items())

    def list(self, key: str) -> tuple[str, ...]:
        return tuple(v for v in self.values.get(key, "").split(";") if v)

    @property
    def cuda_enabled(self) -> bool:
        return "CUDA" in self.list("languages")

    @property
    def cuda_compiler_version(self) -> str | None:
        return self.values.get("CUDA_compiler_version") or None


@dataclasses.dataclass(frozen=True)
class RawBuild:
    """The unlabelled wheel scikit-build-core wrote, and what CMake reported."""

    wheel: Path
    report: BuildReport | None


def verify_build_report(
    spec: VariantSpec, raw: RawBuild, *, apply_flags: str
) -> tuple[VariantProperty, ...]:
    """The properties to write for this build, after checking the build honoured them."""
    label = spec.label
    with open_wheel(raw.wheel) as reader:
        pure = reader.is_pure
    if pure:
        raise BuildError(
            f"the build produced a pure-Python wheel ({raw.wheel.name}); scikit-build-core "
            "probably fell back after a CMake failure (an `if.failed` override), and a "
            "wheel without compiled code must not carry a variant label",
            label=label,
        )
    report = raw.report
    if report is None:
        raise BuildError(
            "polywheel's CMake include never ran, so the variant flags did not reach "
            "CMake; something replaced CMAKE_PROJECT_INCLUDE (SKBUILD_CMAKE_DEFINE?)",
            label=label,
            hint="set CMAKE_PROJECT_INCLUDE in [tool.scikit-build] cmake.define or "
            "CMAKE_ARGS, where polywheel chains it",
        )
    if apply_flags == "targets" and spec.flags and not report.list("flagged_targets"):
        raise BuildError(
            '`apply-flags = "targets"` but no target was passed to '
            "polywheel_apply_variant_flags(), so no code got the variant's flags",
            label=label,
            hint="call polywheel_apply_variant_flags(<target>) in CMakeLists.txt",
        )
    verified: list[VariantProperty] = []
    for ns in dict.fromkeys(p.namespace for p in spec.properties):
        namespace = known(ns)
        props = spec.of_namespace(ns)
        if namespace is None:
            verified += props
        else:
            verified += namespace.verified_properties(props, report, label=label)
    return tuple(sorted(verified))


def compile_unit_findings(
    spec: VariantSpec, units: Sequence[CompileUnit]
) -> list[tuple[AuditFinding, CompileUnit]]:
    """What every well-known namespace says of the flags each source was compiled with."""
    return [
        found
        for namespace in KNOWN.values()
        for found in namespace.check_compile_units(spec.of_namespace(namespace.name), units)
    ]
