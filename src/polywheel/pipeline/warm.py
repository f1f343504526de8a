"""The worker processes of `polywheel build`, started as early as the command knows it
will build something.

A worker is a fresh interpreter (its own environment, cwd and scikit-build-core state)
with scikit-build-core imported before its first build, which takes about a quarter of a
second of CPU. Where the platform has it, the pool is a forkserver that pays those
imports once: the workers are forks of a server process that imported them and ran
nothing else, so a matrix of two or three workers costs one import instead of one per
worker (elsewhere, each spawned worker imports them). Started before the command reads
its cache and sets up its jobserver, that time overlaps the command's own start
instead of following it. This module imports nothing heavy, so the command can start
workers before it imports the scheduler.
"""

from __future__ import annotations

import contextlib
import os
import signal
import sys
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from concurrent.futures import Future, ProcessPoolExecutor

__all__ = [
    "BUILD_IMPORTS",
    "Workers",
    "lane_count",
    "likely_to_build",
    "never_built",
    "start_for_build",
    "start_forkserver",
    "stop_forkserver",
    "warm_up",
]


def lane_count(variant_count: int, jobs: int, *, shared: bool) -> int:
    """How many variant builds run at once with `jobs` jobs: one per job where each
    build has a fixed share of the jobs; one more where the builds share a jobserver
    (`shared`) and each of their jobs takes its own slot (cmake/job_slots.py), so that
    a build configuring or writing its wheel, which needs no slot, fills the core the
    others leave idle. Not with -j 1, which asks for one thing at a time."""
    jobs = max(1, jobs)
    extra = 1 if shared and jobs > 1 else 0
    return max(1, min(variant_count, jobs + extra))


# What a variant build imports (pipeline/preload.py), paid once before the first build.
BUILD_IMPORTS = ("polywheel.pipeline.preload",)


def warm_up(modules: Sequence[str], owner: int) -> None:
    """Pool initializer: lead a process group of its own (so the parent can stop this
    worker with all it started) that ends with `owner`, the polywheel process (not the
    parent of a forked worker), then pay the heavy imports before the first build."""
    from polywheel.pipeline.faults import detach_worker

    detach_worker(owner)
    import importlib

    for module in modules:
        with contextlib.suppress(ImportError):  # a build reports it, where it matters
            importlib.import_module(module)  # forked from a forkserver: already there


def _start_method() -> str:
    import multiprocessing

    return "forkserver" if "forkserver" in multiprocessing.get_all_start_methods() else "spawn"


def start_forkserver(modules: Sequence[str]) -> bool:
    """Start the workers' forkserver now, importing `modules`, where the platform has
    one (False elsewhere). Idempotent: the pool started later uses the running server.
    Called before the command reads the project when the run will certainly build, so
    the server's imports overlap the command's own."""
    if _start_method() != "forkserver":
        return False
    from multiprocessing import forkserver

    forkserver.set_forkserver_preload(list(modules))
    forkserver.ensure_running()
    return True


def never_built(root: Path) -> bool:
    """No build of this project was kept for reuse: a run will build, whatever its
    variants turn out to be (`likely_to_build` needs them)."""
    return not any((root / "build" / "polywheel-cache").glob("*/manifest.json"))


def start_for_build(root: Path, *, isolated: bool) -> bool:
    """Start the workers' server for `polywheel build` of the project in `root` when the
    run will certainly build in this interpreter: not isolated, never built before.
    Whether a server runs now (one started earlier counts)."""
    return (
        not isolated
        and (root / "pyproject.toml").is_file()
        and never_built(root)
        and start_forkserver(BUILD_IMPORTS)
    )


def stop_forkserver() -> None:
    """Stop multiprocessing's forkserver (one per process, started by the pool): the
    next pool's server then starts from this process's environment at that time, not
    from the one this pool's server was started with. Terminated first, so that a
    server still importing does not hold up the end of a failed run."""
    if "multiprocessing.forkserver" not in sys.modules:
        return  # none was started: importing multiprocessing would be all this does
    from multiprocessing import forkserver

    server = getattr(forkserver, "_forkserver", None)
    pid = getattr(server, "_forkserver_pid", None)
    if isinstance(pid, int):
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGTERM)
    stop = getattr(server, "_stop", None)
    if callable(stop):
        stop()


class Workers:
    """A pool whose processes are starting; `ready()` waits for all of them."""

    def __init__(self, count: int, modules: Sequence[str] = BUILD_IMPORTS) -> None:
        """`count` workers, with `modules` imported before their first build."""
        import multiprocessing
        from concurrent.futures import ProcessPoolExecutor

        count = max(1, count)
        context = multiprocessing.get_context(_start_method())
        self._forkserver = context.get_start_method() == "forkserver"
        if self._forkserver:
            # Not the default ["__main__"]: the server must not import the command.
            start_forkserver(modules)
        self.pool = ProcessPoolExecutor(
            count, mp_context=context, initializer=warm_up, initargs=(tuple(modules), os.getpid())
        )
        self._started: list[Future[int]] = []
        self._starter: threading.Thread | None = None
        if self._forkserver:
            # Starting the first worker waits until the server has imported `modules`:
            # in a thread, so this process goes on with its own preparations meanwhile.
            self._starter = threading.Thread(
                target=self._start, args=(count,), name="polywheel-workers", daemon=True
            )
            self._starter.start()
        else:
            # From the calling thread, which outlives the builds: a spawned worker's
            # parent-death signal follows the thread that started it.
            self._start(count)

    def _start(self, count: int) -> None:
        self._started.extend(self.pool.submit(os.getpid) for _ in range(count))

    def ready(self) -> ProcessPoolExecutor:
        if self._starter is not None:
            self._starter.join()
        for started in self._started:
            started.result()
        return self.pool

    def close(self, *, stop: bool) -> None:
        """`stop`: end the workers and all they started now (a signal, an error, or
        workers that were not needed), instead of letting them finish."""
        if self._starter is not None:
            self._starter.join()  # no worker starts after the ones stopped here
        # ProcessPoolExecutor has no public list of its processes (None once shut down).
        running = list(self.pool._processes or ())
        if stop and running:
            from polywheel.pipeline.faults import stop_process_groups

            stop_process_groups(running)
        self.pool.shutdown(cancel_futures=True)
        if self._forkserver:
            stop_forkserver()


def likely_to_build(root: Path, names: Sequence[str], rebuild: bool) -> bool:
    """Whether some variant has no earlier build to reuse, judged by what is on disk
    only (pipeline/reuse.py decides for real, after reading it): a rerun with nothing
    changed should not start workers it will not use."""
    cache = root / "build" / "polywheel-cache"
    return rebuild or not all((cache / name / "manifest.json").is_file() for name in names)
