"""The worker side of `polywheel build`: one raw build in a pool process.

Workers are long-lived processes of a spawn pool, so scikit-build-core and polywheel
are imported once per worker, not once per variant. Each build's output, Python's and
CMake's alike, goes to the variant's log file, which the parent follows for progress.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Mapping
from pathlib import Path

from polywheel.errors import BuildError, PolywheelError

__all__ = ["build_in_worker", "warm_up"]


def warm_up() -> None:
    """Pool initializer: pay the heavy imports before the first build arrives."""
    import scikit_build_core.build.wheel  # noqa: F401

    import polywheel.stage  # noqa: F401


def _build(
    root: Path, label: str, staging: Path, jobs: int, config: Mapping[str, str | list[str]]
) -> dict[str, str]:
    from polywheel.project import load_project
    from polywheel.stage import build_raw_wheel

    try:
        project = load_project(root)
        spec = project.matrix.get(label) if label else None
        raw = build_raw_wheel(project, spec, staging, config_settings=config, jobs=jobs)
    except PolywheelError as exc:
        return {"error": exc.reason if isinstance(exc, BuildError) else str(exc)}
    return {"wheel": str(raw.wheel), "info": str(staging / "build-info.txt")}


def build_in_worker(
    root: str, label: str, staging: str, jobs: int, config: dict[str, str | list[str]], log: str
) -> dict[str, str]:
    """Build one variant (label "" = the plain build) with stdout/stderr sent to `log`."""
    sys.stdout.flush()
    sys.stderr.flush()
    saved = (os.dup(1), os.dup(2))
    try:
        with Path(log).open("w") as out:
            os.dup2(out.fileno(), 1)
            os.dup2(out.fileno(), 2)
            try:
                return _build(Path(root), label, Path(staging), jobs, config)
            finally:
                sys.stdout.flush()
                sys.stderr.flush()
    finally:
        os.dup2(saved[0], 1)
        os.dup2(saved[1], 2)
        os.close(saved[0])
        os.close(saved[1])
