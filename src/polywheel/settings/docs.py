"""The reference tables of docs/configuration.md, generated from the settings model and
the namespace modules.

Each table sits between `<!-- generated: NAME -->` and `<!-- end generated -->`;
`python -m polywheel.settings --write` rewrites them, and a test fails when the
shipped page differs from what the model says.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence

from polywheel.namespaces import KNOWN
from polywheel.properties import VariantProperty
from polywheel.settings.fields import Field, field_rows
from polywheel.settings.tables import PROVIDER, TOOL_VARIANTS, VARIANT_ENTRY

__all__ = ["TABLES", "update_page"]

_REGION = re.compile(
    r"(<!-- generated: (?P<name>[a-z-]+) -->\n)(?P<body>.*?)(<!-- end generated -->)", re.DOTALL
)


def _table(header: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(row) + " |" for row in rows]
    return "\n".join(lines) + "\n"


def _keys(fields: Sequence[Field]) -> str:
    return _table(("Key", "Type", "Default"), field_rows(fields))


def _provider_keys(names: Sequence[str]) -> str:
    by_name = {f.name: f for f in PROVIDER.fields}
    rows = []
    for name in names:
        field = by_name[name]
        # Each provider form is defined by one key; the others are optional in it.
        optional = name not in ("requires", "static-properties")
        kind = field.kind.type_doc + (" (optional)" if optional else "")
        meaning = field.doc[0].lower() + field.doc[1:].rstrip(".")
        rows.append((f"`{name}`", kind, meaning))
    return _table(("Key", "Type", "Meaning"), rows)


def _allowed_values() -> str:
    rows = [
        (f"`{ns.name}`", doc.feature, doc.values)
        for ns in KNOWN.values()
        for doc in ns.feature_docs
    ]
    return _table(("Namespace", "Feature", "Allowed values"), rows)


def _default_providers() -> str:
    rows = []
    for ns in KNOWN.values():
        parts = []
        for key, value in ns.provider.items():
            if isinstance(value, list):
                shown = "[" + ", ".join(f'"{v}"' for v in value) + "]"
            else:
                shown = f'"{value}"'
            parts.append(f"`{key} = {shown}`")
        rows.append((f"`{ns.name}`", ", ".join(parts)))
    return _table(("Namespace", "Provider polywheel writes"), rows)


def _compiler_flags() -> str:
    rows = []
    for ns in KNOWN.values():
        if ns.flag_feature is None:
            continue
        for value in ns.flag_doc_values:
            prop = VariantProperty(ns.name, ns.flag_feature, value)
            flags = ns.compiler_flags([prop], key="docs")
            rows.append(
                (
                    f"`{prop}`",
                    " ".join(f"`{f}`" for f in flags.gnu) or "(none)",
                    " ".join(f"`{f}`" for f in flags.msvc) or "(none)",
                )
            )
    return _table(("Property", "GCC, Clang, AppleClang, IntelLLVM", "MSVC"), rows)


TABLES: dict[str, Callable[[], str]] = {
    "top-level-keys": lambda: _keys(TOOL_VARIANTS.fields),
    "variant-keys": lambda: _keys(VARIANT_ENTRY.fields),
    "allowed-values": _allowed_values,
    "default-providers": _default_providers,
    "plugin-provider-keys": lambda: _provider_keys(("requires", "plugin-api", "optional")),
    "static-provider-keys": lambda: _provider_keys(
        ("static-properties", "feature-order", "optional")
    ),
    "compiler-flags": _compiler_flags,
}


def update_page(text: str) -> str:
    """The page with every generated region rewritten from the model."""

    def replace(match: re.Match[str]) -> str:
        name = match.group("name")
        if name not in TABLES:
            raise KeyError(f"unknown generated region {name!r}")
        return match.group(1) + TABLES[name]() + match.group(4)

    return _REGION.sub(replace, text)
