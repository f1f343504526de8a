"""The audit preload waits until the build's thread waits for a child process."""

from __future__ import annotations

import subprocess
import sys
import threading
import time

import pytest

from polywheel.pipeline import audit_preload
from polywheel.pipeline.audit_preload import audit_imported_while_waiting, when_thread_waits


def _watch(action_times: list[float]) -> tuple[threading.Thread, threading.Event]:
    done = threading.Event()
    watcher = threading.Thread(
        target=when_thread_waits,
        args=(threading.get_ident(), done, lambda: action_times.append(time.monotonic())),
    )
    watcher.start()
    return watcher, done


def test_preload_runs_only_once_the_thread_waits_for_a_child() -> None:
    ran: list[float] = []
    watcher, done = _watch(ran)
    busy_until = time.monotonic() + 0.2
    while time.monotonic() < busy_until:  # Python work, as before CMake starts
        pass
    assert ran == []
    started = time.monotonic()
    subprocess.run([sys.executable, "-c", "import time; time.sleep(0.4)"], check=True)
    ended = time.monotonic()
    done.set()
    watcher.join(5)
    assert len(ran) == 1
    assert started + 0.01 <= ran[0] < ended


def test_preload_never_runs_when_the_build_ends_first() -> None:
    ran: list[float] = []
    watcher, done = _watch(ran)
    time.sleep(0.05)  # a wait, but not for a child process
    done.set()
    watcher.join(5)
    assert not watcher.is_alive()
    assert ran == []


def test_no_thread_when_the_audit_is_off() -> None:
    before = threading.active_count()
    with audit_imported_while_waiting(enabled=False):
        assert threading.active_count() == before


def test_the_preload_imports_the_audit_during_a_child_process(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    calls: list[str] = []
    monkeypatch.setattr(audit_preload, "preload_audit", lambda: calls.append("preloaded"))
    monkeypatch.delitem(sys.modules, "polywheel.audit.x86", raising=False)
    with audit_imported_while_waiting():
        subprocess.run([sys.executable, "-c", "import time; time.sleep(0.2)"], check=True)
    assert calls == ["preloaded"]
