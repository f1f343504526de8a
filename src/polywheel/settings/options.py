"""The kinds of value of a variant's build options that need more than a type check:
CMake cache variables (`cmake-define`) and requirement strings (`dependencies`,
a provider's `requires`). Like the kinds in `settings/fields.py`, each validates,
writes its JSON schema and reads in the docs.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Mapping
from typing import Any

from packaging.requirements import InvalidRequirement, Requirement

from polywheel.errors import ConfigError, close_matches_hint
from polywheel.settings.fields import Kind, StringList, toml_key

__all__ = ["CMAKE_TYPES", "DefineMap", "RequirementList"]


@dataclasses.dataclass(frozen=True)
class RequirementList(Kind):
    """A list of PEP 508 requirement strings, each parsed with `packaging` when read (the
    JSON schema can only say "strings"); the strings are kept as written."""

    non_empty: bool = False
    type_doc: str = "list of PEP 508 requirement strings"
    message: str | None = None

    def validate(self, value: Any, key: str) -> tuple[str, ...]:
        items = StringList(non_empty=self.non_empty, message=self.message).validate(value, key)
        for i, item in enumerate(items):
            try:
                Requirement(item)
            except InvalidRequirement as exc:
                reason = str(exc).splitlines()[0] if str(exc) else "not parseable"
                raise ConfigError(
                    f"{item!r} is not a valid requirement (PEP 508): "
                    f"{reason[:1].lower()}{reason[1:]}",
                    key=f"{key}[{i}]",
                    hint="write a name, optional [extras], a version specifier and an "
                    "optional marker, e.g. \"numpy>=2; sys_platform == 'linux'\"",
                ) from None
        return items

    def schema(self) -> dict[str, Any]:
        return StringList(non_empty=self.non_empty).schema()


CMAKE_TYPES = ("BOOL", "FILEPATH", "PATH", "STRING", "INTERNAL")
# The characters CMake documents for variable references: letters, digits and /_.+-
_CMAKE_NAME = r"[A-Za-z0-9_.+/-]+"


@dataclasses.dataclass(frozen=True)
class DefineMap(Kind):
    """CMake cache variables, `NAME` or `NAME:TYPE` as after `-D`: strings as they are,
    booleans as ON/OFF, lists joined by ;."""

    type_doc: str = "table"

    def validate(self, value: Any, key: str) -> dict[str, str]:
        if not isinstance(value, Mapping):
            raise self.fail("must be a table", key)
        result = {}
        for name, item in value.items():
            where = f"{key}.{toml_key(str(name))}"
            self._name(str(name), where)
            result[str(name)] = self._value(item, where)
        return result

    @staticmethod
    def _name(name: str, key: str) -> None:
        variable, colon, type_ = name.partition(":")
        if not re.fullmatch(_CMAKE_NAME, variable):
            raise ConfigError(
                f"{name!r} is not a CMake variable name: use letters, digits and _ . + - /, "
                "optionally followed by a type (NAME:BOOL)",
                key=key,
            )
        if colon and type_ not in CMAKE_TYPES:
            raise ConfigError(
                f"{name!r}: the type after ':' must be one of {', '.join(CMAKE_TYPES)}",
                key=key,
                hint=close_matches_hint(type_.upper(), CMAKE_TYPES),
            )

    @staticmethod
    def _value(value: Any, key: str) -> str:
        if isinstance(value, bool):
            return "ON" if value else "OFF"
        if isinstance(value, float) and value.is_integer():
            return str(int(value))  # what JSON schema's "integer" accepts
        if isinstance(value, (str, int)):
            return str(value)
        if isinstance(value, list) and all(isinstance(v, str) for v in value):
            return ";".join(value)
        raise ConfigError("must be a string, a boolean or a list of strings", key=key)

    def schema(self) -> dict[str, Any]:
        value = {
            "oneOf": [
                {"type": "string"},
                {"type": "boolean"},
                {"type": "integer"},
                {"type": "array", "items": {"type": "string"}},
            ]
        }
        names = f"^{_CMAKE_NAME}(:({'|'.join(CMAKE_TYPES)}))?$"
        return {
            "type": "object",
            "propertyNames": {"pattern": names},
            "additionalProperties": value,
        }
