"""The keys of `[tool.variants]` and `[variant]`: each key's kind, default and
description, written once (`TOOL_VARIANTS`, `VARIANT_TABLE`).

The reader validates with these trees, and the JSON schema (`settings/schema.py`) and
the reference tables of docs/configuration.md (`settings/docs.py`) are generated from
them; the typed values the reader returns are in `settings/model.py`.
"""

from __future__ import annotations

from polywheel.properties import NAME_RE, VALUE_RE
from polywheel.settings.build_tables import AXIS_ENTRY, ENV_NAME_PATTERN, VARIANT_ENTRY
from polywheel.settings.fields import (
    ArrayOf,
    Boolean,
    Choice,
    Field,
    Integer,
    MapOf,
    String,
    StringList,
    Table,
)
from polywheel.settings.options import RequirementList

__all__ = [
    "AXIS_ENTRY",
    "ENV_NAME_PATTERN",
    "PROVIDER",
    "TOOL_VARIANTS",
    "VARIANT_ENTRY",
    "VARIANT_TABLE",
]

AUDIT = Table(
    (
        Field(
            "mode",
            Choice(("error", "warning", "off")),
            "What a wheel whose code does not match its variant does to the build.",
            default="error",
            default_doc='`"error"`',
        ),
        Field(
            "allow-functions",
            StringList(),
            "Glob patterns of runtime-dispatched functions the audit reports separately "
            "instead of counting.",
            default=(),
            default_doc="`[]`",
        ),
        Field(
            "allow-sections",
            StringList(),
            "Glob patterns of ELF sections holding runtime-dispatched code.",
            default=(),
            default_doc="`[]`",
        ),
        Field(
            "allow-sources",
            StringList(),
            "Glob patterns of source files (relative to the project) compiled for wider "
            "instructions on purpose, for runtime dispatch; works on stripped binaries.",
            default=(),
            default_doc="`[]`",
        ),
        Field(
            "allow-targets",
            StringList(),
            "Glob patterns of CMake targets whose code is runtime-dispatched; works on "
            "stripped binaries.",
            default=(),
            default_doc="`[]`",
        ),
    )
)

TOOL_VARIANTS = Table(
    (
        Field(
            "format",
            Choice(("pep850", "variantlib", "pep825")),
            "variant.json format: PEP 850's schema (v0.2.0, with `providers`; uv 0.13.9 and "
            "variantlib 0.2.2 read it), the same document under variantlib's own schema URL, "
            "or strict PEP 825 (schema 0.1.1, no providers).",
            default="pep850",
            default_doc='`"pep850"`',
        ),
        Field(
            "max-label-length",
            Integer(0, message="must be a non-negative integer (0 = no limit)"),
            "Longest allowed label; 0 means no limit.",
            default=16,
            default_doc="`16`",
        ),
        Field(
            "plain-wheel",
            String(type_doc='`"auto"` or a label', message="must be 'auto' or a variant label"),
            "Which variant's build also becomes the plain, non-variant wheel.",
            default="auto",
            default_doc='`"auto"`',
        ),
        Field(
            "build-dir",
            String(
                pattern=r"\{label\}",
                type_doc="string containing `{label}`",
                message="must be a path template containing '{label}', so variants never "
                "share a CMake cache",
                hint="for example 'build/{wheel_tag}/{label}'",
            ),
            "Per-variant build directory template; must contain {label}.",
            default_doc="see below",
        ),
        Field(
            "apply-flags",
            Choice(
                ("global", "targets"),
                explain={
                    "global": "every target",
                    "targets": "only targets passed to polywheel_apply_variant_flags()",
                },
            ),
            "Apply variant flags to every target, or only via polywheel_apply_variant_flags().",
            default="global",
            default_doc='`"global"`',
        ),
        Field(
            "compiler-cache",
            Choice(
                ("auto", "ccache", "off"),
                explain={
                    "auto": "ccache when it is installed or on PATH, for variants that "
                    "share compiles with another or into a kept cache",
                    "ccache": "ccache, and an error without it",
                    "off": "no compiler cache",
                },
            ),
            "Compile through ccache with one cache shared by every variant, so code that "
            "gets no variant flags is compiled once for the whole matrix.",
            default="auto",
            default_doc='`"auto"`',
        ),
        Field(
            "variant",
            ArrayOf(
                VARIANT_ENTRY, message="must be an array of tables ([[tool.variants.variant]])"
            ),
            "Explicit variants.",
            default=(),
        ),
        Field(
            "axes",
            MapOf(
                MapOf(AXIS_ENTRY, non_empty=True, message="must be a non-empty table of entries"),
                message="must be a table of axes",
            ),
            "Axes whose entries multiply into a product of variants.",
            default={},
        ),
        Field(
            "exclude",
            ArrayOf(
                MapOf(
                    String(message="must be an entry name of that axis"),
                    non_empty=True,
                    message="must be a table {axis = entry, ...}",
                ),
                type_doc="array of tables",
                message="must be a list of tables {axis = entry, ...}",
            ),
            "Combinations of axis entries to leave out of the product.",
            default=(),
        ),
        Field(
            "label-template",
            String(message="must be a string such as '{cpu}_{cuda}'"),
            "Label of a product variant, e.g. '{cpu}_{cuda}'.",
        ),
        Field(
            "audit",
            AUDIT,
            "The machine-code audit run on every wheel (docs/audit.md).",
            default={},
            default_doc='`mode = "error"`',
            link="audit.md#settings",
        ),
    )
)

