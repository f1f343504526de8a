"""The `[variant]` table completed for the matrix: providers and namespace priorities.

polywheel fills in the providers that installers ship today for the well-known
namespaces, so a maintainer only declares `[variant]` for namespaces of their own.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Mapping
from typing import Any

from polywheel.errors import ConfigError, close_matches_hint
from polywheel.matrix.spec import VariantMetadata
from polywheel.namespaces import KNOWN, known
from polywheel.properties import VariantProperty
from polywheel.settings.model import VariantTable

__all__ = ["check_property_value", "resolve_variant_metadata"]


def _default_order(used: Iterable[str]) -> tuple[str, ...]:
    """Accelerators first, then the maintainer's own namespaces, CPU namespaces last."""
    ordered = list(dict.fromkeys(used))
    known_order = list(KNOWN)

    def key(ns: str) -> tuple[int, int]:
        namespace = known(ns)
        if namespace is None:
            return (1, ordered.index(ns))
        group = 0 if namespace.kind == "accelerator" else 2
        return (group, known_order.index(ns))

    return tuple(sorted(ordered, key=key))


def _known_provider(ns: str, if_unknown: ConfigError) -> dict[str, Any]:
    """The provider polywheel fills in for a well-known namespace; `if_unknown` otherwise."""
    namespace = known(ns)
    if namespace is None:
        raise if_unknown
    return {k: list(v) if isinstance(v, list) else v for k, v in namespace.provider.items()}


def resolve_variant_metadata(
    table: VariantTable, used_namespaces: Collection[str]
) -> VariantMetadata:
    """Fill in well-known providers and check that every used namespace has one."""
    declared = {p.namespace: p.table for p in table.providers}
    providers: dict[str, Mapping[str, Any]] = dict(declared)
    for ns in used_namespaces:
        if ns not in providers:
            providers[ns] = _known_provider(
                ns,
                ConfigError(
                    f"namespace {ns!r} is used by the matrix but has no provider",
                    key=f"variant.providers.{ns}",
                    hint=f"declare [variant.providers.{ns}] with `requires` or "
                    "`static-properties`; polywheel fills in providers only for "
                    + ", ".join(sorted(KNOWN)),
                ),
            )
    if table.priorities is None:
        return VariantMetadata(
            _default_order([*declared, *used_namespaces]), providers, table.declared_variants
        )
    missing = [ns for ns in providers if ns not in table.priorities]
    if missing:
        raise ConfigError(
            f"namespaces {missing} have providers but are missing from the list; "
            "installers require the list to name exactly the provider namespaces",
            key="variant.default-priorities.namespace",
        )
    for ns in table.priorities:
        if ns not in providers:
            providers[ns] = _known_provider(
                ns,
                ConfigError(
                    f"namespace {ns!r} is listed but has no provider",
                    key="variant.default-priorities.namespace",
                    hint=f"declare [variant.providers.{ns}]",
                ),
            )
    return VariantMetadata(table.priorities, providers, table.declared_variants)


def check_property_value(
    prop: VariantProperty, providers: Mapping[str, Mapping[str, Any]], *, key: str
) -> None:
    """Reject values no installer could ever select (an unknown value is never compatible)."""
    provider = providers.get(prop.namespace, {})
    static = provider.get("static-properties")
    if static is not None:
        allowed = static.get(prop.feature)
        if allowed is None:
            raise ConfigError(
                f"property '{prop}': namespace {prop.namespace!r} has no feature "
                f"{prop.feature!r}; its static features are {sorted(static)}",
                key=key,
                hint=close_matches_hint(prop.feature, static),
            )
        if prop.value not in allowed:
            raise ConfigError(
                f"property '{prop}': {prop.value!r} is not one of {allowed} "
                f"(variant.providers.{prop.namespace}.static-properties.{prop.feature})",
                key=key,
            )
        return
    namespace = known(prop.namespace)
    if namespace is None or provider.get("requires") != namespace.provider.get("requires"):
        return  # a provider of the maintainer's own: its plugin is the judge
    namespace.check_value(prop, key=key)
