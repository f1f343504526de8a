"""pyproject.toml's `[tool.variants]` and `[variant]` → one validated, typed `Settings`.

The key-by-key checks come from the model (`settings/model.py`); what is checked here
are the rules between keys, which no single field can express.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from polywheel.errors import ConfigError
from polywheel.properties import VariantProperty, parse_property
from polywheel.settings.model import (
    DEFAULT_BUILD_DIR,
    AuditSettings,
    AxisEntry,
    BuildOptions,
    DeclaredVariant,
    ProviderDecl,
    Settings,
    VariantTable,
)
from polywheel.settings.tables import TOOL_VARIANTS, VARIANT_TABLE

__all__ = ["read_settings", "read_variant_table"]

_PLUGIN_API_RE = re.compile(r"^[A-Za-z_][\w.]*(:[A-Za-z_][\w.]*)?$")


def _options(table: Mapping[str, Any], key: str) -> BuildOptions:
    props = tuple(
        parse_property(p, key=f"{key}.properties[{i}]") for i, p in enumerate(table["properties"])
    )
    if len(set(props)) != len(props):
        raise ConfigError("lists the same property twice", key=f"{key}.properties")
    return BuildOptions(
        properties=props,
        cmake_define=table["cmake-define"],
        cmake_args=table["cmake-args"],
        compile_options=table["compile-options"],
        env=table["env"],
        dependencies=table["dependencies"],
        build_requires=table["build-requires"],
        abi_dependencies=table["abi-dependencies"],
        cuda_toolkit=table.get("cuda-toolkit"),
        cuda_architectures=table.get("cuda-architectures"),
        cuda=table.get("cuda"),
    )


def _provider(namespace: str, table: Mapping[str, Any]) -> ProviderDecl:
    key = f"variant.providers.{namespace}"
    requires = table.get("requires")
    static = table.get("static-properties")
    if (requires is None) == (static is None):
        raise ConfigError(
            "a provider needs exactly one of `requires` (an installable plugin) or "
            "`static-properties` (a fixed, ordered list of values)",
            key=key,
        )
    api = table.get("plugin-api")
    if api is not None:
        if requires is None:
            raise ConfigError("`plugin-api` needs `requires`", key=f"{key}.plugin-api")
        if not _PLUGIN_API_RE.fullmatch(api):
            raise ConfigError(
                f"{api!r} is not an object reference like 'module.path:Object'",
                key=f"{key}.plugin-api",
            )
    order = table.get("feature-order")
    if static is None:
        if order is not None:
            raise ConfigError(
                "`feature-order` is only for `static-properties` providers",
                key=f"{key}.feature-order",
            )
    elif len(static) > 1 and order is None:
        raise ConfigError(
            "a provider with several static features needs `feature-order`",
            key=f"{key}.feature-order",
        )
    elif order is not None and sorted(order) != sorted(static):
        raise ConfigError(
            f"must list exactly the static features {sorted(static)}",
            key=f"{key}.feature-order",
        )
    # variant.json carries the table as TOML wrote it: lists, not the model's tuples.
    plain = {name: list(v) if isinstance(v, tuple) else v for name, v in table.items()}
    if static is not None:
        plain["static-properties"] = {f: list(v) for f, v in static.items()}
    return ProviderDecl(namespace, plain)


def read_variant_table(raw: Any) -> VariantTable:
    """The standard `[variant]` table: structure here, its fit with the matrix later."""
    table = VARIANT_TABLE.validate({} if raw is None else raw, "variant")
    providers = tuple(_provider(ns, t) for ns, t in table["providers"].items())
    priorities = None
    if "default-priorities" in table:
        names = table["default-priorities"]["namespace"]
        if len(set(names)) != len(names):
            raise ConfigError(
                "must be a non-empty list of distinct namespaces, most preferred first",
                key="variant.default-priorities.namespace",
            )
        priorities = tuple(names)
    declared = {
        label: frozenset(
            VariantProperty(ns, feature, value)
            for ns, features in tree.items()
            for feature, values in features.items()
            for value in values
        )
        for label, tree in table["variants"].items()
    }
    return VariantTable(providers, priorities, declared)


def read_settings(pyproject: Mapping[str, Any]) -> Settings:
    """Validate `[tool.variants]` and `[variant]`; every error names its dotted key."""
    tool = pyproject.get("tool", {})
    raw = tool.get("variants") if isinstance(tool, Mapping) else None
    table = TOOL_VARIANTS.validate({} if raw is None else raw, "tool.variants")
    build_dir = table.get("build-dir")
    if build_dir is None:
        skbuild = tool.get("scikit-build", {}) if isinstance(tool, Mapping) else {}
        user_dir = skbuild.get("build-dir") if isinstance(skbuild, Mapping) else None
        # A shared build-dir (often "build/{wheel_tag}") is the same for every CPU
        # variant: a stale CMake cache would then yield a wrongly labelled wheel.
        build_dir = f"{user_dir.rstrip('/')}/{{label}}" if user_dir else DEFAULT_BUILD_DIR
    variants = tuple(
        DeclaredVariant(v["label"], _options(v, key), key)
        for key, v in ((f"tool.variants.variant[{i}]", v) for i, v in enumerate(table["variant"]))
    )
    axes = tuple(
        (
            axis,
            tuple(
                AxisEntry(
                    name,
                    entry.get("label", name),
                    _options(entry, f"tool.variants.axes.{axis}.{name}"),
                    f"tool.variants.axes.{axis}.{name}",
                )
                for name, entry in entries.items()
            ),
        )
        for axis, entries in table["axes"].items()
    )
    audit = table["audit"]
    return Settings(
        format=table["format"],
        max_label_length=table["max-label-length"],
        plain_wheel=table["plain-wheel"],
        build_dir=build_dir,
        apply_flags=table["apply-flags"],
        compiler_cache=table["compiler-cache"],
        variants=variants,
        axes=axes,
        exclude=table["exclude"],
        label_template=table.get("label-template"),
        variant_table=read_variant_table(pyproject.get("variant")),
        audit=AuditSettings(
            mode=audit.get("mode", "error"),
            allow_functions=audit.get("allow-functions", ()),
            allow_sections=audit.get("allow-sections", ()),
            allow_sources=audit.get("allow-sources", ()),
            allow_targets=audit.get("allow-targets", ()),
        ),
    )
