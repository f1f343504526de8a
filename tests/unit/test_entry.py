"""The entry point starts the workers' server of a first `polywheel build` before it
imports the command line, and starts nothing for anything else."""

from __future__ import annotations

import os
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest
from conftest import live_processes

from polywheel.cli_args import NO_ISOLATION_ENV
from polywheel.entry import start_build_workers
from polywheel.pipeline import warm


@pytest.fixture
def started(monkeypatch: pytest.MonkeyPatch) -> list[list[str]]:
    calls: list[list[str]] = []

    def start(modules: list[str]) -> bool:
        calls.append(list(modules))
        return True

    monkeypatch.setattr(warm, "start_forkserver", start)
    monkeypatch.delenv(NO_ISOLATION_ENV, raising=False)
    return calls


def _project(folder: Path) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "pyproject.toml").write_text('[project]\nname = "demo"\nversion = "1"\n')
    return folder


def test_a_first_build_without_isolation_starts_the_server(
    tmp_path: Path, started: list[list[str]]
) -> None:
    project = str(_project(tmp_path))
    argv = ["build", "--no-isolation", "-j", "3", "-C", "cmake.python-hints=false", project]
    assert start_build_workers(argv)
    # The same imports the command line would ask for (-C read as it reads it).
    assert started == [["polywheel.pipeline.preload"]]


def test_the_environment_variable_counts_as_no_isolation(
    tmp_path: Path, started: list[list[str]], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(NO_ISOLATION_ENV, "1")
    assert start_build_workers(["build", "-o", "out", str(_project(tmp_path))])
    assert len(started) == 1


@pytest.mark.parametrize(
    "argv",
    [
        [],
        ["audit", "{project}"],
        ["build", "{project}"],  # isolated: each build in its environment's interpreter
        ["build", "--isolation", "{project}"],
        ["build", "--no-isolation", "--isolation", "{project}"],
        ["build", "--no-isolation", "--help"],
        ["build", "--no-isolation", "-j", "many", "{project}"],
        ["build", "--no-isolation", "--no-such-option", "{project}"],
        ["build", "--no-isolation", "{project}", "--", "auditwheel"],
        ["build", "--no-isolation", "{project}", "another"],
        ["build", "--no-isolation", "{project}/missing"],
    ],
)
def test_nothing_starts_for_anything_else(
    argv: list[str],
    tmp_path: Path,
    started: list[list[str]],
    capsys: pytest.CaptureFixture[str],
) -> None:
    project = str(_project(tmp_path / "p"))
    assert not start_build_workers([a.replace("{project}", project) for a in argv])
    assert started == []
    # The command line reports bad arguments; this first look says nothing.
    assert capsys.readouterr() == ("", "")


def test_a_project_built_before_starts_nothing(tmp_path: Path, started: list[list[str]]) -> None:
    project = _project(tmp_path)
    kept = project / "build" / "polywheel-cache" / "x86_64_v1"
    kept.mkdir(parents=True)
    (kept / "manifest.json").write_text("{}")
    assert not start_build_workers(["build", "--no-isolation", str(project)])
    assert started == []


def _processes_marked(mark: str) -> list[int]:
    variable = f"POLYWHEEL_TEST_MARK={mark}".encode()
    return live_processes(lambda entry: variable in (entry / "environ").read_bytes().split(b"\0"))


@pytest.mark.skipif(not Path("/proc/self/environ").exists(), reason="needs /proc")
def test_the_server_starts_before_the_command_line_and_ends_with_a_failed_run(
    tmp_path: Path,
) -> None:
    project = _project(tmp_path)
    with (project / "pyproject.toml").open("a") as f:
        f.write("[tool.variants]\nformt = 1\n")
    mark = uuid.uuid4().hex
    env = {**os.environ, "POLYWHEEL_TEST_MARK": mark}
    env.pop(NO_ISOLATION_ENV, None)
    done = subprocess.run(
        [sys.executable, "-X", "importtime", "-m", "polywheel", "build", "--no-isolation"],
        check=False,
        cwd=project,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 1
    assert "tool.variants.formt" in done.stderr
    imported = [line.rsplit("|", 1)[-1].strip() for line in done.stderr.splitlines()]
    assert imported.index("multiprocessing.forkserver") < imported.index("polywheel.cli")
    deadline = time.monotonic() + 10
    while _processes_marked(mark) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert _processes_marked(mark) == []
