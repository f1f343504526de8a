"""The building blocks of the settings model: each kind of value knows how to validate
itself, how to describe itself in JSON schema, and how to read in the docs.

The keys (`settings/tables.py`) are written once with these; the reader, the shipped
JSON schema and the reference tables in docs/configuration.md all come from it.
"""

from __future__ import annotations

import dataclasses
import json
import re
from collections.abc import Mapping, Sequence
from typing import Any

from polywheel.errors import ConfigError, close_matches_hint

__all__ = [
    "ArrayOf",
    "Boolean",
    "Choice",
    "Field",
    "Integer",
    "Kind",
    "MapOf",
    "String",
    "StringList",
    "StringMap",
    "StringOrList",
    "Table",
    "toml_key",
]

_BARE_KEY = re.compile(r"[A-Za-z0-9_-]+")


def toml_key(name: str) -> str:
    """`name` as one part of a dotted key, quoted the way TOML needs it: `env."A B"`."""
    return name if _BARE_KEY.fullmatch(name) else json.dumps(name, ensure_ascii=False)


class Kind:
    """One kind of TOML value. `message` replaces the default wording of the error."""

    message: str | None = None
    hint: str | None = None
    type_doc = "value"

    def validate(self, value: Any, key: str) -> Any:
        raise NotImplementedError

    def schema(self) -> dict[str, Any]:
        raise NotImplementedError

    def fail(self, default: str, key: str) -> ConfigError:
        return ConfigError(self.message or default, key=key, hint=self.hint)


@dataclasses.dataclass(frozen=True)
class Choice(Kind):
    values: tuple[str, ...]
    explain: Mapping[str, str] = dataclasses.field(default_factory=dict)

    @property
    def type_doc(self) -> str:  # type: ignore[override]
        return " or ".join(f'`"{v}"`' for v in self.values)

    def validate(self, value: Any, key: str) -> str:
        if value not in self.values:
            allowed = ", ".join(
                f"{v} ({self.explain[v]})" if v in self.explain else v for v in self.values
            )
            raise ConfigError(
                f"{value!r} is not allowed; allowed: {allowed}",
                key=key,
                hint=close_matches_hint(str(value), self.values),
            )
        return str(value)

    def schema(self) -> dict[str, Any]:
        return {"enum": list(self.values)}


@dataclasses.dataclass(frozen=True)
class Integer(Kind):
    minimum: int = 0
    message: str | None = None

    @property
    def type_doc(self) -> str:  # type: ignore[override]
        return f"integer ≥ {self.minimum}"

    def validate(self, value: Any, key: str) -> int:
        # JSON schema's "integer" takes 16.0 as well, so the reader does too.
        if isinstance(value, float) and value.is_integer():
            value = int(value)
        if not isinstance(value, int) or isinstance(value, bool) or value < self.minimum:
            raise self.fail(f"must be an integer >= {self.minimum}", key)
        return value

    def schema(self) -> dict[str, Any]:
        return {"type": "integer", "minimum": self.minimum}


@dataclasses.dataclass(frozen=True)
class Boolean(Kind):
    type_doc = "boolean"

    def validate(self, value: Any, key: str) -> bool:
        if not isinstance(value, bool):
            raise self.fail("must be true or false", key)
        return value

    def schema(self) -> dict[str, Any]:
        return {"type": "boolean"}


@dataclasses.dataclass(frozen=True)
class String(Kind):
    """A string; `pattern` is enforced here, `schema_pattern` only in the JSON schema
    (for values a later stage checks with a more helpful message, such as labels)."""

    pattern: str | None = None
    schema_pattern: str | None = None
    type_doc: str = "string"
    message: str | None = None
    hint: str | None = None

    def validate(self, value: Any, key: str) -> str:
        if not isinstance(value, str) or (
            self.pattern is not None and not re.search(self.pattern, value)
        ):
            raise self.fail("must be a string", key)
        return value

    def schema(self) -> dict[str, Any]:
        pattern = self.pattern or self.schema_pattern
        return {"type": "string", **({"pattern": pattern} if pattern else {})}


@dataclasses.dataclass(frozen=True)
class StringList(Kind):
    """A list of strings; `item_pattern` is enforced on every item, `item_schema_pattern`
    only written to the JSON schema (a later stage checks it with a better message)."""

    item_pattern: str | None = None
    item_schema_pattern: str | None = None
    non_empty: bool = False
    type_doc: str = "list of strings"
    message: str | None = None

    def validate(self, value: Any, key: str) -> tuple[str, ...]:
        if (
            not isinstance(value, list)
            or not all(isinstance(v, str) for v in value)
            or (self.non_empty and not value)
            or (
                self.item_pattern is not None
                and not all(re.fullmatch(self.item_pattern, v) for v in value)
            )
        ):
            raise self.fail("must be a list of strings", key)
        return tuple(value)

    def schema(self) -> dict[str, Any]:
        items: dict[str, Any] = {"type": "string"}
        pattern = self.item_pattern or self.item_schema_pattern
        if pattern:
            items["pattern"] = pattern
        return {"type": "array", "items": items, **({"minItems": 1} if self.non_empty else {})}


@dataclasses.dataclass(frozen=True)
class StringOrList(Kind):
    """A string or a list of strings; `;` separates entries in either (a CMake list)."""

    type_doc: str = "string or list of strings"
    message: str | None = None

    def validate(self, value: Any, key: str) -> tuple[str, ...]:
        items = [value] if isinstance(value, str) else value
        if not isinstance(items, list) or not all(isinstance(v, str) for v in items):
            raise self.fail("must be a string or a list of strings", key)
        return tuple(part for item in items for part in item.split(";"))

    def schema(self) -> dict[str, Any]:
        return {"oneOf": [{"type": "string"}, {"type": "array", "items": {"type": "string"}}]}


