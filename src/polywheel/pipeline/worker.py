"""The worker side of `polywheel build`: one `build_variant` call in a pool process.

Workers are long-lived processes of a spawn pool (pipeline/warm.py), so
scikit-build-core and polywheel are imported once per worker, not once per variant.
Each build's output, Python's and CMake's alike, goes to the variant's log file, which
the parent follows for progress.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

from polywheel.errors import PolywheelError
from polywheel.pipeline.faults import detach_worker
from polywheel.pipeline.variant import BuiltVariant, VariantJob

__all__ = ["build_in_worker"]


def _build(root: Path, job: VariantJob) -> BuiltVariant | PolywheelError:
    from polywheel.pipeline.variant import build_variant
    from polywheel.project import load_project

    try:
        return build_variant(load_project(root), job)
    except PolywheelError as exc:
        # Returned whole (key, hint, label), so the parent reports it as it was raised;
        # any other exception is a bug and reaches the parent with its traceback.
        return exc


def build_in_worker(root: str, job: VariantJob, log: str) -> BuiltVariant | PolywheelError:
    """Build one variant with stdout/stderr sent to `log`."""
    sys.stdout.flush()
    sys.stderr.flush()
    saved = (os.dup(1), os.dup(2))
    try:
        with Path(log).open("w") as out:
            os.dup2(out.fileno(), 1)
            os.dup2(out.fileno(), 2)
            try:
                return _build(Path(root), job)
            finally:
                sys.stdout.flush()
                sys.stderr.flush()
    finally:
        os.dup2(saved[0], 1)
        os.dup2(saved[1], 2)
        os.close(saved[0])
        os.close(saved[1])


def main(argv: list[str]) -> int:
    """`python -m polywheel.pipeline.worker JOB RESULT`: one build in a build
    environment's interpreter (pipeline/envpool.py); the outcome is pickled to RESULT."""
    import pickle
    import traceback

    detach_worker()
    job_file, result_file = (Path(a) for a in argv)
    root, job, log = pickle.loads(job_file.read_bytes())
    try:
        outcome = build_in_worker(root, job, log)
    except Exception:
        # A bug: its traceback goes where the build's output went.
        with Path(log).open("a") as out:
            out.write(traceback.format_exc())
        return 1
    scratch = result_file.with_suffix(".tmp")
    scratch.write_bytes(pickle.dumps(outcome))
    scratch.replace(result_file)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
