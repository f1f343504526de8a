"""The jobserver's FIFO and tokens (pipeline/jobserver.py), without building anything."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from polywheel.pipeline.jobserver import Jobserver, Slots, jobserver, remove_stale

pytestmark = pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="POSIX FIFOs only")


def test_n_minus_one_tokens_and_the_makeflags_ninja_reads(tmp_path: Path) -> None:
    with jobserver(4, tmp_path) as server:
        assert server.makeflags == f"-j4 --jobserver-auth=fifo:{server.path}"
        assert server.path.is_fifo()
        assert server.folder.name.startswith(f".polywheel-{os.getpid()}-jobserver-")
        assert oct(server.folder.stat().st_mode & 0o777) == "0o700"
        assert server.drain() == 3
    assert list(tmp_path.iterdir()) == []


def test_the_folder_goes_when_the_block_is_left_by_an_exception(tmp_path: Path) -> None:
    with pytest.raises(KeyboardInterrupt), jobserver(2, tmp_path):
        raise KeyboardInterrupt
    assert list(tmp_path.iterdir()) == []


def test_a_client_in_another_process_takes_and_returns_tokens(tmp_path: Path) -> None:
    client = (
        "import os, sys\n"
        "fd = os.open(sys.argv[1], os.O_RDWR)\n"
        "got = os.read(fd, 2)\n"
        "os.write(fd, got)\n"
        "print(len(got))\n"
    )
    with jobserver(3, tmp_path) as server:
        out = subprocess.run(
            [sys.executable, "-c", client, str(server.path)],
            capture_output=True,
            text=True,
            check=True,
        )
        assert out.stdout.strip() == "2"
        assert server.drain() == 2


def test_lanes_get_the_implicit_slot_then_tokens(tmp_path: Path) -> None:
    stopping = threading.Event()
    with jobserver(3, tmp_path) as server:
        slots = Slots(server)
        assert slots.acquire(stopping) is False  # polywheel's own slot
        assert slots.acquire(stopping) is True
        assert slots.acquire(stopping) is True
        assert server.drain() == 0  # all three jobs are out
        stopping.set()
        with pytest.raises(InterruptedError):
            slots.acquire(stopping)  # a fourth build waits, and stops waiting
        slots.release(True)
        assert server.drain() == 1


def test_a_lane_that_is_done_leaves_its_slot_to_the_running_builds(tmp_path: Path) -> None:
    stopping = threading.Event()
    with jobserver(2, tmp_path) as server:
        slots = Slots(server)
        implicit, token = slots.acquire(stopping), slots.acquire(stopping)
        assert (implicit, token) == (False, True)
        slots.release(implicit)  # the implicit lane ran out of variants first
        assert server.drain() == 1  # the other build's ninja may now run two jobs
        os.write(server.fd, b"+")
        slots.release(token)
        assert server.drain() == 2  # nothing runs: the whole budget is in the FIFO
        os.write(server.fd, b"++")
        with slots.building_one():
            pass
        assert server.drain() == 2 and slots.restored == 0


def test_tokens_a_dead_client_took_along_come_back_when_no_build_runs(tmp_path: Path) -> None:
    with jobserver(4, tmp_path) as server:
        slots = Slots(server)
        token = slots.acquire(threading.Event())
        assert token is False
        with slots.building_one():
            # A ninja killed while it held two tokens: they never come back.
            subprocess.run(
                [
                    sys.executable,
                    "-c",
                    f"import os; os.read(os.open({str(server.path)!r}, os.O_RDWR), 2)",
                ],
                check=True,
            )
        assert slots.restored == 2
        assert server.drain() == 3


def test_no_refill_while_another_build_runs(tmp_path: Path) -> None:
    with jobserver(3, tmp_path) as server:
        slots = Slots(server)
        with slots.building_one():
            with slots.building_one():
                server.take(0)  # held by the first build's ninja
            assert server.drain() == 1  # not refilled: that token may be in use
            os.write(server.fd, b"+")
        assert server.drain() == 2


def test_a_client_that_returns_too_many_tokens_is_corrected(tmp_path: Path) -> None:
    with jobserver(2, tmp_path) as server:
        slots = Slots(server)
        with slots.building_one():
            os.write(server.fd, b"+++")
        assert server.drain() == 1


def test_stale_folders_of_dead_runs_are_removed(tmp_path: Path) -> None:
    dead = 999_999_999  # above any pid_max: no such process
    (tmp_path / f".polywheel-{dead}-jobserver-abc").mkdir()
    (tmp_path / f".polywheel-{os.getpid()}-jobserver-def").mkdir()
    (tmp_path / f".polywheel-{dead}-staging").mkdir()  # not the jobserver's
    removed = remove_stale(tmp_path)
    assert [p.name for p in removed] == [f".polywheel-{dead}-jobserver-abc"]
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        f".polywheel-{os.getpid()}-jobserver-def",
        f".polywheel-{dead}-staging",
    ]


def test_one_job_means_an_empty_fifo(tmp_path: Path) -> None:
    server = Jobserver(1, tmp_path)
    try:
        assert server.makeflags.startswith("-j1 ")
        assert server.take(0) is False
    finally:
        server.close()
    assert not server.folder.exists()
