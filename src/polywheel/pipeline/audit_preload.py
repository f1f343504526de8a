"""Import the audit while CMake runs, not while the build prepares to start it.

Importing the audit and iced-x86's tables costs about 20 ms of interpreter time. In a
PEP 517 hook process that is time the process spends waiting anyway, for CMake, if it
happens in a thread then; started at once, the thread competes for the interpreter
lock with scikit-build-core's own imports and settings before the configure, which
then starts about 20 ms later. So the thread first watches the build's thread and
imports only once that has been waiting for a child process for a while (a configure,
not a `--version` probe).
"""

from __future__ import annotations

import contextlib
import selectors
import subprocess
import sys
import threading
from collections.abc import Callable, Iterator

__all__ = ["audit_imported_while_waiting", "preload_audit", "when_thread_waits"]

# Where a thread blocked in subprocess.run has its innermost Python frame: Popen's
# wait loop, or the selector of communicate() when output is captured.
_WAITING_IN = frozenset({subprocess.__file__, selectors.__file__})
_POLL_S = 0.005
# A probe such as `cmake --version` takes a few ms; a configure takes 100 ms or more.
_WAITS_IN_A_ROW = 3


def preload_audit() -> None:
    """Import the audit and build iced-x86's tables; by the workers' forkserver
    (pipeline/preload.py) and, while CMake runs, by a PEP 517 hook's build."""
    try:
        import polywheel.audit.wheel  # noqa: F401
        from polywheel.audit.x86 import classes

        classes()
    except Exception:
        pass  # the audit imports them again in the build thread and reports what failed


def _waiting_for_child(thread_id: int) -> bool:
    frame = sys._current_frames().get(thread_id)
    return frame is not None and frame.f_code.co_filename in _WAITING_IN


def when_thread_waits(thread_id: int, done: threading.Event, action: Callable[[], None]) -> None:
    """Run `action` once thread `thread_id` has been seen waiting for a child process
    in a few polls in a row; never if `done` is set first."""
    in_a_row = 0
    while not done.wait(_POLL_S):
        in_a_row = in_a_row + 1 if _waiting_for_child(thread_id) else 0
        if in_a_row >= _WAITS_IN_A_ROW:
            action()
            return


@contextlib.contextmanager
def audit_imported_while_waiting(enabled: bool = True) -> Iterator[None]:
    """Preload the audit in a thread while the body waits for CMake; when the body
    ends first, the audit is imported where it is used, as without a preload."""
    if not enabled or "polywheel.audit.x86" in sys.modules:
        yield
        return
    done = threading.Event()
    thread = threading.Thread(
        target=when_thread_waits,
        args=(threading.get_ident(), done, preload_audit),
        name="polywheel-preload",
        daemon=True,
    )
    thread.start()
    try:
        yield
    finally:
        done.set()
        thread.join()
