"""`abi_dependency :: torch :: 2.9`: which release of a dependency a wheel was built against.

PEP 850's ABI Dependency provider (carried over from PEP 817): the feature is the
normalised name of the dependency (`-` written as `_`), the value a release of one to
three components, matched like the specifier `=={value}.*` against the dependency's
version where the wheel is installed. Several values are alternatives. Installers that
do not implement it treat the wheel as incompatible, so a release using it needs a
plain wheel (uv 0.13.9 parses the provider but skips it: see docs/howto-abi.md).

The provider is built into installers (`{"builtin": "abi_dependency"}`, the form uv
0.13.8+ and variantlib 0.2.2 read), so nothing is installed to evaluate it. A variant
takes its value from the version really present in its build environment, and its
wheel requires that release range at run time, so an installer without variant
support still installs a matching dependency.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import ClassVar

from packaging.utils import canonicalize_name
from packaging.version import InvalidVersion, Version

from polywheel.errors import BuildError, ConfigError
from polywheel.namespaces.base import FeatureDoc, Namespace
from polywheel.properties import VariantProperty

__all__ = [
    "ABI_DEPENDENCY",
    "AbiDependency",
    "abi_property",
    "feature_name",
    "installed_abi_properties",
    "runtime_requirement",
]

ABI_DEPENDENCY = "abi_dependency"
_VALUE_RE = re.compile(r"(0|[1-9][0-9]*)(\.(0|[1-9][0-9]*)){0,2}")


def feature_name(distribution: str) -> str:
    """The feature for a dependency: its normalised name, with `_` for `-` (uv checks it)."""
    return str(canonicalize_name(distribution)).replace("-", "_")


def abi_property(distribution: str, version: str, components: int, *, key: str) -> VariantProperty:
    """The property of a build against `distribution` `version`, keeping `components`
    release components (1: `2`, ABI per major release; 2: `2.9`; 3: `2.9.1`)."""
    if components not in (1, 2, 3):
        raise ConfigError(
            f"{components!r} release components: the ABI of {distribution!r} can follow "
            "its major (1), minor (2) or micro (3) release",
            key=key,
        )
    try:
        parsed = Version(version)
    except InvalidVersion:
        raise ConfigError(
            f"{distribution} {version!r} in the build environment is not a version", key=key
        ) from None
    if parsed.epoch:
        raise ConfigError(
            f"{distribution} {version}: versions with an epoch cannot be described by "
            "abi_dependency (PEP 850)",
            key=key,
        )
    release = (*parsed.release, 0, 0)[:components]
    value = ".".join(str(part) for part in release)
    return VariantProperty(ABI_DEPENDENCY, feature_name(distribution), value)


_COMPONENTS = {"major": 1, "minor": 2, "micro": 3}


def installed_abi_properties(
    dependencies: Mapping[str, str], *, label: str, key: str
) -> tuple[VariantProperty, ...]:
    """The properties of a build tied to `dependencies` ({name: precision}), from the
    versions installed where this process runs: the variant's build environment (the
    build workers and the PEP 517 hooks run in it)."""
    import importlib.metadata  # 20 ms to import: only where the namespace is used

    found = []
    for name, precision in sorted(dependencies.items()):
        try:
            version = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            raise BuildError(
                f"`{key}.abi-dependencies` names {name!r}, which is not installed in the "
                "build environment",
                label=label,
                hint=f"add a requirement on {name} to the variant's build-requires (or to "
                "[build-system] requires)",
            ) from None
        found.append(abi_property(name, version, _COMPONENTS[precision], key=key))
    return tuple(found)


def runtime_requirement(prop: VariantProperty) -> str:
    """What the wheel requires at run time: the release range its property names."""
    return f"{prop.feature}=={prop.value}.*"


class AbiDependency(Namespace):
    name = ABI_DEPENDENCY
    provider: ClassVar[dict[str, str]] = {"builtin": ABI_DEPENDENCY}
    # The maintainer's other namespaces say where code runs; this one only says what it
    # links against, so it is ranked after them.
    kind = "dependency"
    feature_docs = (
        FeatureDoc(
            "the dependency's normalised name (`torch`, `my_lib`)",
            "the release it was built against, one to three components (`2`, `2.9`, "
            "`2.9.1`), matched as `=={value}.*`",
        ),
    )

    def check_value(self, prop: VariantProperty, *, key: str) -> None:
        if prop.feature != feature_name(prop.feature):
            raise ConfigError(
                f"property '{prop}': the feature must be the normalised distribution "
                f"name {feature_name(prop.feature)!r}",
                key=key,
            )
        if not _VALUE_RE.fullmatch(prop.value):
            raise ConfigError(
                f"property '{prop}': {prop.value!r} is not a release of one to three "
                "components such as '2', '2.9' or '2.9.1'",
                key=key,
            )

    def narrowness(self, props: Sequence[VariantProperty]) -> int:
        return len(props)
