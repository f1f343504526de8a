"""Run the same pure function on parts of one large input in forked processes.

The audit of a library of tens of MB is CPU-bound Python (iced decodes, C loops
count); forking shares the library's bytes with the children without copying them,
and only the small results travel back, pickled, through a pipe.
"""

from __future__ import annotations

import os
import pickle
import signal
from collections.abc import Callable, Sequence
from typing import TypeVar

__all__ = ["map_forked"]

Part = TypeVar("Part")
Result = TypeVar("Result")


class _ChildFailed(Exception):
    pass


def _run_child(work: Callable[[Part], Result], part: Part, write_fd: int) -> None:
    status = 0
    try:
        for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
            signal.signal(sig, signal.SIG_DFL)  # the parent's handlers raise in its stack
        try:
            payload = pickle.dumps(("ok", work(part)))
        except Exception as exc:  # reported by the parent, which raises it as its own
            payload = pickle.dumps(("error", f"{type(exc).__name__}: {exc}"))
        with os.fdopen(write_fd, "wb") as pipe:
            pipe.write(payload)
    except BaseException:
        status = 1
    finally:
        os._exit(status)


def map_forked(work: Callable[[Part], Result], parts: Sequence[Part]) -> list[Result]:
    """[work(p) for p in parts], the first in this process and the others in forked
    children. A child's exception is raised here as a ValueError naming it; on any
    exit (an interruption included) no child is left running."""
    if len(parts) <= 1 or not hasattr(os, "fork"):
        return [work(p) for p in parts]
    children: list[tuple[int, int]] = []
    try:
        for part in parts[1:]:
            read_fd, write_fd = os.pipe()
            pid = os.fork()
            if pid == 0:  # pragma: no cover - measured in the child, which never returns
                os.close(read_fd)
                _run_child(work, part, write_fd)
            os.close(write_fd)
            children.append((pid, read_fd))
        results = [work(parts[0])]
        for pid, read_fd in children:
            with os.fdopen(read_fd, "rb") as pipe:
                payload = pipe.read()
            os.waitpid(pid, 0)
            if not payload:
                raise ValueError("a decoding process ended without a result")
            kind, value = pickle.loads(payload)  # our own child's bytes, not input's
            if kind != "ok":
                raise ValueError(value)
            results.append(value)
        children = []
        return results
    finally:
        for pid, _fd in children:
            try:
                os.kill(pid, signal.SIGKILL)
                os.waitpid(pid, 0)
            except ChildProcessError:
                pass
            except ProcessLookupError:
                pass
