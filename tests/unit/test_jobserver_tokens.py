"""The jobserver's FIFO and tokens (pipeline/jobserver.py), without building anything."""

from __future__ import annotations

import os
import subprocess
import sys
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


def test_the_fifo_holds_every_slot_and_builds_hold_none(tmp_path: Path) -> None:
    with jobserver(3, tmp_path) as server:
        slots = Slots(server)
        # Each job of a build takes its own slot (cmake/job_slots.py); polywheel runs
        # none, so its implicit slot is in the FIFO too.
        assert server.drain() == 3
        os.write(server.fd, b"+++")
        with slots.building_one():
            pass
        assert server.drain() == 3 and slots.restored == 0


def test_tokens_a_dead_client_took_along_come_back_when_no_build_runs(tmp_path: Path) -> None:
    with jobserver(4, tmp_path) as server:
        slots = Slots(server)
        with slots.building_one():
            # Jobs killed while they held two tokens: they never come back.
            subprocess.run(
                [
                    sys.executable,
                    "-c",
                    f"import os; os.read(os.open({str(server.path)!r}, os.O_RDWR), 2)",
                ],
                check=True,
            )
        assert slots.restored == 2
        assert server.drain() == 4


def test_no_refill_while_another_build_runs(tmp_path: Path) -> None:
    with jobserver(3, tmp_path) as server:
        slots = Slots(server)
        with slots.building_one():
            with slots.building_one():
                os.read(server.fd, 1)  # held by a job of the first build
            assert server.drain() == 2  # not refilled: that token may be in use
            os.write(server.fd, b"++")
        assert server.drain() == 3


def test_a_client_that_returns_too_many_tokens_is_corrected(tmp_path: Path) -> None:
    with jobserver(2, tmp_path) as server:
        slots = Slots(server)
        with slots.building_one():
            os.write(server.fd, b"+++")
        assert server.drain() == 2


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
        assert server.drain() == 0
    finally:
        server.close()
    assert not server.folder.exists()


def test_the_gate_lets_waiting_readers_on_once_opened(tmp_path: Path) -> None:
    with jobserver(2, tmp_path) as server:
        assert server.gate.is_fifo()
        waiting = subprocess.Popen(["sh", "-c", f': <"{server.gate}" && echo through'],
                                   stdout=subprocess.PIPE, text=True)  # fmt: skip
        with pytest.raises(subprocess.TimeoutExpired):
            waiting.wait(0.5)
        server.open_gate()
        server.open_gate()  # idempotent
        assert waiting.communicate(timeout=30)[0] == "through\n"
        again = subprocess.run(["sh", "-c", f': <"{server.gate}"'], timeout=30, check=False)
        assert again.returncode == 0
    assert list(tmp_path.iterdir()) == []
