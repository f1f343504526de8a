"""The launcher that runs each job of a variant build on a slot of the jobserver
(cmake/job_slots.py), run against a FIFO and a stand-in job."""

from __future__ import annotations

import os
import signal
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from polywheel.cmake.job_slots import (
    FIFO_ENV,
    GATE_ENV,
    GATE_UNLESS_ENV,
    MAKEFLAGS_ENV,
    slot_launcher,
)

pytestmark = pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="a POSIX FIFO")

# Prints its arguments and what of the jobserver reached it, sleeps as asked, and
# exits with the status asked for.
STAND_IN = """#!/bin/sh
echo "args=$* fifo=${POLYWHEEL_JOB_FIFO-unset} makeflags=${MAKEFLAGS-unset}"
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


@pytest.fixture
def job(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The launcher and a stand-in job, as a command line."""
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    monkeypatch.delenv("MAKEFLAGS", raising=False)
    stand_in = tmp_path / "stand in" / "cc"  # a space: the command is passed as given
    stand_in.parent.mkdir()
    stand_in.write_text(STAND_IN)
    stand_in.chmod(0o755)
    return [str(slot_launcher()), str(stand_in)]


def tokens(fd: int) -> bytes:
    try:
        return os.read(fd, 64)
    except BlockingIOError:
        return b""


def jobserver_env(fifo: Path, **extra: str) -> dict[str, str]:
    return {
        **os.environ,
        FIFO_ENV: str(fifo),
        MAKEFLAGS_ENV: f"-j2 --jobserver-auth=fifo:{fifo}",
        **extra,
    }


def test_a_job_runs_on_a_token_and_gives_it_back_with_its_exit_status(
    job: list[str], fifo: tuple[Path, int]
) -> None:
    path, fd = fifo
    for status in (0, 3):
        os.write(fd, b"+")
        done = subprocess.run(
            [*job, "-c", "a b.c"], env=jobserver_env(path, STAND_IN_STATUS=str(status)),
            capture_output=True, text=True, timeout=30, check=False,
        )  # fmt: skip
        assert done.returncode == status
        # The job gets the MAKEFLAGS, for a jobserver client it runs on its slot, and
        # no FIFO variable: a launcher inside it takes no second slot.
        assert done.stdout.strip() == (
            f"args=-c a b.c fifo=unset makeflags=-j2 --jobserver-auth=fifo:{path}"
        )
        assert tokens(fd) == b"+"


def test_a_job_waits_for_a_token(job: list[str], fifo: tuple[Path, int]) -> None:
    path, fd = fifo
    proc = subprocess.Popen(job, env=jobserver_env(path), stdout=subprocess.PIPE, text=True)
    time.sleep(0.5)
    assert proc.poll() is None, "the job started without a token"
    os.write(fd, b"+")
    assert proc.communicate(timeout=30)[0].startswith("args= fifo=unset makeflags=-j2 ")
    assert tokens(fd) == b"+"


def test_cmakes_own_file_operations_run_at_once_without_a_slot(
    tmp_path: Path, job: list[str], fifo: tuple[Path, int]
) -> None:
    """A custom command that copies a file (which a link may wait for) does not queue
    behind the compiles for a slot; anything else CMake runs with -E still does."""
    path, fd = fifo  # no token in it
    cmake = tmp_path / "bin" / "cmake"  # a stand-in, found by its name
    cmake.parent.mkdir()
    cmake.symlink_to(job[1])
    launcher = job[0]
    done = subprocess.run(
        [launcher, str(cmake), "-E", "copy_if_different", "a", "b"],
        env=jobserver_env(path), capture_output=True, text=True, timeout=30, check=True,
    )  # fmt: skip
    assert done.stdout.startswith("args=-E copy_if_different a b fifo=unset makeflags=unset")
    assert tokens(fd) == b""
    waiting = [
        [launcher, str(cmake), "-E", "env", "X=1", "cc"],  # runs another command
        [launcher, str(cmake), "-E", "sha256sum", "big"],
        [launcher, str(job[1]), "-E", "copy", "a", "b"],  # not CMake
        [launcher, "--link", str(cmake), "-E", "copy", "a", "b"],  # not a custom command
    ]
    for command in waiting:
        proc = subprocess.Popen(command, env=jobserver_env(path), stdout=subprocess.PIPE)
        time.sleep(0.3)
        assert proc.poll() is None, f"{command[1:]} ran without a slot"
        os.write(fd, b"+")
        proc.communicate(timeout=30)
        assert tokens(fd) == b"+"


