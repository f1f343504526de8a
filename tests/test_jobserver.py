"""One job budget for the whole matrix: `polywheel build -j N` is a jobserver, and every
job of every variant's build takes its slot from it (pipeline/jobserver.py,
cmake/job_slots.py).

The compiles are timed by a compiler launcher the test sets as the project's own
CMAKE_C_COMPILER_LAUNCHER (which polywheel keeps, in place of its compiler cache): it
holds each compile a little longer, so that overlaps are clear, and records when each
one ran and in which variant's build folder.
"""

from __future__ import annotations

import itertools
import os
import re
import shutil
import signal
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest
from conftest import polywheel
from test_faults import needs_linux, processes_with, wait_for

pytestmark = [
    pytest.mark.compile,
    pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="the jobserver is a POSIX FIFO"),
]

TIMING_LAUNCHER = """\
#!{python}
import os, subprocess, sys, time
start = time.time()
time.sleep({hold})
status = subprocess.call(sys.argv[1:])
end = time.time()
with open({log!r}, "a") as f:
    f.write(f"{{start}} {{end}} {{os.getcwd()}}\\n")
sys.exit(status)
"""


def timing_launcher(folder: Path, hold: float = 0.3) -> tuple[Path, Path]:
    log = folder / "compiles.log"
    script = folder / "timing-launcher"
    script.write_text(TIMING_LAUNCHER.format(python=sys.executable, hold=hold, log=str(log)))
    script.chmod(0o755)
    return script, log


def compiles(log: Path) -> list[tuple[float, float, str]]:
    rows = []
    for line in log.read_text().splitlines():
        start, end, cwd = line.split(" ", 2)
        rows.append((float(start), float(end), Path(cwd).name))
    return rows


def running(rows: list[tuple[float, float, str]]) -> list[tuple[float, int]]:
    """(time, compiles running from then on) at every start and end."""
    events = sorted([(s, 1) for s, _, _ in rows] + [(e, -1) for _, e, _ in rows])
    now, timeline = 0, []
    for when, step in events:
        now += step
        timeline.append((when, now))
    return timeline


def time_with(timeline: list[tuple[float, int]], count: int, start: float, end: float) -> float:
    total = 0.0
    for (when, now), (after, _) in itertools.pairwise(timeline):
        lo, hi = max(when, start), min(after, end)
        if now >= count and hi > lo:
            total += hi - lo
    return total


def build_with_two_jobs(
    project: Path, launcher: Path, *settings: str
) -> subprocess.CompletedProcess[str]:
    """`polywheel build -j 2` with the timing launcher as the project's own (which
    replaces the compiler cache anyway: without the cache, no variant goes first to
    fill it, and the builds start together)."""
    options = [f"cmake.define.CMAKE_C_COMPILER_LAUNCHER={launcher}", *settings]
    return polywheel(
        "build", "-o", "dist", "-j", "2", *(f"-C{option}" for option in options),
        cwd=project, env={"CCACHE_DISABLE": "1"},
    )  # fmt: skip


def rules(project: Path, label: str) -> str:
    """The ninja rules of `label`'s build folder."""
    return next((project / "build").glob(f"*/{label}/CMakeFiles/rules.ninja")).read_text()


def test_three_variants_share_two_jobs_until_the_last_compile(
    copy_project: Callable[[str], Path], tmp_path: Path
) -> None:
    project = copy_project("many_tus")
    launcher, log = timing_launcher(tmp_path)
    result = build_with_two_jobs(project, launcher)
    # One build more than jobs: each job takes its slot itself (cmake/job_slots.py),
    # so the third build configures while two compile.
    assert "3 variant(s) of many-tus, 3 at a time sharing 2 compile job(s) through a jobserver" in (
        result.stdout
    )
    build_log = (project / "build" / "polywheel-logs" / "x86_64_v3.log").read_text()
    assert "polywheel: keeping the project's CMAKE_C_COMPILER_LAUNCHER" in build_log
    assert "Jobserver mode" not in build_log, "ninja itself must not be a jobserver client"
    assert re.search(r"/job-slot/[0-9a-f]+/launch ", rules(project, "x86_64_v3"))
    rows = compiles(log)
    assert len(rows) == 3 * 9
    timeline = running(rows)
    assert max(now for _, now in timeline) == 2, "never more compiles than -j"
    assert {label for _, _, label in rows} == {"x86_64_v1", "x86_64_v3", "x86_64_v4"}
    # Both jobs stay busy from the first compile to the last, the tail included, where
    # the variant that compiles last runs alone.
    start, end = min(s for s, _, _ in rows), max(e for _, e, _ in rows)
    overlap = time_with(timeline, 2, start, end) / (end - start)
    assert overlap > 0.65, f"two compiles ran for only {overlap:.0%} of the compiles' span"


