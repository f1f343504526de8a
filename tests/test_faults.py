"""Faults leave nothing behind: signals, a killed run, two runs at once, partial matrices.

The `slow` package has a build step that sleeps for `SLOW_SECONDS`; each test gives it
a distinct value, so its processes can be found by their command line.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest
from conftest import live_processes, polywheel

pytestmark = pytest.mark.compile

needs_linux = pytest.mark.skipif(
    not sys.platform.startswith("linux"), reason="reads /proc and uses Linux's parent-death signal"
)


def processes_with(marker: str) -> list[int]:
    """Pids of live processes whose command line holds `marker` as one argument."""
    return live_processes(
        lambda entry: marker.encode() in (entry / "cmdline").read_bytes().split(b"\0")
    )


def wait_for(condition: Callable[[], bool], seconds: float, what: str) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.1)


def start_slow_build(project: Path, seconds: int, *args: str) -> subprocess.Popen[str]:
    cmd = [sys.executable, "-m", "polywheel", "build", "-o", "dist"]
    cmd += ["-C", f"cmake.define.SLOW_SECONDS={seconds}", *args]
    proc = subprocess.Popen(
        cmd, cwd=project, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    wait_for(lambda: bool(processes_with(str(seconds))), 120, "the slow build step to start")
    return proc


def scratch(dist: Path) -> list[str]:
    return sorted(p.name for p in dist.iterdir() if p.name.startswith(".polywheel-"))


@needs_linux
@pytest.mark.parametrize(
    ("signum", "status", "seconds"),
    [(signal.SIGTERM, 143, 931), (signal.SIGINT, 130, 932), (signal.SIGHUP, 129, 933)],
)
def test_a_signal_stops_workers_and_compilers(
    copy_project: Callable[[str], Path], signum: int, status: int, seconds: int
) -> None:
    project = copy_project("slow")
    proc = start_slow_build(project, seconds)
    proc.send_signal(signum)
    _out, err = proc.communicate(timeout=60)
    assert proc.returncode == status
    assert err.strip().splitlines() == [
        f"polywheel: build interrupted by {signal.Signals(signum).name}: stopped the builds and "
        "removed their scratch files; no index file was written"
    ]
    wait_for(lambda: not processes_with(str(seconds)), 10, "the build processes to end")
    dist = project / "dist"
    assert scratch(dist) == [] and not list(dist.glob("*.whl"))


def processes_in_environment(marker: str) -> list[int]:
    """Pids of live processes whose environment holds `marker` (KEY=VALUE)."""
    found = []
    for entry in Path("/proc").iterdir():
        try:
            if entry.name.isdigit() and marker.encode() in (entry / "environ").read_bytes():
                found.append(int(entry.name))
        except OSError:
            continue
    return found


@needs_linux
def test_workers_started_early_end_with_a_build_refused_before_it_runs(
    copy_project: Callable[[str], Path], tmp_path: Path
) -> None:
    """`polywheel build` starts its worker processes before it checks the output
    folder; a refusal there ends them too (no orphan keeps importing)."""
    project = copy_project("simple_c")
    marker = f"POLYWHEEL_TEST_RUN={tmp_path.name}"
    not_a_folder = project / "dist"
    not_a_folder.write_text("a file where the output folder should be")
    result = polywheel(
        "build", "-o", "dist", cwd=project, env=dict([marker.split("=", 1)]), check=False
    )
    assert result.returncode == 1 and "dist" in result.stderr
    wait_for(lambda: not processes_in_environment(marker), 10, "the workers to end")


def test_a_first_build_with_a_bad_matrix_leaves_no_worker_server(
    copy_project: Callable[[str], Path], tmp_path: Path
) -> None:
    """A first build starts the workers' server before it reads the project; a matrix
    refused then ends the server too."""
    project = copy_project("simple_c")
    pyproject = project / "pyproject.toml"
    pyproject.write_text(pyproject.read_text().replace("level :: v3", "level :: v9"))
    marker = f"POLYWHEEL_TEST_RUN={tmp_path.name}"
    result = polywheel(
        "build", "-o", "dist", cwd=project, env=dict([marker.split("=", 1)]), check=False
    )
    assert result.returncode == 1 and "'v9' is not one of" in result.stderr
    wait_for(lambda: not processes_in_environment(marker), 10, "the worker server to end")
    assert not (project / "dist").exists()


@needs_linux
def test_a_killed_run_takes_its_builds_along_and_the_next_run_cleans_up(
    copy_project: Callable[[str], Path],
) -> None:
    project = copy_project("slow")
    proc = start_slow_build(project, 934, "--variant", "x86_64_v1")
    proc.kill()
    proc.communicate(timeout=30)
    wait_for(lambda: not processes_with("934"), 15, "the orphaned build processes to end")
    dist = project / "dist"
    left = scratch(dist)
    assert left, "a killed run leaves its staging folder"
    rerun = polywheel(
        "build", "-o", "dist", "--variant", "x86_64_v1", "-C", "cmake.define.SLOW_SECONDS=0",
        cwd=project,
    )  # fmt: skip
    assert f"removed {left[0]}, left behind by a polywheel run that was killed" in rerun.stdout
    assert scratch(dist) == []


@needs_linux
def test_two_runs_at_once_take_turns(copy_project: Callable[[str], Path]) -> None:
    project = copy_project("slow")
    first = start_slow_build(project, 4, "--variant", "x86_64_v1")
    second = polywheel(
        "build", "-o", "dist", "--variant", "x86_64_v1", "-C", "cmake.define.SLOW_SECONDS=4",
        cwd=project,
    )  # fmt: skip
    first.communicate(timeout=120)
    assert first.returncode == 0
    assert "*** waiting for another polywheel run (pid " in second.stdout
    assert f"pid {first.pid})" in second.stdout
    assert len(list((project / "dist").glob("*-x86_64_v1.whl"))) == 1


def test_no_index_for_a_part_of_the_matrix(copy_project: Callable[[str], Path]) -> None:
    project = copy_project("slow")
    dist = project / "dist"
    proc = polywheel("build", "-o", "dist", "--variant", "x86_64_v3", cwd=project)
    assert "no index file: " in proc.stdout and "has no wheel of x86_64_v1 yet" in proc.stdout
    assert not list(dist.glob("*-variants.json"))
    # Once the other label's wheel is there too, the index lists both.
    polywheel("build", "-o", "dist", "--variant", "x86_64_v1", cwd=project)
    (index,) = dist.glob("*-variants.json")
    assert '"x86_64_v1"' in index.read_text() and '"x86_64_v3"' in index.read_text()


def test_a_failed_variant_removes_the_older_index(copy_project: Callable[[str], Path]) -> None:
    project = copy_project("simple_c")
    polywheel("build", "-o", "dist", cwd=project)
    assert list((project / "dist").glob("*-variants.json"))
    proc = polywheel(
        "build", "-o", "dist", "--variant", "x86_64_v3", "-C", "cmake.define.SIMPLE_FAIL=ON",
        cwd=project, check=False,
    )  # fmt: skip
    assert proc.returncode == 1
    assert not list((project / "dist").glob("*-variants.json")), "the old index claimed v3"


def test_a_label_too_long_for_a_filename_is_refused_before_cmake(
    copy_project: Callable[[str], Path],
) -> None:
    project = copy_project("simple_c")
    pyproject = project / "pyproject.toml"
    label = "v" * 250
    text = pyproject.read_text().replace('label = "x86_64_v4"', f'label = "{label}"')
    pyproject.write_text(text + "\n[tool.variants]\nmax-label-length = 0\n")
    proc = polywheel("build", "-o", "dist", "--variant", label, cwd=project, check=False)
    assert proc.returncode == 1
    assert "its wheel filename would be about" in proc.stderr
    assert f"over the limit of {os.pathconf(project, 'PC_NAME_MAX')}" in proc.stderr
    assert not any(p.name == label for p in (project / "build").rglob("*")), "CMake never ran"


def test_a_build_tool_dying_of_sigill_is_explained(copy_project: Callable[[str], Path]) -> None:
    project = copy_project("stubgen")
    proc = polywheel(
        "build", "-o", "dist", "-C", "cmake.define.STUBGEN_TRAP=ON", cwd=project, check=False
    )
    assert proc.returncode == 1
    assert "hint: a program built during the build (a stub generator, a test) died of an " in (
        proc.stderr
    )
    assert "illegal instruction" in proc.stderr
    # Without the trap the same project builds: the hint is about the failure, not the project.
    polywheel("build", "-o", "dist", "-C", "cmake.define.STUBGEN_TRAP=OFF", cwd=project)


def test_the_index_is_written_for_a_version_spelled_unnormalised(
    copy_project: Callable[[str], Path],
) -> None:
    """The wheels say 0.1.0.post1 where pyproject.toml says 0.1.0-post1: one release."""
    project = copy_project("slow")
    pyproject = project / "pyproject.toml"
    pyproject.write_text(pyproject.read_text().replace('"0.1.0"', '"0.1.0-post1"'))
    proc = polywheel("build", "-o", "dist", cwd=project)
    assert "no index file" not in proc.stdout
    assert (project / "dist" / "slow-0.1.0.post1-variants.json").is_file()
