"""A project whose build runs GNU make before 4.4 under the matrix's jobserver.

Make before 4.4 stops on the FIFO form of `--jobserver-auth` that ninja 1.13 needs
(`invalid --jobserver-auth string`); polywheel puts a `make` first on the build's PATH
that runs the real one without it (cmake/old_make.py).
"""

from __future__ import annotations

import re
import shutil
import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest
from conftest import polywheel

from polywheel.cmake.old_make import make_shim_dir

pytestmark = pytest.mark.compile


def _old_gnu_make() -> bool:
    make = shutil.which("make")
    if make is None:
        return False
    out = subprocess.run([make, "--version"], capture_output=True, text=True, check=False).stdout
    match = re.match(r"GNU Make (\d+)\.(\d+)", out)
    return bool(match) and (int(match.group(1)), int(match.group(2))) < (4, 4)


@pytest.mark.skipif(not _old_gnu_make(), reason="no GNU make older than 4.4 on PATH")
def test_a_make_run_by_the_build_works_under_the_jobserver(
    copy_project: Callable[[str], Path],
) -> None:
    project = copy_project("simple_c")
    (project / "sub").mkdir()
    (project / "sub" / "Makefile").write_text("all:\n\t@echo sub-make ran with [$(MAKEFLAGS)]\n")
    cmake = project / "CMakeLists.txt"
    cmake.write_text(
        cmake.read_text()
        + 'add_custom_target(sub_make ALL COMMAND make -C "${CMAKE_CURRENT_SOURCE_DIR}/sub")\n'
    )
    proc = polywheel(
        "build", "-o", "dist", "-j", "2", "--variant", "x86_64_v1", "--variant", "x86_64_v3",
        cwd=project, check=False,
    )  # fmt: skip
    assert "invalid --jobserver-auth" not in proc.stdout + proc.stderr
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "no jobserver" not in proc.stdout, "the jobserver was not in use: the test is void"
    logs = "".join(p.read_text(errors="replace") for p in project.rglob("*.log") if p.is_file())
    runs = re.findall(r"sub-make ran with \[([^\]]*)\]", logs)
    assert len(runs) == 2, "the sub-make ran once per variant"
    assert all("jobserver" not in flags for flags in runs), runs
    assert make_shim_dir() is not None
