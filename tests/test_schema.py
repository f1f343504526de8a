"""The shipped JSON schema and the reference tables are what the settings model generates,
and the schema agrees with the reader."""

from __future__ import annotations

import json
from pathlib import Path

import jsonschema
import pytest

from polywheel._compat import tomllib
from polywheel.settings.docs import update_page
from polywheel.settings.schema import render_schema

ROOT = Path(__file__).parent.parent
SCHEMA = json.loads((ROOT / "src/polywheel/resources/tool-variants.schema.json").read_text())
PYPROJECTS = sorted(
    [*ROOT.glob("examples/*/pyproject.toml"), *ROOT.glob("tests/packages/*/pyproject.toml")]
)


def test_shipped_schema_is_the_generated_one() -> None:
    shipped = (ROOT / "src/polywheel/resources/tool-variants.schema.json").read_text()
    assert shipped == render_schema(), "run: python -m polywheel.settings --write"


def test_configuration_reference_tables_are_the_generated_ones() -> None:
    page = (ROOT / "docs/configuration.md").read_text()
    assert page.count("<!-- generated: ") == 7
    assert update_page(page) == page, "run: python -m polywheel.settings --write"


def test_a_changed_table_is_noticed() -> None:
    page = (ROOT / "docs/configuration.md").read_text()
    tampered = page.replace("| `x86_64` | `level` |", "| `x86_64` | `levels` |", 1)
    assert tampered != page and update_page(tampered) == page


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
    from polywheel.matrix.expand import expand_matrix
    from polywheel.settings import read_settings

    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(table, SCHEMA)
    with pytest.raises(ConfigError):
        expand_matrix(read_settings({"tool": {"variants": table}}))
