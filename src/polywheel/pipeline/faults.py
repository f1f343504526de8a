"""Faults while building: signals, two runs at once, leftovers of a killed run.

- `interruptible()` turns SIGTERM, SIGHUP and SIGINT into `Interrupted` in the main
  thread, so the scheduler can stop its workers and clean up before exiting.
- `exclusive()` holds a lock per project and per output folder: a second run waits,
  and says so, instead of sharing a CMake build folder or an output folder.
- Worker processes lead their own process group (`detach_worker`), so stopping one
  stops the CMake, ninja and compiler processes it started, and they die with the
  parent even when it is killed outright.
- Scratch names carry the pid of their writer (`wheel.writer.scratch_prefix`), so the
  next run can remove what a killed one left behind (`remove_leftovers`) without
  touching a live one.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import select
import shutil
import signal
import sys
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from types import FrameType

from polywheel.cachedir import user_cache_dir
from polywheel.wheel import SCRATCH

__all__ = [
    "Interrupted",
    "detach_worker",
    "die_with_parent",
    "exclusive",
    "interruptible",
    "left_by_dead_run",
    "output_lock",
    "remove_leftovers",
    "stop_process_groups",
]

_SIGNALS = tuple(
    getattr(signal, name) for name in ("SIGTERM", "SIGHUP", "SIGINT") if hasattr(signal, name)
)


class Interrupted(BaseException):
    """A signal asked polywheel to stop; BaseException so no `except Exception` eats it."""

    def __init__(self, signum: int) -> None:
        super().__init__(signum)
        self.signum = signum

    @property
    def name(self) -> str:
        return signal.Signals(self.signum).name

    @property
    def exit_status(self) -> int:
        return 128 + self.signum


@contextlib.contextmanager
def interruptible() -> Iterator[None]:
    """Raise `Interrupted` in the main thread on SIGTERM, SIGHUP or SIGINT."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def handler(signum: int, frame: FrameType | None) -> None:
        del frame
        raise Interrupted(signum)

    previous = {sig: signal.signal(sig, handler) for sig in _SIGNALS}
    try:
        yield
    finally:
        for sig, old in previous.items():
            signal.signal(sig, old)


def left_by_dead_run(name: str, prefix: str) -> bool:
    """Whether `name` is `{prefix}{pid}-...` of a polywheel process that no longer runs:
    what a killed run left behind."""
    pid_text = name[len(prefix) :].split("-", 1)[0]
    if not name.startswith(prefix) or not pid_text.isdigit():
        return False
    try:
        os.kill(int(pid_text), 0)
    except ProcessLookupError:
        return True
    except PermissionError:
        return False  # someone else's live process
    return False


def remove_leftovers(folder: Path) -> list[Path]:
    """Remove the scratch folders and files of polywheel processes that no longer run."""
    removed: list[Path] = []
    if not folder.is_dir():
        return removed
    for entry in folder.iterdir():
        if not left_by_dead_run(entry.name, SCRATCH):
            continue
        if entry.is_dir() and not entry.is_symlink():
            shutil.rmtree(entry, ignore_errors=True)
        else:
            entry.unlink(missing_ok=True)
        removed.append(entry)
    return removed


@contextlib.contextmanager
def exclusive(lock_files: Iterable[Path], emit: Callable[[str], None]) -> Iterator[None]:
    """Hold an exclusive lock on each file (created as needed), waiting for other runs."""
    try:
        import fcntl
    except ImportError:  # pragma: no cover - Windows: no advisory locks here yet
        yield
        return
    with contextlib.ExitStack() as stack:
        # One order for every run, so two runs never wait for each other in a circle.
        for path in sorted({p.resolve() for p in lock_files}):
            path.parent.mkdir(parents=True, exist_ok=True)
            handle = stack.enter_context(path.open("a+"))
            try:
                fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                handle.seek(0)
                owner = handle.read().strip() or "another process"
                emit(f"*** waiting for another polywheel run ({owner}) to finish")
                fcntl.flock(handle, fcntl.LOCK_EX)
            handle.seek(0)
            handle.truncate()
            handle.write(f"pid {os.getpid()}\n")
            handle.flush()
            stack.callback(fcntl.flock, handle, fcntl.LOCK_UN)
        yield


def output_lock(out_dir: Path) -> Path:
    """The lock file of an output folder, kept out of the folder itself."""
    digest = hashlib.sha256(str(out_dir.resolve()).encode()).hexdigest()[:24]
    return user_cache_dir("locks") / f"output-{digest}.lock"


def _stop_group(signum: int, frame: FrameType | None) -> None:
    del frame
    # Pass the signal on to the CMake and ninja processes of this group (ninja then
    # stops the jobs it runs in groups of their own), then leave at once.
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    os.killpg(os.getpgrp(), signal.SIGTERM)
    os._exit(128 + signum)


def detach_worker(owner: int | None = None) -> None:
    """In a worker process: lead a process group of its own, and die with the parent
    and with `owner`, the polywheel process the worker builds for, where that is not
    its parent (a worker forked by a forkserver, whose parent outlives `owner`: the
    worker holds the server open)."""
    if not hasattr(os, "setpgrp"):  # pragma: no cover - Windows
        return
    os.setpgrp()
    signal.signal(signal.SIGTERM, _stop_group)
    if not die_with_parent():
        _stop_group(signal.SIGTERM, None)
    if owner is not None and owner != os.getppid():
        _die_with(owner)


def _die_with(owner: int) -> None:
    """Stop this worker's group as soon as process `owner` has ended: a pidfd turns
    readable then (Linux 5.3); elsewhere, polled twice a second."""
    try:
        pidfd = os.pidfd_open(owner) if hasattr(os, "pidfd_open") else None
    except ProcessLookupError:
        _stop_group(signal.SIGTERM, None)
    except OSError:
        pidfd = None

    def watch() -> None:
        if pidfd is not None:
            select.select([pidfd], [], [])
        else:
            while True:
                time.sleep(0.5)
                try:
                    os.kill(owner, 0)
                except ProcessLookupError:
                    break
                except PermissionError:
                    continue
        # Not _stop_group: only the main thread may set a signal handler. The worker's
        # own handler may run too, on the way out.
        os.killpg(os.getpgrp(), signal.SIGTERM)
        os._exit(128 + signal.SIGTERM)

    threading.Thread(target=watch, name="polywheel-owner-watch", daemon=True).start()


def die_with_parent() -> bool:
    """Ask the kernel to send SIGTERM to this process when its parent dies (Linux), so a
    `kill -9` of polywheel orphans nothing it started. False: the parent is gone already.

    Used in worker processes and, as `preexec_fn`, for the tools polywheel runs.
    """
    if sys.platform.startswith("linux"):
        import ctypes

        pr_set_pdeathsig = 1
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(pr_set_pdeathsig, signal.SIGTERM)
        if os.getppid() == 1:  # the parent died before prctl took effect
            return False
    return True


def stop_process_groups(pids: Iterable[int]) -> None:
    """Stop worker processes and everything they started (each leads its own group).
    The process itself is signalled too: a worker stopped right after its start may not
    lead its group yet, and one left alive would wait forever on the pool's queue lock
    that a stopped one held."""
    for pid in pids:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(pid, signal.SIGTERM)
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.kill(pid, signal.SIGTERM)
