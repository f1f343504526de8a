"""Which files each CMake target produced, from CMake's file API (codemodel-v2).

scikit-build-core asks CMake for the codemodel on every configure; its reply maps each
target to its artifacts, which is how a binary in a wheel is traced back to the target
and the sources it was built from, even when the binary is stripped.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

__all__ = ["artifacts_by_target"]


def _load(path: Path) -> Any:
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        return None


def artifacts_by_target(build_dir: Path) -> dict[str, tuple[str, ...]]:
    """{target name: file names of its artifacts}; empty when CMake wrote no reply."""
    reply = build_dir / ".cmake" / "api" / "v1" / "reply"
    indexes = sorted(reply.glob("index-*.json"))
    index: Any = _load(indexes[-1]) if indexes else None
    try:
        codemodel = _load(reply / index["reply"]["codemodel-v2"]["jsonFile"])
        targets = codemodel["configurations"][0]["targets"]
    except (TypeError, KeyError, IndexError):
        return {}
    found: dict[str, tuple[str, ...]] = {}
    for target in targets:
        detail = _load(reply / str(target.get("jsonFile", "")))
        if not isinstance(detail, dict):
            continue
        paths = [a.get("path", "") for a in detail.get("artifacts", []) if isinstance(a, dict)]
        found[str(target.get("name"))] = tuple(Path(p).name for p in paths if p)
    return found