def test_a_launcher_inside_a_job_takes_no_second_slot(
    job: list[str], fifo: tuple[Path, int]
) -> None:
    """A nested build (a custom command that builds another project) under one slot
    of a -j 1 jobserver would otherwise wait forever."""
    path, fd = fifo
    os.write(fd, b"+")
    done = subprocess.run(
        [job[0], *job], env=jobserver_env(path), capture_output=True, text=True, timeout=30,
        check=False,
    )  # fmt: skip
    assert done.returncode == 0
    assert done.stdout.startswith("args= fifo=unset makeflags=-j2 ")
    assert tokens(fd) == b"+"


def test_without_the_fifo_variable_the_job_runs_as_it_would_alone(job: list[str]) -> None:
    done = subprocess.run(
        job,
        check=False,
        env={k: v for k, v in os.environ.items() if k not in (FIFO_ENV, MAKEFLAGS_ENV)},
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert done.returncode == 0
    assert done.stdout.strip() == "args= fifo=unset makeflags=unset"


def test_a_stopped_job_gives_its_token_back(job: list[str], fifo: tuple[Path, int]) -> None:
    path, fd = fifo
    os.write(fd, b"+")
    proc = subprocess.Popen(
        job, env=jobserver_env(path, STAND_IN_SLEEP="30"), stdout=subprocess.DEVNULL,
        start_new_session=True,
    )  # fmt: skip
    time.sleep(0.5)
    assert proc.poll() is None
    assert tokens(fd) == b"", "the running job holds the token"
    os.killpg(proc.pid, signal.SIGTERM)
    proc.wait(timeout=10)
    assert tokens(fd) == b"+"


def test_the_launcher_keeps_its_path_from_run_to_run(job: list[str]) -> None:
    assert str(slot_launcher()) == job[0]
    assert Path(job[0]).parent.parent.name == "job-slot"


LINK_STAND_IN = """#!/bin/sh
if {{ true >&4; }} 2>/dev/null; then fd4=open; else fd4=closed; fi
echo "args=$* makeflags=${{MAKEFLAGS-unset}} fd4=$fd4"
"""


def test_a_link_gets_the_jobserver_as_a_descriptor(
    job: list[str], fifo: tuple[Path, int], tmp_path: Path
) -> None:
    """GCC's LTO driver before GCC 13 reads only the `R,W` form; with the FIFO form it
    runs as many code generation jobs as there are cores, whatever the budget."""
    path, fd = fifo
    stand_in = tmp_path / "stand in" / "ld"
    stand_in.write_text(LINK_STAND_IN.format())
    stand_in.chmod(0o755)
    os.write(fd, b"+")
    done = subprocess.run(
        [job[0], "--link", str(stand_in), "-o", "x.so"], env=jobserver_env(path),
        capture_output=True, text=True, timeout=30, check=False,
    )  # fmt: skip
    assert done.stdout.strip() == "args=-o x.so makeflags=-j2 --jobserver-auth=4,4 fd4=open"
    assert tokens(fd) == b"+"
    alone = subprocess.run(
        [job[0], "--link", str(stand_in), "-o", "x.so"],
        env={k: v for k, v in os.environ.items() if k not in (FIFO_ENV, MAKEFLAGS_ENV)},
        capture_output=True, text=True, timeout=30, check=False,
    )  # fmt: skip
    assert alone.stdout.strip() == "args=-o x.so makeflags=unset fd4=closed"


@pytest.fixture
def gate(fifo: tuple[Path, int], tmp_path: Path) -> Path:
    """A closed gate FIFO, and one token in the jobserver's."""
    path = tmp_path / "gate"
    os.mkfifo(path)
    os.write(fifo[1], b"+")
    return path


def test_a_gated_compile_waits_for_the_gate_holding_no_token(
    job: list[str], fifo: tuple[Path, int], gate: Path
) -> None:
    path, fd = fifo
    env = jobserver_env(path, **{GATE_ENV: str(gate), GATE_UNLESS_ENV: "-march=x86-64-v3"})
    waiting = subprocess.Popen(
        [job[0], "--compile", *job[1:], "-O2", "-c", "shared.c"],
        env=env, stdout=subprocess.PIPE, text=True,
    )  # fmt: skip
    time.sleep(0.5)
    assert waiting.poll() is None, "the gated compile ran before the gate opened"
    # It holds no token while it waits: another job runs on the only one meanwhile.
    own = subprocess.run(
        [job[0], "--compile", *job[1:], "-march=x86-64-v3", "-c", "own.c"],
        env=env, capture_output=True, text=True, timeout=30, check=False,
    )  # fmt: skip
    assert own.returncode == 0
    assert "own.c" in own.stdout
    link = subprocess.run(
        [job[0], "--link", *job[1:], "-o", "lib.so"],
        env=env, capture_output=True, text=True, timeout=30, check=False,
    )  # fmt: skip
    assert link.returncode == 0, "links do not wait at the gate"
    assert waiting.poll() is None
    opened = os.open(gate, os.O_RDWR | os.O_NONBLOCK)  # what Jobserver.open_gate does
    try:
        out = waiting.communicate(timeout=30)[0]
        assert waiting.returncode == 0
        # The job sees none of the gate's variables.
        assert out.startswith("args=-O2 -c shared.c fifo=unset ")
        assert tokens(fd) == b"+"
        os.write(fd, b"+")
        later = subprocess.run(
            [job[0], "--compile", *job[1:], "-c", "later.c"],
            env=env, capture_output=True, text=True, timeout=30, check=False,
        )  # fmt: skip
        assert later.returncode == 0, "once open, the gate lets every compile through"
    finally:
        os.close(opened)


def test_a_gate_without_an_own_flag_holds_every_compile(
    job: list[str], fifo: tuple[Path, int], gate: Path
) -> None:
    env = jobserver_env(fifo[0], **{GATE_ENV: str(gate)})
    waiting = subprocess.Popen(
        [job[0], "--compile", *job[1:], "-march=x86-64-v3", "-c", "a.c"], env=env,
        stdout=subprocess.DEVNULL,
    )  # fmt: skip
    time.sleep(0.5)
    assert waiting.poll() is None
    waiting.kill()
    waiting.wait(30)


def test_a_link_finds_the_lto_cache_shim_first_on_compiler_path(
    tmp_path: Path, fifo: tuple[Path, int], monkeypatch: pytest.MonkeyPatch
) -> None:
    """GCC looks for its lto-wrapper on COMPILER_PATH: with the LTO cache on, a link
    gets the shim's folder in front of the user's own entries; a compile does not."""
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    path, fd = fifo
    stand_in = tmp_path / "ld-stand-in"
    stand_in.write_text('#!/bin/sh\necho "path=${COMPILER_PATH-unset}"\n')
    stand_in.chmod(0o755)
    env = jobserver_env(path, POLYWHEEL_LTO_SHIM="/shim dir", COMPILER_PATH="/own")
    for kind, expected in (("--link", "/shim dir:/own"), ("--compile", "/own")):
        os.write(fd, b"+")
        done = subprocess.run(
            [str(slot_launcher()), kind, str(stand_in)], env=env,
            capture_output=True, text=True, timeout=30, check=True,
        )  # fmt: skip
        assert done.stdout.strip() == f"path={expected}"
        assert tokens(fd) == b"+"
    os.write(fd, b"+")
    env.pop("COMPILER_PATH")
    done = subprocess.run(
        [str(slot_launcher()), "--link", str(stand_in)], env=env,
        capture_output=True, text=True, timeout=30, check=True,
    )  # fmt: skip
    assert done.stdout.strip() == "path=/shim dir"
