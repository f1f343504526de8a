"""What a well-known namespace knows, as one interface the other stages ask.

A namespace module owns its allowed values, its default provider, the compiler flags
its properties mean, how widely a build of those properties installs, what the build
must have reported for them, and what the machine-code audit expects of them.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any, ClassVar, Literal

from polywheel.errors import ConfigError, close_matches_hint
from polywheel.properties import VariantProperty

if TYPE_CHECKING:
    from polywheel.audit.binary import BinaryAudit
    from polywheel.cmake.compile_commands import CompileUnit
    from polywheel.cmake.report import BuildReport

__all__ = [
    "AuditFinding",
    "CompilerFlags",
    "CpuNamespace",
    "FeatureDoc",
    "Namespace",
    "single_value",
]

Severity = Literal["error", "warning"]
AuditFinding = tuple[Severity, str]


@dataclasses.dataclass(frozen=True)
class CompilerFlags:
    """C/C++ flags for GCC-like compilers and for MSVC, plus the maintainer's own."""

    gnu: tuple[str, ...] = ()
    msvc: tuple[str, ...] = ()
    extra: tuple[str, ...] = ()

    def __bool__(self) -> bool:
        return bool(self.gnu or self.msvc or self.extra)

    def __add__(self, other: CompilerFlags) -> CompilerFlags:
        return CompilerFlags(self.gnu + other.gnu, self.msvc + other.msvc, self.extra + other.extra)


@dataclasses.dataclass(frozen=True)
class FeatureDoc:
    """One row of the allowed-values table in docs/configuration.md."""

    feature: str
    values: str


def single_value(props: Sequence[VariantProperty], key: str) -> str:
    """The one value of a feature a build can target (a CPU level, an ISA version)."""
    values = sorted(p.value for p in props)
    if len(values) > 1:
        raise ConfigError(
            f"'{props[0].namespace} :: {props[0].feature}' has several values {values}; "
            "a build targets exactly one",
            key=key,
        )
    return values[0]


class Namespace:
    """A namespace polywheel knows. Subclasses override what their properties mean."""

    name: ClassVar[str]
    # The provider installers ship today (uv 0.13 vendors these package names).
    provider: ClassVar[Mapping[str, Any]]
    # Accelerators outrank CPU levels in the default priorities: on a GPU machine the
    # GPU build is the bigger win, whatever the CPU level of the alternative.
    kind: ClassVar[Literal["accelerator", "cpu", "dependency"]]
    feature_docs: ClassVar[tuple[FeatureDoc, ...]] = ()
    # The feature that sets compiler flags, and the values docs/configuration.md shows.
    flag_feature: ClassVar[str | None] = None
    flag_doc_values: ClassVar[tuple[str, ...]] = ()

    def allowed_values(self, feature: str) -> tuple[str, ...] | None:
        """The closed set of values of `feature`, or None when a pattern decides."""
        return None

    def check_value(self, prop: VariantProperty, *, key: str) -> None:
        """Refuse a value no installer could select (an unknown value is never compatible)."""
        allowed = self.allowed_values(prop.feature)
        if allowed is not None and prop.value not in allowed:
            raise ConfigError(
                f"property '{prop}': {prop.value!r} is not one of {list(allowed)}",
                key=key,
                hint=close_matches_hint(prop.value, allowed),
            )

    def compiler_flags(self, props: Sequence[VariantProperty], *, key: str) -> CompilerFlags:
        """The flags a build of these properties (all of this namespace) needs."""
        del props, key
        return CompilerFlags()

    def narrowness(self, props: Sequence[VariantProperty]) -> int:
        """0 for a build that runs on every machine of this kind, higher for fewer."""
        del props
        return 0

    def verified_properties(
        self, props: Sequence[VariantProperty], report: BuildReport, *, label: str
    ) -> tuple[VariantProperty, ...]:
        """After the build: the properties to write, once the build is known to honour them.

        Raises BuildError when the build report contradicts the properties.
        """
        del report, label
        return tuple(props)

    def audit(
        self, claims: Mapping[str, Sequence[str]] | None, binaries: Sequence[BinaryAudit]
    ) -> list[AuditFinding]:
        """Compare the machine code with the claimed features (None: a plain wheel)."""
        del claims, binaries
        return []

    def check_compile_units(
        self, props: Sequence[VariantProperty], units: Sequence[CompileUnit]
    ) -> list[tuple[AuditFinding, CompileUnit]]:
        """Compare what each translation unit was compiled with against the variant
        (`props`: its properties of this namespace, maybe none)."""
        del props, units
        return []


class CpuNamespace(Namespace):
    """A CPU namespace: one feature (`flag_feature`) whose ordered `values` set the
    compiler flags, any other feature `on`. Earlier values install on more machines."""

    kind = "cpu"
    flag_feature: ClassVar[str]
    values: ClassVar[tuple[str, ...]]

    def allowed_values(self, feature: str) -> tuple[str, ...]:
        return self.values if feature == self.flag_feature else ("on",)

    def flags_for(self, value: str, *, key: str) -> CompilerFlags:
        raise NotImplementedError

    def compiler_flags(self, props: Sequence[VariantProperty], *, key: str) -> CompilerFlags:
        chosen = [p for p in props if p.feature == self.flag_feature]
        if not chosen:
            return CompilerFlags()
        return self.flags_for(single_value(chosen, key), key=key)

    def narrowness(self, props: Sequence[VariantProperty]) -> int:
        return max(
            (
                self.values.index(p.value)
                for p in props
                if p.feature == self.flag_feature and p.value in self.values
            ),
            default=0,
        )
