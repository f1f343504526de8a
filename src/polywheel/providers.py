"""The standard `[variant]` table: providers and namespace priorities.

polywheel fills in the providers that installers ship today for the well-known
namespaces, so a maintainer only declares `[variant]` for namespaces of their own.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Collection, Iterable, Mapping
from typing import Any

from polywheel.errors import ConfigError, close_matches_hint
from polywheel.flags import SM_ARCH_RE
from polywheel.properties import NAME_RE, VariantProperty

__all__ = [
    "KNOWN_PROVIDERS",
    "VariantMetadata",
    "check_property_values",
    "resolve_variant_metadata",
]

# Package names are the ones uv 0.13 vendors; a provider it does not know is skipped and
# every wheel of that namespace becomes unselectable (see docs/configuration.md).
KNOWN_PROVIDERS: Mapping[str, Mapping[str, Any]] = {
    "nvidia": {
        "requires": ["nvidia-variant-provider"],
        "plugin-api": "nvidia_variant_provider.plugin:NvidiaVariantPlugin",
    },
    "x86_64": {"requires": ["x86-64-variant-provider"]},
    "aarch64": {"requires": ["aarch64-variant-provider"]},
}

# Accelerators outrank CPU levels by default: on a GPU machine the GPU build is the
# bigger win, whatever the CPU level of the alternative.
_ACCELERATOR_NAMESPACES = ("nvidia", "amd", "intel", "ascend", "tpu")
_CPU_NAMESPACES = ("x86_64", "aarch64")

_PROVIDER_KEYS = (
    "requires",
    "static-properties",
    "feature-order",
    "optional",
    "plugin-api",
)
_PLUGIN_API_RE = re.compile(r"^[A-Za-z_][\w.]*(:[A-Za-z_][\w.]*)?$")

X86_64_LEVELS = ("v1", "v2", "v3", "v4")
AARCH64_VERSIONS = (
    "8a", "8.1a", "8.2a", "8.3a", "8.4a", "8.5a", "8.6a", "8.7a", "8.8a", "8.9a",
    "9.0a", "9.1a", "9.2a", "9.3a", "9.4a", "9.5a",
)  # fmt: skip
_CUDA_VERSION_RE = re.compile(r"^[1-9][0-9]*(\.[0-9]+)?$")


@dataclasses.dataclass(frozen=True)
class VariantMetadata:
    """What every wheel of the release shares: namespace priorities and providers."""

    namespaces: tuple[str, ...]
    providers: Mapping[str, Mapping[str, Any]]
    declared_variants: Mapping[str, frozenset[VariantProperty]]


def _default_order(used: Iterable[str]) -> tuple[str, ...]:
    ordered = list(dict.fromkeys(used))
    rank = {ns: i for i, ns in enumerate(_ACCELERATOR_NAMESPACES)}
    cpu_rank = {ns: i for i, ns in enumerate(_CPU_NAMESPACES)}

    def key(ns: str) -> tuple[int, int]:
        if ns in rank:
            return (0, rank[ns])
        if ns in cpu_rank:
            return (2, cpu_rank[ns])
        return (1, ordered.index(ns))

    return tuple(sorted(ordered, key=key))


def _check_provider(ns: str, table: Any) -> dict[str, Any]:
    key = f"variant.providers.{ns}"
    if not NAME_RE.match(ns):
        raise ConfigError(f"namespace {ns!r} must match {NAME_RE.pattern}", key=key)
    if not isinstance(table, Mapping):
        raise ConfigError("must be a table", key=key)
    for name in table:
        if name not in _PROVIDER_KEYS:
            hint = close_matches_hint(name, _PROVIDER_KEYS)
            if name in ("enable-if", "install-time", "plugin-use"):
                hint = (
                    f"`{name}` belongs to the older PEP 817 format (schema v0.0.3), which "
                    "variantlib 0.2.2 and uv 0.13 reject; use `requires` (+ `plugin-api`) "
                    "or `static-properties` (+ `feature-order`)"
                )
            elif name in ("build-requires", "builtin"):
                hint = (
                    "polywheel runs no provider plugins at build time, so ahead-of-time "
                    f"(`{name}`) providers are not supported yet; list their values in "
                    "`static-properties` instead"
                )
            raise ConfigError(
                f"unknown key {name!r}; allowed: {', '.join(_PROVIDER_KEYS)}",
                key=f"{key}.{name}",
                hint=hint,
            )
    requires = table.get("requires")
    static = table.get("static-properties")
    if (requires is None) == (static is None):
        raise ConfigError(
            "a provider needs exactly one of `requires` (an installable plugin) or "
            "`static-properties` (a fixed, ordered list of values)",
            key=key,
        )
    if requires is not None and (
        not isinstance(requires, list)
        or not requires
        or not all(isinstance(r, str) and r for r in requires)
    ):
        raise ConfigError("must be a non-empty list of requirement strings", key=f"{key}.requires")
    api = table.get("plugin-api")
    if api is not None:
        if requires is None:
            raise ConfigError("`plugin-api` needs `requires`", key=f"{key}.plugin-api")
        if not isinstance(api, str) or not _PLUGIN_API_RE.match(api):
            raise ConfigError(
                f"{api!r} is not an object reference like 'module.path:Object'",
                key=f"{key}.plugin-api",
            )
    if "optional" in table and not isinstance(table["optional"], bool):
        raise ConfigError("must be true or false", key=f"{key}.optional")
    if static is not None:
        if not isinstance(static, Mapping) or not static:
            raise ConfigError(
                "must be a table {feature = [values, most preferred first]}",
                key=f"{key}.static-properties",
            )
        for feature, values in static.items():
            fkey = f"{key}.static-properties.{feature}"
            if not NAME_RE.match(feature):
                raise ConfigError(f"feature name must match {NAME_RE.pattern}", key=fkey)
            if (
                not isinstance(values, list)
                or not values
                or not all(isinstance(v, str) and re.match(r"^[a-z0-9_.]+$", v) for v in values)
            ):
                raise ConfigError(
                    "must be a non-empty list of values matching ^[a-z0-9_.]+$", key=fkey
                )
        order = table.get("feature-order")
        if len(static) > 1 and order is None:
            raise ConfigError(
                "a provider with several static features needs `feature-order`",
                key=f"{key}.feature-order",
            )
        if order is not None and (not isinstance(order, list) or sorted(order) != sorted(static)):
            raise ConfigError(
                f"must list exactly the static features {sorted(static)}",
                key=f"{key}.feature-order",
            )
    elif "feature-order" in table:
        raise ConfigError(
            "`feature-order` is only for `static-properties` providers", key=f"{key}.feature-order"
        )
    return dict(table)


def resolve_variant_metadata(
    variant_table: Mapping[str, Any] | None, used_namespaces: Collection[str]
) -> VariantMetadata:
    """Read `[variant]`, fill in well-known providers and check every used namespace."""
    table = dict(variant_table or {})
    for name in table:
        if name not in ("default-priorities", "providers", "variants"):
            raise ConfigError(
                f"unknown key {name!r}; allowed: default-priorities, providers, variants",
                key=f"variant.{name}",
                hint=close_matches_hint(name, ("default-priorities", "providers", "variants")),
            )
    declared = table.get("providers", {})
    if not isinstance(declared, Mapping):
        raise ConfigError("must be a table of provider tables", key="variant.providers")
    providers = {ns: _check_provider(ns, t) for ns, t in declared.items()}
    for ns in used_namespaces:
        if ns not in providers:
            if ns not in KNOWN_PROVIDERS:
                raise ConfigError(
                    f"namespace {ns!r} is used by the matrix but has no provider",
                    key=f"variant.providers.{ns}",
                    hint=f"declare [variant.providers.{ns}] with `requires` or "
                    "`static-properties`; polywheel fills in providers only for "
                    + ", ".join(sorted(KNOWN_PROVIDERS)),
                )
            providers[ns] = dict(KNOWN_PROVIDERS[ns])

    priorities = table.get("default-priorities")
    if priorities is None:
        namespaces = _default_order([*declared, *used_namespaces])
    else:
        if not isinstance(priorities, Mapping) or set(priorities) != {"namespace"}:
            raise ConfigError(
                "must be a table with exactly one key, `namespace`",
                key="variant.default-priorities",
            )
        raw = priorities["namespace"]
        if (
            not isinstance(raw, list)
            or not raw
            or not all(isinstance(n, str) and NAME_RE.match(n) for n in raw)
            or len(set(raw)) != len(raw)
        ):
            raise ConfigError(
                "must be a non-empty list of distinct namespaces, most preferred first",
                key="variant.default-priorities.namespace",
            )
        namespaces = tuple(raw)
        missing = [ns for ns in providers if ns not in namespaces]
        if missing:
            raise ConfigError(
                f"namespaces {missing} have providers but are missing from the list; "
                "installers require the list to name exactly the provider namespaces",
                key="variant.default-priorities.namespace",
            )
        for ns in namespaces:
            if ns not in providers:
                if ns not in KNOWN_PROVIDERS:
                    raise ConfigError(
                        f"namespace {ns!r} is listed but has no provider",
                        key="variant.default-priorities.namespace",
                        hint=f"declare [variant.providers.{ns}]",
                    )
                providers[ns] = dict(KNOWN_PROVIDERS[ns])
    if not namespaces:
        namespaces = ()
    declared_variants = _read_declared_variants(table.get("variants"))
    return VariantMetadata(namespaces, providers, declared_variants)


def _read_declared_variants(raw: Any) -> dict[str, frozenset[VariantProperty]]:
    if raw is None:
        return {}
    if not isinstance(raw, Mapping):
        raise ConfigError("must be a table of variant tables", key="variant.variants")
    result: dict[str, frozenset[VariantProperty]] = {}
    for label, tree in raw.items():
        key = f"variant.variants.{label}"
        props: set[VariantProperty] = set()
        if not isinstance(tree, Mapping):
            raise ConfigError("must be a table {namespace = {feature = [values]}}", key=key)
        for ns, features in tree.items():
            if not isinstance(features, Mapping):
                raise ConfigError("must be a table {feature = [values]}", key=f"{key}.{ns}")
            for feature, values in features.items():
                if not isinstance(values, list) or not all(isinstance(v, str) for v in values):
                    raise ConfigError("must be a list of values", key=f"{key}.{ns}.{feature}")
                props.update(VariantProperty(ns, feature, v) for v in values)
        result[label] = frozenset(props)
    return result


def check_property_values(
    prop: VariantProperty, providers: Mapping[str, Mapping[str, Any]], *, key: str
) -> None:
    """Reject values no installer could ever select (an unknown value is never compatible)."""
    ns, feature, value = prop.namespace, prop.feature, prop.value
    provider = providers.get(ns, {})
    static = provider.get("static-properties")
    if static is not None:
        allowed = static.get(feature)
        if allowed is None:
            raise ConfigError(
                f"property '{prop}': namespace {ns!r} has no feature {feature!r}; its static "
                f"features are {sorted(static)}",
                key=key,
                hint=close_matches_hint(feature, static),
            )
        if value not in allowed:
            raise ConfigError(
                f"property '{prop}': {value!r} is not one of {allowed} "
                f"(variant.providers.{ns}.static-properties.{feature})",
                key=key,
            )
        return
    if provider.get("requires") != KNOWN_PROVIDERS.get(ns, {}).get("requires"):
        return  # a provider of the maintainer's own: its plugin is the judge
    allowed_values: tuple[str, ...] | None = None
    pattern: re.Pattern[str] | None = None
    if ns == "x86_64":
        allowed_values = X86_64_LEVELS if feature == "level" else ("on",)
    elif ns == "aarch64":
        allowed_values = AARCH64_VERSIONS if feature == "version" else ("on",)
    elif ns == "nvidia":
        if feature == "sm_arch":
            pattern = SM_ARCH_RE
        elif feature in ("cuda_version_lower_bound", "cuda_version_upper_bound"):
            pattern = _CUDA_VERSION_RE
        else:
            raise ConfigError(
                f"property '{prop}': the nvidia provider knows the features sm_arch, "
                "cuda_version_lower_bound and cuda_version_upper_bound",
                key=key,
                hint=close_matches_hint(
                    feature, ("sm_arch", "cuda_version_lower_bound", "cuda_version_upper_bound")
                ),
            )
    if allowed_values is not None and value not in allowed_values:
        raise ConfigError(
            f"property '{prop}': {value!r} is not one of {list(allowed_values)}",
            key=key,
            hint=close_matches_hint(value, allowed_values),
        )
    if pattern is not None and not pattern.match(value):
        example = "'90_real' or '90_virtual'" if feature == "sm_arch" else "'12.8'"
        raise ConfigError(
            f"property '{prop}': {value!r} is not a valid {feature} value, e.g. {example}",
            key=key,
        )