_OLD_PROVIDER_KEY = (
    "`{}` belongs to the older PEP 817 format (schema v0.0.3), which variantlib 0.2.2 "
    "and uv 0.13 reject; use `requires` (+ `plugin-api`) or `static-properties` "
    "(+ `feature-order`)"
)
_AHEAD_OF_TIME_KEY = (
    "polywheel runs no provider plugins at build time, so ahead-of-time (`{}`) providers "
    "are not supported yet; list their values in `static-properties` instead"
)
PROVIDER = Table(
    (
        Field(
            "requires",
            RequirementList(
                non_empty=True,
                type_doc="non-empty list of requirement strings",
                message="must be a non-empty list of requirement strings",
            ),
            "The plugin package(s) installers install and run.",
            default_doc="non-empty list of requirement strings",
        ),
        Field(
            "plugin-api",
            String(type_doc='`"module.path:Object"`'),
            "The plugin object; only with `requires`.",
        ),
        Field(
            "optional",
            Boolean(),
            "An opt-in provider (installers use it only when asked).",
        ),
        Field(
            "static-properties",
            MapOf(
                StringList(
                    item_pattern=VALUE_RE.pattern,
                    non_empty=True,
                    message="must be a non-empty list of values matching ^[a-z0-9_.]+$",
                ),
                key_pattern=NAME_RE.pattern,
                non_empty=True,
                type_doc="table `{feature = [values, most preferred first]}`",
                message="must be a table {feature = [values, most preferred first]}",
            ),
            "The allowed values, most preferred first; polywheel checks every property of "
            "this namespace against it.",
        ),
        Field(
            "feature-order",
            StringList(type_doc="list of the static features"),
            "Feature priority; required when there are two or more static features.",
        ),
    ),
    key_hints={
        **{k: _OLD_PROVIDER_KEY.format(k) for k in ("enable-if", "install-time", "plugin-use")},
        **{k: _AHEAD_OF_TIME_KEY.format(k) for k in ("build-requires", "builtin")},
    },
)
VARIANT_TABLE = Table(
    (
        Field(
            "default-priorities",
            Table(
                (
                    Field(
                        "namespace",
                        StringList(
                            item_pattern=NAME_RE.pattern,
                            non_empty=True,
                            message="must be a non-empty list of distinct namespaces, most "
                            "preferred first",
                        ),
                        "Namespaces, most preferred first.",
                        required=True,
                    ),
                ),
                message="must be a table with exactly one key, `namespace`",
            ),
            "Namespace priorities (default: accelerators, your own namespaces, CPU levels).",
        ),
        Field(
            "providers",
            MapOf(
                PROVIDER, key_pattern=NAME_RE.pattern, message="must be a table of provider tables"
            ),
            "One provider per namespace the matrix uses.",
            default={},
        ),
        Field(
            "variants",
            MapOf(
                MapOf(
                    MapOf(StringList(message="must be a list of values")),
                    message="must be a table {namespace = {feature = [values]}}",
                ),
                message="must be a table of variant tables",
            ),
            "The variants as PEP 825 writes them; must agree with the matrix.",
            default={},
        ),
    )
)
