"""`[tool.variants]` in pyproject.toml → a validated, typed `Settings` value."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from typing import Any, Literal

from polywheel.errors import ConfigError, close_matches_hint
from polywheel.properties import VariantProperty, parse_property

__all__ = [
    "AxisEntry",
    "BuildOptions",
    "DeclaredVariant",
    "Settings",
    "read_settings",
]

Format = Literal["variantlib", "pep825"]
ApplyFlags = Literal["global", "targets"]
FORMATS: tuple[Format, ...] = ("variantlib", "pep825")
APPLY_FLAGS: tuple[ApplyFlags, ...] = ("global", "targets")

TOP_LEVEL_KEYS = (
    "format",
    "max-label-length",
    "plain-wheel",
    "build-dir",
    "apply-flags",
    "variant",
    "axes",
    "exclude",
    "label-template",
    "audit",
)
AUDIT_KEYS = ("mode", "allow-functions", "allow-sections")
AUDIT_MODES = ("error", "warning", "off")
BUILD_OPTION_KEYS = (
    "properties",
    "cmake-define",
    "cmake-args",
    "compile-options",
    "env",
    "dependencies",
    "cuda-architectures",
    "cuda",
)
VARIANT_KEYS = ("label", *BUILD_OPTION_KEYS)
AXIS_ENTRY_KEYS = ("label", *BUILD_OPTION_KEYS)
DEFAULT_BUILD_DIR = "build/{wheel_tag}/{label}"


@dataclasses.dataclass(frozen=True)
class BuildOptions:
    """What one variant (or one axis entry) adds to the build."""

    properties: tuple[VariantProperty, ...] = ()
    cmake_define: Mapping[str, str] = dataclasses.field(default_factory=dict)
    cmake_args: tuple[str, ...] = ()
    compile_options: tuple[str, ...] = ()
    env: Mapping[str, str] = dataclasses.field(default_factory=dict)
    dependencies: tuple[str, ...] = ()
    cuda_architectures: tuple[str, ...] | None = None
    cuda: bool | None = None


@dataclasses.dataclass(frozen=True)
class DeclaredVariant:
    label: str
    options: BuildOptions
    key: str


@dataclasses.dataclass(frozen=True)
class AxisEntry:
    name: str
    label_part: str
    options: BuildOptions
    key: str


@dataclasses.dataclass(frozen=True)
class Settings:
    format: Format = "variantlib"
    max_label_length: int = 16
    plain_wheel: str = "auto"
    build_dir: str = DEFAULT_BUILD_DIR
    apply_flags: ApplyFlags = "global"
    variants: tuple[DeclaredVariant, ...] = ()
    axes: tuple[tuple[str, tuple[AxisEntry, ...]], ...] = ()
    exclude: tuple[Mapping[str, str], ...] = ()
    label_template: str | None = None
    variant_table: Mapping[str, Any] | None = None
    audit_mode: str = "error"
    audit_allow_functions: tuple[str, ...] = ()
    audit_allow_sections: tuple[str, ...] = ()


def _unknown_keys(table: Mapping[str, Any], allowed: tuple[str, ...], prefix: str) -> None:
    for name in table:
        if name not in allowed:
            raise ConfigError(
                f"unknown key {name!r}; allowed keys: {', '.join(allowed)}",
                key=f"{prefix}.{name}",
                hint=close_matches_hint(name, allowed),
            )


def _str_list(value: Any, key: str) -> tuple[str, ...]:
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise ConfigError("must be a list of strings", key=key)
    return tuple(value)


def _cuda_archs(value: Any, key: str) -> tuple[str, ...]:
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise ConfigError(
            "must be a string or a list of strings such as ['80-real', '90-real']",
            key=f"{key}.cuda-architectures",
        )
    return tuple(value)


def _define_value(value: Any, key: str) -> str:
    if isinstance(value, bool):
        return "ON" if value else "OFF"
    if isinstance(value, (str, int)):
        return str(value)
    if isinstance(value, list) and all(isinstance(v, str) for v in value):
        return ";".join(value)
    raise ConfigError("must be a string, a boolean or a list of strings", key=key)


def _str_table(value: Any, key: str) -> dict[str, str]:
    if not isinstance(value, Mapping):
        raise ConfigError("must be a table", key=key)
    return {str(k): _define_value(v, f"{key}.{k}") for k, v in value.items()}


def _read_options(table: Mapping[str, Any], key: str) -> BuildOptions:
    raw_props = _str_list(table.get("properties", []), f"{key}.properties")
    props = tuple(parse_property(p, key=f"{key}.properties[{i}]") for i, p in enumerate(raw_props))
    if len(set(props)) != len(props):
        raise ConfigError("lists the same property twice", key=f"{key}.properties")
    env = table.get("env", {})
    if not isinstance(env, Mapping) or not all(isinstance(v, str) for v in env.values()):
        raise ConfigError("must be a table of strings", key=f"{key}.env")
    cuda = table.get("cuda")
    if cuda is not None and not isinstance(cuda, bool):
        raise ConfigError("must be true or false", key=f"{key}.cuda")
    archs = table.get("cuda-architectures")
    return BuildOptions(
        properties=props,
        cmake_define=_str_table(table.get("cmake-define", {}), f"{key}.cmake-define"),
        cmake_args=_str_list(table.get("cmake-args", []), f"{key}.cmake-args"),
        compile_options=_str_list(table.get("compile-options", []), f"{key}.compile-options"),
        env=dict(env),
        dependencies=_str_list(table.get("dependencies", []), f"{key}.dependencies"),
        cuda_architectures=None
        if archs is None
        else tuple(
            a
            for item in ([archs] if isinstance(archs, str) else _cuda_archs(archs, key))
            for a in item.split(";")
        ),
        cuda=cuda,
    )


def _read_variants(raw: Any) -> tuple[DeclaredVariant, ...]:
    if raw is None:
        return ()
    if not isinstance(raw, list):
        raise ConfigError(
            "must be an array of tables ([[tool.variants.variant]])", key="tool.variants.variant"
        )
    variants = []
    for i, table in enumerate(raw):
        key = f"tool.variants.variant[{i}]"
        if not isinstance(table, Mapping):
            raise ConfigError("must be a table", key=key)
        _unknown_keys(table, VARIANT_KEYS, key)
        label = table.get("label")
        if not isinstance(label, str):
            raise ConfigError("every variant needs a `label` string", key=f"{key}.label")
        variants.append(DeclaredVariant(label, _read_options(table, key), key))
    return tuple(variants)


def _read_axes(raw: Any) -> tuple[tuple[str, tuple[AxisEntry, ...]], ...]:
    if raw is None:
        return ()
    if not isinstance(raw, Mapping):
        raise ConfigError("must be a table of axes", key="tool.variants.axes")
    axes = []
    for axis, entries in raw.items():
        akey = f"tool.variants.axes.{axis}"
        if not isinstance(entries, Mapping) or not entries:
            raise ConfigError("must be a non-empty table of entries", key=akey)
        parsed = []
        for name, table in entries.items():
            key = f"{akey}.{name}"
            if not isinstance(table, Mapping):
                raise ConfigError("must be a table", key=key)
            _unknown_keys(table, AXIS_ENTRY_KEYS, key)
            part = table.get("label", name)
            if not isinstance(part, str):
                raise ConfigError("must be a string", key=f"{key}.label")
            parsed.append(AxisEntry(name, part, _read_options(table, key), key))
        axes.append((str(axis), tuple(parsed)))
    return tuple(axes)


def _choice(value: Any, allowed: tuple[str, ...], key: str) -> Any:
    if value not in allowed:
        raise ConfigError(
            f"{value!r} is not allowed; allowed: {', '.join(allowed)}",
            key=key,
            hint=close_matches_hint(str(value), allowed),
        )
    return value


def read_settings(pyproject: Mapping[str, Any]) -> Settings:
    """Validate `[tool.variants]`; every error names the dotted key it is about."""
    tool = pyproject.get("tool", {})
    table = tool.get("variants") if isinstance(tool, Mapping) else None
    if table is None:
        table = {}
    if not isinstance(table, Mapping):
        raise ConfigError("must be a table", key="tool.variants")
    _unknown_keys(table, TOP_LEVEL_KEYS, "tool.variants")

    fmt = _choice(table.get("format", "variantlib"), FORMATS, "tool.variants.format")
    max_len = table.get("max-label-length", 16)
    if not isinstance(max_len, int) or isinstance(max_len, bool) or max_len < 0:
        raise ConfigError(
            "must be a non-negative integer (0 = no limit)", key="tool.variants.max-label-length"
        )
    plain = table.get("plain-wheel", "auto")
    if not isinstance(plain, str):
        raise ConfigError("must be 'auto' or a variant label", key="tool.variants.plain-wheel")
    apply_flags = table.get("apply-flags", "global")
    if apply_flags not in APPLY_FLAGS:
        raise ConfigError(
            f"{apply_flags!r} is not allowed; use 'global' (every target) or 'targets' "
            "(only targets passed to polywheel_apply_variant_flags())",
            key="tool.variants.apply-flags",
        )
    build_dir = table.get("build-dir")
    if build_dir is None:
        skbuild = tool.get("scikit-build", {}) if isinstance(tool, Mapping) else {}
        user_dir = skbuild.get("build-dir") if isinstance(skbuild, Mapping) else None
        # A shared build-dir (often "build/{wheel_tag}") is the same for every CPU
        # variant: a stale CMake cache would then yield a wrongly labelled wheel.
        build_dir = f"{user_dir.rstrip('/')}/{{label}}" if user_dir else DEFAULT_BUILD_DIR
    elif not isinstance(build_dir, str) or "{label}" not in build_dir:
        raise ConfigError(
            "must be a path template containing '{label}', so variants never share a CMake cache",
            key="tool.variants.build-dir",
            hint="for example 'build/{wheel_tag}/{label}'",
        )
    template = table.get("label-template")
    if template is not None and not isinstance(template, str):
        raise ConfigError(
            "must be a string such as '{cpu}_{cuda}'", key="tool.variants.label-template"
        )
    exclude_raw = table.get("exclude", [])
    if not isinstance(exclude_raw, list) or not all(
        isinstance(e, Mapping) and e and all(isinstance(v, str) for v in e.values())
        for e in exclude_raw
    ):
        raise ConfigError(
            "must be a list of tables {axis = entry, ...}", key="tool.variants.exclude"
        )
    audit = table.get("audit", {})
    if not isinstance(audit, Mapping):
        raise ConfigError("must be a table", key="tool.variants.audit")
    _unknown_keys(audit, AUDIT_KEYS, "tool.variants.audit")
    audit_mode = _choice(audit.get("mode", "error"), AUDIT_MODES, "tool.variants.audit.mode")
    variant_table = pyproject.get("variant")
    if variant_table is not None and not isinstance(variant_table, Mapping):
        raise ConfigError("must be a table", key="variant")
    return Settings(
        format=fmt,
        max_label_length=max_len,
        plain_wheel=plain,
        build_dir=build_dir,
        apply_flags=apply_flags,
        variants=_read_variants(table.get("variant")),
        axes=_read_axes(table.get("axes")),
        exclude=tuple(dict(e) for e in exclude_raw),
        label_template=template,
        variant_table=variant_table,
        audit_mode=audit_mode,
        audit_allow_functions=_str_list(
            audit.get("allow-functions", []), "tool.variants.audit.allow-functions"
        ),
        audit_allow_sections=_str_list(
            audit.get("allow-sections", []), "tool.variants.audit.allow-sections"
        ),
    )
