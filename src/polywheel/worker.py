"""The worker side of `polywheel build`: one raw build, reported on stdout as JSON.

Kept apart from the orchestrator so that a worker imports only what it runs.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path

from polywheel.errors import BuildError, PolywheelError

__all__ = ["RESULT_PREFIX", "run_worker"]

RESULT_PREFIX = "POLYWHEEL-RESULT "


def run_worker(
    root: Path, label: str, staging: Path, jobs: int, config: Mapping[str, str | list[str]]
) -> int:
    from polywheel.project import load_project
    from polywheel.stage import build_raw_wheel

    try:
        project = load_project(root)
        spec = project.matrix.get(label) if label else None
        raw = build_raw_wheel(project, spec, staging, config_settings=config, jobs=jobs)
    except PolywheelError as exc:
        reason = exc.reason if isinstance(exc, BuildError) else str(exc)
        print(RESULT_PREFIX + json.dumps({"error": reason}), flush=True)
        return 1
    info = str(staging / "build-info.txt")
    print(RESULT_PREFIX + json.dumps({"wheel": str(raw.wheel), "info": info}), flush=True)
    return 0
