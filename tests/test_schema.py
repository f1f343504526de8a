"""The shipped JSON schema for [tool.variants] agrees with the reader."""

from __future__ import annotations

import json
from pathlib import Path

import jsonschema
import pytest

from polywheel._compat import tomllib
from polywheel.settings import AXIS_ENTRY_KEYS, TOP_LEVEL_KEYS, VARIANT_KEYS

ROOT = Path(__file__).parent.parent
SCHEMA = json.loads((ROOT / "src/polywheel/resources/tool-variants.schema.json").read_text())
PYPROJECTS = sorted(
    [*ROOT.glob("examples/*/pyproject.toml"), *ROOT.glob("tests/packages/*/pyproject.toml")]
)


def test_schema_keys_match_the_reader() -> None:
    assert sorted(SCHEMA["properties"]) == sorted(TOP_LEVEL_KEYS)
    assert sorted(SCHEMA["properties"]["variant"]["items"]["properties"]) == sorted(VARIANT_KEYS)
    entry = SCHEMA["properties"]["axes"]["additionalProperties"]["additionalProperties"]
    assert sorted(entry["properties"]) == sorted(AXIS_ENTRY_KEYS)


@pytest.mark.parametrize("path", PYPROJECTS, ids=lambda p: p.parent.name)
def test_every_shipped_pyproject_validates(path: Path) -> None:
    table = tomllib.loads(path.read_text()).get("tool", {}).get("variants", {})
    jsonschema.validate(table, SCHEMA)


@pytest.mark.parametrize(
    "table",
    [
        {"variant": [{"label": "X", "properties": ["x86_64 :: level :: v3"]}]},
        {"variant": [{"label": "a", "propertis": []}]},
        {"format": "pep817"},
        {"build-dir": "build/{wheel_tag}"},
        {"variant": [{"label": "a", "properties": ["x86_64::level"]}]},
    ],
)
def test_schema_rejects_what_the_reader_rejects(table: dict[str, object]) -> None:
    from polywheel.errors import ConfigError
    from polywheel.matrix import expand_matrix
    from polywheel.settings import read_settings

    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(table, SCHEMA)
    with pytest.raises(ConfigError):
        expand_matrix(read_settings({"tool": {"variants": table}}))