@pytest.mark.parametrize(
    ("scope", "units"),
    [("TARGET common", 6), ("DIRECTORY", 9)],  # the common target's units; all nine
)
def test_a_rule_launcher_of_the_project_runs_on_a_slot_too(
    copy_project: Callable[[str], Path], tmp_path: Path, scope: str, units: int
) -> None:
    """A project that sets CMake's rule launcher itself, for one target or for its
    top-level directory, after polywheel set it globally: the slot launcher still goes
    first, so never more than -j."""
    project = copy_project("many_tus")
    launcher, log = timing_launcher(tmp_path, hold=0.2)
    cmake = project / "CMakeLists.txt"
    cmake.write_text(
        cmake.read_text() + f'set_property({scope} PROPERTY RULE_LAUNCH_COMPILE "{launcher}")\n'
    )
    result = polywheel(
        "build", "-o", "dist", "-j", "2", cwd=project, env={"CCACHE_DISABLE": "1"}
    )  # fmt: skip
    assert "3 at a time sharing 2 compile job(s) through a jobserver" in result.stdout
    own = rf"/job-slot/[0-9a-f]+/launch --compile {re.escape(str(launcher))} "
    assert re.search(own, rules(project, "x86_64_v1"))
    rows = compiles(log)
    assert len(rows) == 3 * units
    assert max(now for _, now in running(rows)) <= 2, "never more compiles than -j"


def fake_ninja(folder: Path, version: str) -> Path:
    """A `ninja` that says it is `version` and runs the real one."""
    from ninja import BIN_DIR

    folder.mkdir()
    script = folder / "ninja"
    script.write_text(
        f'#!/bin/sh\nif [ "$1" = --version ]; then echo {version}; exit 0; fi\n'
        f'exec "{Path(BIN_DIR) / "ninja"}" "$@"\n'
    )
    script.chmod(0o755)
    return folder


def test_a_ninja_older_than_1_13_shares_the_jobserver_too(
    copy_project: Callable[[str], Path], tmp_path: Path
) -> None:
    """ninja is no jobserver client here (each job takes its own slot), so its version
    does not matter."""
    project = copy_project("simple_c")
    old = fake_ninja(tmp_path / "bin", "1.12.1")
    # In front of the venv's own scripts, as in an activated venv (polywheel puts them
    # first on PATH only when they are not on it at all).
    scripts = Path(sys.executable).parent
    result = polywheel(
        "build", "-o", "dist", "-j", "2", "-C", "ninja.version=<1.13",
        cwd=project,
        env={"PATH": os.pathsep.join([str(old), str(scripts), os.environ["PATH"]])},
    )  # fmt: skip
    assert "3 variant(s) of simple-c, 3 at a time sharing 2 compile job(s)" in result.stdout
    assert "no jobserver" not in result.stdout
    cache = next((project / "build").glob("*/x86_64_v1/CMakeCache.txt")).read_text()
    assert f"CMAKE_MAKE_PROGRAM:UNINITIALIZED={old / 'ninja'}" in cache.splitlines()
    assert re.search(r"/job-slot/[0-9a-f]+/launch ", rules(project, "x86_64_v1"))


@pytest.mark.skipif(shutil.which("make") is None, reason="make not found")
def test_another_generator_gets_a_fixed_share(
    copy_project: Callable[[str], Path],
) -> None:
    project = copy_project("simple_c")
    result = polywheel(
        "build", "-o", "dist", "-j", "2", "--variant", "x86_64_v1", "--variant", "x86_64_v3",
        cwd=project,
        env={"CMAKE_GENERATOR": "Unix Makefiles"},
    )  # fmt: skip
    assert (
        "*** no jobserver: the CMake generator is 'Unix Makefiles', not Ninja; each variant "
        "gets a fixed share of the jobs"
    ) in result.stdout.splitlines()


