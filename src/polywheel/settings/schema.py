"""The JSON schema of `[tool.variants]`, generated from the settings model.

The shipped copy (`resources/tool-variants.schema.json`) is what validate-pyproject
loads; `python -m polywheel.settings --write` regenerates it, and a test fails when
the two differ.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from polywheel.settings.tables import TOOL_VARIANTS

__all__ = ["SHIPPED_SCHEMA", "generate_schema", "get_schema", "render_schema"]

SHIPPED_SCHEMA = Path(__file__).parent.parent / "resources" / "tool-variants.schema.json"


def generate_schema() -> dict[str, Any]:
    return {
        "$schema": "http://json-schema.org/draft-07/schema#",
        "$id": "https://polywheel.invalid/schema/tool-variants.json",
        "title": "polywheel [tool.variants]",
        "description": "The variant matrix polywheel builds; see docs/configuration.md.",
        **TOOL_VARIANTS.schema(),
    }


def render_schema() -> str:
    return json.dumps(generate_schema(), indent=2, ensure_ascii=False) + "\n"


def get_schema(tool_name: str = "variants") -> dict[str, Any]:
    del tool_name  # validate-pyproject passes the table name; there is only one
    schema: dict[str, Any] = json.loads(SHIPPED_SCHEMA.read_text())
    return schema