@dataclasses.dataclass(frozen=True)
class StringMap(Kind):
    """A table of strings; `key_pattern` (with `key_message`) restricts the names."""

    key_pattern: str | None = None
    key_message: str = "is not an allowed name"
    type_doc: str = "table of strings"
    message: str | None = None

    def validate(self, value: Any, key: str) -> dict[str, str]:
        if not isinstance(value, Mapping) or not all(isinstance(v, str) for v in value.values()):
            raise self.fail("must be a table of strings", key)
        for name, item in value.items():
            where = f"{key}.{toml_key(str(name))}"
            if self.key_pattern is not None and not re.fullmatch(self.key_pattern, str(name)):
                raise ConfigError(f"{str(name)!r} {self.key_message}", key=where)
            if "\x00" in item:
                raise ConfigError("must not contain a NUL character", key=where)
        return {str(k): v for k, v in value.items()}

    def schema(self) -> dict[str, Any]:
        schema: dict[str, Any] = {"type": "object", "additionalProperties": {"type": "string"}}
        if self.key_pattern:
            schema["propertyNames"] = {"pattern": f"^{self.key_pattern}$"}
        return schema


_MISSING: Any = object()


@dataclasses.dataclass(frozen=True)
class Field:
    """One key of a table: its kind, default and the text the docs and schema show."""

    name: str
    kind: Kind
    doc: str
    default: Any = _MISSING
    default_doc: str = "none"
    required: bool = False
    link: str | None = None  # where docs/configuration.md describes it; default: #name

    @property
    def has_default(self) -> bool:
        return self.default is not _MISSING


@dataclasses.dataclass(frozen=True)
class Table(Kind):
    """A TOML table with known keys; unknown keys are errors with a 'did you mean'."""

    fields: tuple[Field, ...]
    message: str | None = None
    # Hints for keys that are known mistakes (an older format's keys, say).
    key_hints: Mapping[str, str] = dataclasses.field(default_factory=dict)
    type_doc: str = "table"

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(f.name for f in self.fields)

    def validate(self, value: Any, key: str) -> dict[str, Any]:
        if not isinstance(value, Mapping):
            raise self.fail("must be a table", key)
        for name in value:
            if name not in self.names:
                raise ConfigError(
                    f"unknown key {name!r}; allowed keys: {', '.join(self.names)}",
                    key=f"{key}.{name}",
                    hint=self.key_hints.get(name) or close_matches_hint(name, self.names),
                )
        result: dict[str, Any] = {}
        for field in self.fields:
            where = f"{key}.{field.name}"
            if field.name in value:
                result[field.name] = field.kind.validate(value[field.name], where)
            elif field.required:
                raise field.kind.fail("is required", where)
            elif field.has_default:
                result[field.name] = field.default
        return result

    def schema(self) -> dict[str, Any]:
        properties = {}
        for field in self.fields:
            entry = {**field.kind.schema(), "description": field.doc}
            if field.has_default and isinstance(field.default, (str, int, bool)):
                entry["default"] = field.default
            properties[field.name] = entry
        schema: dict[str, Any] = {
            "type": "object",
            "additionalProperties": False,
            "properties": properties,
        }
        required = [f.name for f in self.fields if f.required]
        if required:
            schema["required"] = required
        return schema


@dataclasses.dataclass(frozen=True)
class ArrayOf(Kind):
    item: Kind
    type_doc: str = "array of tables"
    message: str | None = None

    def validate(self, value: Any, key: str) -> tuple[Any, ...]:
        if not isinstance(value, list):
            raise self.fail("must be an array", key)
        return tuple(self.item.validate(v, f"{key}[{i}]") for i, v in enumerate(value))

    def schema(self) -> dict[str, Any]:
        return {"type": "array", "items": self.item.schema()}


@dataclasses.dataclass(frozen=True)
class MapOf(Kind):
    """A table whose keys are names the maintainer picks (axes, providers, labels)."""

    value: Kind
    key_pattern: str | None = None
    non_empty: bool = False
    type_doc: str = "table of tables"
    message: str | None = None
    hint: str | None = None

    def validate(self, value: Any, key: str) -> dict[str, Any]:
        if not isinstance(value, Mapping) or (self.non_empty and not value):
            raise self.fail("must be a table", key)
        result = {}
        for name, item in value.items():
            where = f"{key}.{toml_key(str(name))}"
            if self.key_pattern is not None and not re.fullmatch(self.key_pattern, str(name)):
                raise ConfigError(f"{name!r} must match {self.key_pattern}", key=where)
            result[str(name)] = self.value.validate(item, where)
        return result

    def schema(self) -> dict[str, Any]:
        schema: dict[str, Any] = {"type": "object", "additionalProperties": self.value.schema()}
        if self.key_pattern:
            schema["propertyNames"] = {"pattern": self.key_pattern}
        if self.non_empty:
            schema["minProperties"] = 1
        return schema


def field_rows(fields: Sequence[Field]) -> list[tuple[str, str, str]]:
    """(key, type, default) rows of a reference table."""
    return [
        (f"[`{f.name}`]({f.link or '#' + f.name})", f.kind.type_doc, f.default_doc) for f in fields
    ]