def jobserver_folders(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir() if "-jobserver-" in p.name)


@needs_linux
@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT])
def test_a_signal_removes_the_fifo(
    copy_project: Callable[[str], Path], tmp_path: Path, signum: int
) -> None:
    project = copy_project("slow")
    scratch = tmp_path / "tmp"
    scratch.mkdir()
    seconds = 941 + int(signum)
    proc = subprocess.Popen(
        [sys.executable, "-m", "polywheel", "build", "-o", "dist",
         "-C", f"cmake.define.SLOW_SECONDS={seconds}"],
        cwd=project, env={**os.environ, "TMPDIR": str(scratch)},
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    wait_for(lambda: bool(processes_with(str(seconds))), 120, "the slow build step to start")
    assert jobserver_folders(scratch) == [_folder_of(proc.pid, scratch)]
    proc.send_signal(signum)
    proc.communicate(timeout=60)
    assert proc.returncode == 128 + signum
    assert jobserver_folders(scratch) == []


def _folder_of(pid: int, scratch: Path) -> str:
    names = [n for n in jobserver_folders(scratch) if n.startswith(f".polywheel-{pid}-")]
    assert len(names) == 1
    return names[0]


@needs_linux
def test_the_fifo_of_a_killed_run_is_removed_by_the_next(
    copy_project: Callable[[str], Path], tmp_path: Path
) -> None:
    project = copy_project("slow")
    scratch = tmp_path / "tmp"
    scratch.mkdir()
    env = {"TMPDIR": str(scratch)}
    proc = subprocess.Popen(
        [sys.executable, "-m", "polywheel", "build", "-o", "dist", "--variant", "x86_64_v1",
         "-C", "cmake.define.SLOW_SECONDS=951"],
        cwd=project, env={**os.environ, **env},
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    wait_for(lambda: bool(processes_with("951")), 120, "the slow build step to start")
    left = _folder_of(proc.pid, scratch)
    proc.kill()
    proc.communicate(timeout=30)
    wait_for(lambda: not processes_with("951"), 15, "the orphaned build processes to end")
    assert jobserver_folders(scratch) == [left]
    rerun = polywheel(
        "build", "-o", "dist", "--variant", "x86_64_v1", "-C", "cmake.define.SLOW_SECONDS=0",
        cwd=project, env=env,
    )  # fmt: skip
    assert f"removed {left}, left behind by a polywheel run that was killed" in rerun.stdout
    assert jobserver_folders(scratch) == []


LINK_LAUNCHER = """#!/bin/sh
# Runs a make inside the link, as GCC's LTO driver does, then the link itself.
make -s -C {sub} >> {log} 2>&1
exec "$@"
"""


@pytest.mark.skipif(shutil.which("make") is None, reason="make not found")
def test_a_make_inside_a_link_takes_its_jobs_from_the_jobserver(
    copy_project: Callable[[str], Path], tmp_path: Path
) -> None:
    """A link gets the jobserver as descriptors (`R,W`), the form GCC's LTO driver
    reads before GCC 13 and every GNU make since 4.2 (cmake/job_slots.py): the make it
    runs for its code generation jobs joins the budget instead of using every core."""
    project = copy_project("simple_c")
    sub, log = tmp_path / "sub", tmp_path / "link.log"
    sub.mkdir()
    (sub / "Makefile").write_text("all:\n\t@echo make in a link with [$(MAKEFLAGS)]\n")
    launcher = tmp_path / "link-launcher"
    launcher.write_text(LINK_LAUNCHER.format(sub=sub, log=log))
    launcher.chmod(0o755)
    polywheel(
        "build", "-o", "dist", "-j", "2", "--variant", "x86_64_v1", "--variant", "x86_64_v3",
        f"-Ccmake.define.CMAKE_C_LINKER_LAUNCHER={launcher}",
        cwd=project,
    )  # fmt: skip
    runs = re.findall(r"make in a link with \[([^\]]*)\]", log.read_text())
    assert len(runs) == 2, log.read_text()
    assert all(re.search(r"--jobserver-auth=4,4\b", flags) for flags in runs), runs
    assert "invalid --jobserver-auth" not in log.read_text()
