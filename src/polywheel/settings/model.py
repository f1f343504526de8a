"""The typed settings: what the reader makes of `[tool.variants]` and `[variant]`.

Every later stage reads these records, never the raw TOML; the keys they come from are
described in `settings/tables.py`.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from typing import Any, Literal

from polywheel.properties import VariantProperty

__all__ = [
    "DEFAULT_BUILD_DIR",
    "AuditSettings",
    "AxisEntry",
    "BuildOptions",
    "DeclaredVariant",
    "ProviderDecl",
    "Settings",
    "VariantTable",
]

Format = Literal["pep850", "variantlib", "pep825"]
ApplyFlags = Literal["global", "targets"]
AuditMode = Literal["error", "warning", "off"]
CompilerCache = Literal["auto", "ccache", "off"]
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
    build_requires: tuple[str, ...] = ()
    # distribution -> "major" | "minor" | "micro" (`abi-dependencies`)
    abi_dependencies: Mapping[str, str] = dataclasses.field(default_factory=dict)
    cuda_toolkit: str | None = None  # a toolkit folder, or "build-env"
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
class AuditSettings:
    mode: AuditMode = "error"
    allow_functions: tuple[str, ...] = ()
    allow_sections: tuple[str, ...] = ()
    allow_sources: tuple[str, ...] = ()
    allow_targets: tuple[str, ...] = ()


@dataclasses.dataclass(frozen=True)
class ProviderDecl:
    """One `[variant.providers.NS]` table, as the wheels' variant.json carries it."""

    namespace: str
    table: Mapping[str, Any]


@dataclasses.dataclass(frozen=True)
class VariantTable:
    """The standard `[variant]` table, validated; the matrix completes it."""

    providers: tuple[ProviderDecl, ...] = ()
    priorities: tuple[str, ...] | None = None
    declared_variants: Mapping[str, frozenset[VariantProperty]] = dataclasses.field(
        default_factory=dict
    )


@dataclasses.dataclass(frozen=True)
class Settings:
    format: Format = "pep850"
    max_label_length: int = 16
    plain_wheel: str = "auto"
    build_dir: str = DEFAULT_BUILD_DIR
    apply_flags: ApplyFlags = "global"
    compiler_cache: CompilerCache = "auto"
    variants: tuple[DeclaredVariant, ...] = ()
    axes: tuple[tuple[str, tuple[AxisEntry, ...]], ...] = ()
    exclude: tuple[Mapping[str, str], ...] = ()
    label_template: str | None = None
    variant_table: VariantTable = VariantTable()
    audit: AuditSettings = AuditSettings()
