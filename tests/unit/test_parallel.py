"""map_forked: results in order, a child's failure raised here, no child left behind."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

from polywheel.audit.parallel import map_forked


def test_results_come_back_in_order() -> None:
    assert map_forked(lambda n: (n, os.getpid()), [1, 2, 3])[0] == (1, os.getpid())
    results = map_forked(lambda n: n * n, list(range(5)))
    assert results == [0, 1, 4, 9, 16]


def test_the_other_parts_run_in_other_processes() -> None:
    pids = map_forked(lambda _n: os.getpid(), [0, 1, 2])
    assert pids[0] == os.getpid()
    assert len(set(pids)) == 3


def _children() -> set[int]:
    """This process's child processes, live or not yet waited for. Other tests may have
    left long-lived ones (multiprocessing's resource tracker), so callers compare."""
    found = set()
    for entry in Path("/proc").iterdir():
        try:
            if entry.name.isdigit():
                stat = (entry / "stat").read_text().rsplit(")", 1)[1].split()
                if int(stat[1]) == os.getpid():
                    found.add(int(entry.name))
        except (OSError, IndexError, ValueError):
            continue
    return found


needs_proc = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc")


def _fail_in_child(n: int) -> int:
    if n == 2:
        raise KeyError("bad section")
    return n


@needs_proc
def test_a_failing_child_is_raised_here_and_reaped() -> None:
    before = _children()
    with pytest.raises(ValueError, match="KeyError: 'bad section'"):
        map_forked(_fail_in_child, [0, 1, 2, 3])
    assert _children() <= before  # every child was waited for, none is a zombie


@needs_proc
def test_a_failure_here_stops_the_children() -> None:
    def work(n: int) -> int:
        if n == 0:
            raise RuntimeError("the parent's own part failed")
        import time

        time.sleep(30)
        return n

    before = _children()
    with pytest.raises(RuntimeError):
        map_forked(work, [0, 1, 2])
    assert _children() <= before
