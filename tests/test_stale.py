"""Nothing stale reaches a wheel: flags CMake caches follow the current environment."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from conftest import polywheel

pytestmark = pytest.mark.compile

V1 = ("build", "-o", "dist", "--variant", "x86_64_v1")


def test_a_changed_cflags_reaches_the_compiler(copy_project: Callable[[str], Path]) -> None:
    """CMake reads CFLAGS at the first configure only; polywheel starts the cache afresh."""
    project = copy_project("simple_c")
    first = polywheel(*V1, cwd=project, env={"CFLAGS": "-mavx2"}, check=False)
    assert first.returncode == 1 and "needs x86-64-v3 but the wheel claims x86-64-v1" in (
        first.stderr
    )
    again = polywheel(*V1, cwd=project, env={"CFLAGS": ""}, check=False)
    assert again.returncode == 0, again.stderr
    assert "ok (v1)" in again.stdout


def test_rebuild_starts_the_cmake_cache_afresh(copy_project: Callable[[str], Path]) -> None:
    project = copy_project("simple_c")
    polywheel(*V1, cwd=project)
    log = project / "build" / "polywheel-logs" / "x86_64_v1.log"
    (project / "src" / "_core.c").write_text((project / "src" / "_core.c").read_text() + "\n")
    polywheel(*V1, cwd=project)
    assert "compiler identification" not in log.read_text(), "an unchanged cache is kept"
    polywheel(*V1, "--rebuild", cwd=project)
    assert "compiler identification" in log.read_text(), "--rebuild configures afresh"
