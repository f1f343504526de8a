"""Builds in isolated build environments: one worker process per build, started with
the environment's interpreter (`python -m polywheel.pipeline.worker`).

A spawn pool cannot serve here: its children inherit the parent's `sys.path`, so they
would import scikit-build-core and the project's build tools from the environment
polywheel was started from, not from the build environment. A fresh interpreter per
build costs a fraction of a second next to a CMake configure.
"""

from __future__ import annotations

import os
import pickle
import shutil
import subprocess
import tempfile
import threading
from collections.abc import Callable
from concurrent.futures import Future
from pathlib import Path

from polywheel.errors import BuildError, PolywheelError
from polywheel.pipeline.buildenv import worker_environ
from polywheel.pipeline.faults import die_with_parent
from polywheel.pipeline.variant import BuiltVariant, VariantJob

__all__ = ["EnvPool"]

Outcome = BuiltVariant | PolywheelError


def _leader() -> None:
    # Its own process group from the start, so a stop right after the start reaches it.
    os.setpgrp()
    die_with_parent()


class EnvPool:
    """What the scheduler needs of a process pool: `submit`, `_processes`, `shutdown`."""

    def __init__(self) -> None:
        self._processes: dict[int, subprocess.Popen[bytes]] = {}
        self._lock = threading.Lock()

    def submit(
        self, fn: Callable[..., Outcome], root: str, job: VariantJob, log: str
    ) -> Future[Outcome]:
        del fn  # always build_in_worker, in the other interpreter
        assert job.build_python is not None
        python = Path(job.build_python)
        scratch = Path(tempfile.mkdtemp(prefix="polywheel-job-"))
        (scratch / "job.pickle").write_bytes(pickle.dumps((root, job, log)))
        result = scratch / "result.pickle"
        with Path(log).open("ab") as out:
            # Started from the calling thread, which waits for the build: the parent-death
            # signal follows the thread that started the process.
            proc = subprocess.Popen(
                [str(python), "-m", "polywheel.pipeline.worker", str(scratch / "job.pickle"),
                 str(result)],
                cwd=root,
                env=worker_environ(python),
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=out,
                # Only setpgrp and prctl run there: safe with threads.
                preexec_fn=_leader if os.name == "posix" else None,  # noqa: PLW1509
            )  # fmt: skip
        with self._lock:
            self._processes[proc.pid] = proc
        future: Future[Outcome] = Future()

        def finish() -> None:
            status = proc.wait()
            with self._lock:
                self._processes.pop(proc.pid, None)
            try:
                future.set_result(pickle.loads(result.read_bytes()))
            except (OSError, pickle.UnpicklingError, EOFError):
                future.set_result(
                    BuildError(
                        f"the build process ended with status {status} before reporting "
                        f"a result (see {log})",
                        label=job.label,
                    )
                )
            finally:
                shutil.rmtree(scratch, ignore_errors=True)

        threading.Thread(target=finish, daemon=True).start()
        return future

    def shutdown(self, cancel_futures: bool = False) -> None:
        del cancel_futures  # each build owns its process; nothing is queued
