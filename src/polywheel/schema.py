"""The JSON schema of `[tool.variants]`, also exposed to validate-pyproject."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

__all__ = ["get_schema"]


def get_schema(tool_name: str = "variants") -> dict[str, Any]:
    del tool_name  # validate-pyproject passes the table name; there is only one
    path = Path(__file__).parent / "resources" / "tool-variants.schema.json"
    schema: dict[str, Any] = json.loads(path.read_text())
    return schema
