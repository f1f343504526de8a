"""The ninja that takes its first job slot from the jobserver itself
(cmake/make_program.py), run against a FIFO and a stand-in ninja."""

from __future__ import annotations

import os
import signal
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import NamedTuple

import pytest

from polywheel.cmake.make_program import FIFO_ENV, slot_taking_ninja

pytestmark = pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="a POSIX FIFO")

# Prints its arguments and whether the FIFO variable reached it, sleeps as asked, and
# exits with the status asked for.
STAND_IN = """#!/bin/sh
echo "args=$* fifo=${POLYWHEEL_JOB_FIFO-unset}"
sleep "${STAND_IN_SLEEP:-0}"
exit "${STAND_IN_STATUS:-0}"
"""


@pytest.fixture
def fifo(tmp_path: Path) -> Iterator[tuple[Path, int]]:
    path = tmp_path / "fifo"
    os.mkfifo(path)
    fd = os.open(path, os.O_RDWR | os.O_NONBLOCK)
    try:
        yield path, fd
    finally:
        os.close(fd)


class SlotNinja(NamedTuple):
    program: str
    fifo: str


@pytest.fixture
def wrapper(tmp_path: Path, fifo: tuple[Path, int], monkeypatch: pytest.MonkeyPatch) -> SlotNinja:
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    ninja = tmp_path / "stand in" / "ninja"  # a space: the path is quoted
    ninja.parent.mkdir()
    ninja.write_text(STAND_IN)
    ninja.chmod(0o755)
    return SlotNinja(str(slot_taking_ninja(str(ninja))), str(fifo[0]))


def tokens(fd: int) -> bytes:
    try:
        return os.read(fd, 64)
    except BlockingIOError:
        return b""


def run(wrapper: SlotNinja, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    full = {**os.environ, FIFO_ENV: wrapper.fifo, **env}
    return subprocess.run(
        [wrapper.program, *args], env=full, capture_output=True, text=True, timeout=30, check=False
    )


def test_ninja_runs_on_a_token_and_gives_it_back_with_its_exit_status(
    wrapper: SlotNinja, fifo: tuple[Path, int]
) -> None:
    _, fd = fifo
    for status in (0, 3):
        os.write(fd, b"+")
        done = run(wrapper, "all", STAND_IN_STATUS=str(status))
        assert done.returncode == status
        # The jobs ninja runs work on the slots they were given: a ninja one of them
        # starts takes none itself.
        assert done.stdout.strip() == "args=all fifo=unset"
        assert tokens(fd) == b"+"


def test_ninja_waits_for_a_token(wrapper: SlotNinja, fifo: tuple[Path, int]) -> None:
    _, fd = fifo
    env = {**os.environ, FIFO_ENV: wrapper.fifo}
    proc = subprocess.Popen([wrapper.program, "all"], env=env, stdout=subprocess.PIPE, text=True)
    time.sleep(0.5)
    assert proc.poll() is None, "ninja started without a token"
    os.write(fd, b"+")
    assert proc.communicate(timeout=30)[0].strip() == "args=all fifo=unset"
    assert tokens(fd) == b"+"


def test_version_and_tools_run_no_job_and_take_no_token(
    wrapper: SlotNinja, fifo: tuple[Path, int]
) -> None:
    _, fd = fifo
    assert run(wrapper, "--version").stdout.startswith("args=--version")
    assert run(wrapper, "-C", "build", "-t", "restat").stdout.startswith("args=-C build -t")
    assert tokens(fd) == b""


def test_without_the_fifo_variable_it_is_ninja_itself(wrapper: SlotNinja) -> None:
    done = subprocess.run(
        [wrapper.program, "all"],
        check=False,
        env={k: v for k, v in os.environ.items() if k != FIFO_ENV},
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert done.returncode == 0
    assert done.stdout.strip() == "args=all fifo=unset"


def test_a_stopped_build_gives_its_token_back(wrapper: SlotNinja, fifo: tuple[Path, int]) -> None:
    _, fd = fifo
    os.write(fd, b"+")
    env = {**os.environ, FIFO_ENV: wrapper.fifo, "STAND_IN_SLEEP": "30"}
    proc = subprocess.Popen(
        [wrapper.program, "all"], env=env, stdout=subprocess.DEVNULL, start_new_session=True
    )
    time.sleep(0.5)
    assert proc.poll() is None
    assert tokens(fd) == b"", "the running ninja holds the token"
    os.killpg(proc.pid, signal.SIGTERM)
    proc.wait(timeout=10)
    assert tokens(fd) == b"+"


def test_the_script_path_follows_the_ninja_it_runs(wrapper: SlotNinja, tmp_path: Path) -> None:
    assert str(slot_taking_ninja(str(tmp_path / "stand in" / "ninja"))) == wrapper.program
    other = slot_taking_ninja("/usr/bin/ninja")
    assert str(other) != wrapper.program
    assert other.read_text().count("/usr/bin/ninja") == 3
