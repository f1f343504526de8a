"""The worker processes of `polywheel build`, started as early as the command knows it
will build something.

A worker is a fresh interpreter (a spawn pool: its own environment, cwd and
scikit-build-core state) that imports scikit-build-core before its first build, which
takes about a quarter of a second. Started before the command reads its cache and
sets up its jobserver, that time overlaps the command's own start instead of
following it. This module imports nothing heavy, so the command can start workers
before it imports the scheduler.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from concurrent.futures import Future, ProcessPoolExecutor
from pathlib import Path

__all__ = ["Workers", "likely_to_build", "warm_up"]


def warm_up() -> None:
    """Pool initializer: lead a process group of its own (so the parent can stop this
    worker with all it started), then pay the heavy imports before the first build."""
    from polywheel.pipeline.faults import detach_worker

    detach_worker()
    import scikit_build_core.build.wheel  # noqa: F401

    import polywheel.cmake.runner
    import polywheel.pipeline.variant  # noqa: F401


class Workers:
    """A spawn pool whose processes are starting; `ready()` waits for all of them."""

    def __init__(self, count: int) -> None:
        import multiprocessing

        count = max(1, count)
        self.pool = ProcessPoolExecutor(
            count, mp_context=multiprocessing.get_context("spawn"), initializer=warm_up
        )
        # Submitted from the calling thread, which outlives the builds: the workers'
        # parent-death signal follows the thread that started them.
        self._started: list[Future[int]] = [self.pool.submit(os.getpid) for _ in range(count)]

    def ready(self) -> ProcessPoolExecutor:
        for started in self._started:
            started.result()
        return self.pool

    def close(self, *, stop: bool) -> None:
        """`stop`: end the workers and all they started now (a signal, an error, or
        workers that were not needed), instead of letting them finish."""
        # ProcessPoolExecutor has no public list of its processes (None once shut down).
        running = list(self.pool._processes or ())
        if stop and running:
            from polywheel.pipeline.faults import stop_process_groups

            stop_process_groups(running)
        self.pool.shutdown(cancel_futures=True)


def likely_to_build(root: Path, names: Sequence[str], rebuild: bool) -> bool:
    """Whether some variant has no earlier build to reuse, judged by what is on disk
    only (pipeline/reuse.py decides for real, after reading it): a rerun with nothing
    changed should not start workers it will not use."""
    cache = root / "build" / "polywheel-cache"
    return rebuild or not all((cache / name / "manifest.json").is_file() for name in names)
