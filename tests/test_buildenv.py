"""Isolated build environments: a nanobind project built by a polywheel installed alone
in a venv, the environment cached between runs, and `--no-isolation` refusing early."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from conftest import run

from polywheel.pipeline.buildenv import find_uv

pytestmark = [pytest.mark.compile, pytest.mark.network]

ROOT = Path(__file__).parent.parent


def _index_reachable() -> bool:
    if os.environ.get("UV_OFFLINE"):
        return False
    try:
        socket.create_connection(("pypi.org", 443), timeout=3).close()
    except OSError:
        return False
    return True


@pytest.fixture(scope="module")
def lone_polywheel(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """A venv with polywheel (built from this tree) and its dependencies, nothing else;
    its `polywheel` script, to be run without activating the venv."""
    uv = find_uv()
    if uv is None:
        pytest.skip("uv not found")
    if not _index_reachable():
        pytest.skip("PyPI is not reachable")
    tmp = tmp_path_factory.mktemp("lone")
    run([uv, "build", "--wheel", "-q", "-o", str(tmp / "wheels"), str(ROOT)], cwd=tmp)
    run([uv, "venv", "-q", "--python", sys.executable, str(tmp / "venv")], cwd=tmp)
    wheel = next((tmp / "wheels").glob("polywheel-*.whl"))
    run([uv, "pip", "install", "-q", "--python", str(tmp / "venv/bin/python"), str(wheel)], cwd=tmp)
    yield tmp / "venv" / "bin" / "polywheel"


def _env(tmp: Path) -> dict[str, str]:
    env = {
        k: v for k, v in os.environ.items() if k not in {"POLYWHEEL_NO_ISOLATION", "VIRTUAL_ENV"}
    }
    # Not activated: the venv's scripts are not on PATH.
    env["PATH"] = os.pathsep.join(p for p in env["PATH"].split(os.pathsep) if ".venv" not in p)
    env["XDG_CACHE_HOME"] = str(tmp / "cache")
    env["UV"] = str(find_uv())  # uv is not on the trimmed PATH
    return env


def _polywheel(
    script: Path, *args: str, cwd: Path, tmp: Path, check: bool = True
) -> subprocess.CompletedProcess[str]:
    """The script alone in its environment: conftest.run would bring back the suite's
    POLYWHEEL_NO_ISOLATION."""
    proc = subprocess.run(
        [str(script), *args], cwd=cwd, env=_env(tmp), capture_output=True, text=True, check=False
    )
    if check and proc.returncode != 0:
        raise AssertionError(f"{args} failed ({proc.returncode}):\n{proc.stdout}\n{proc.stderr}")
    return proc


def _envs(tmp: Path) -> list[str]:
    folder = tmp / "cache" / "polywheel" / "envs"
    return sorted(p.name for p in folder.iterdir() if p.is_dir())


def test_nanobind_project_builds_in_its_own_environment(
    lone_polywheel: Path, copy_project: Callable[[str], Path], tmp_path: Path
) -> None:
    project = copy_project("nanobind_ext")
    first = _polywheel(lone_polywheel, "build", "-o", "dist", cwd=project, tmp=tmp_path)
    assert "*** creating the build environment" in first.stdout
    assert len(_envs(tmp_path)) == 1
    assert next((project / "dist").glob("nb_ext-*-x86_64_v1.whl"))
    plain = next((project / "dist").glob("nb_ext-*_x86_64.whl"))
    log = (project / "build" / "polywheel-logs" / "x86_64_v1.log").read_text()
    assert f"Found Python: {tmp_path / 'cache'}" in log  # CMake saw the environment's Python
    # Its jobs take their jobserver slots through polywheel's launcher, and its ninja is
    # the environment's (the one scikit-build-core picks there), not polywheel's own.
    build_dir = next((project / "build").glob("**/x86_64_v1/CMakeCache.txt")).parent
    cache = (build_dir / "CMakeCache.txt").read_text()
    (make,) = [line for line in cache.splitlines() if line.startswith("CMAKE_MAKE_PROGRAM:")]
    assert make.split("=", 1)[1].startswith(str(tmp_path / "cache" / "polywheel" / "envs"))
    launcher = tmp_path / "cache" / "polywheel" / "job-slot"
    assert str(launcher) in (build_dir / "CMakeFiles" / "rules.ninja").read_text()

    venv_python = lone_polywheel.parent / "python"
    uv = find_uv()
    assert uv is not None
    run([uv, "pip", "install", "-q", "--python", str(venv_python), str(plain)], cwd=tmp_path)
    assert (
        run([str(venv_python), "-c", "import nb_ext; print(nb_ext.add(2, 3))"], cwd=tmp_path).stdout
        == "5\n"
    )

    # The second run finds the environment made by the first, and the build unchanged.
    second = _polywheel(lone_polywheel, "build", "-o", "dist", cwd=project, tmp=tmp_path)
    assert "(cached)" in second.stdout
    assert "creating the build environment" not in second.stdout
    assert "unchanged since the last build" in second.stdout
    assert len(_envs(tmp_path)) == 1

    # Without isolation, the venv lacks nanobind: one error, before CMake, no wheel.
    refused = _polywheel(
        lone_polywheel,
        "build",
        "-o",
        "dist2",
        "--no-isolation",
        cwd=project,
        tmp=tmp_path,
        check=False,
    )
    assert refused.returncode == 1
    errors = [line for line in refused.stderr.splitlines() if "error" in line]
    assert len(errors) == 1
    assert "nanobind>=2 (not installed)" in errors[0]
    assert not (project / "dist2").exists(), "a refused run leaves no empty output folder"


def test_unresolvable_requirement_is_one_error(
    lone_polywheel: Path, copy_project: Callable[[str], Path], tmp_path: Path
) -> None:
    project = copy_project("nanobind_ext")
    pyproject = project / "pyproject.toml"
    pyproject.write_text(
        pyproject.read_text().replace('"nanobind>=2"', '"polywheel-no-such-package-xyz>=1"')
    )
    proc = _polywheel(lone_polywheel, "build", "-o", "dist", cwd=project, tmp=tmp_path, check=False)
    assert proc.returncode == 1
    errors = [line for line in proc.stderr.splitlines() if "error" in line]
    assert len(errors) == 1
    assert "polywheel-no-such-package-xyz>=1" in errors[0]
    assert _envs(tmp_path) == []
    assert not list((project / "dist").glob("*.whl"))
    assert subprocess.run(["pgrep", "-f", "polywheel-no-such"], check=False).returncode == 1


def test_variants_with_other_build_requires_get_their_own_environment(
    lone_polywheel: Path, copy_project: Callable[[str], Path], tmp_path: Path
) -> None:
    project = copy_project("simple_c")
    pyproject = project / "pyproject.toml"
    text = pyproject.read_text().replace(
        'properties = ["x86_64 :: level :: v3"]',
        'properties = ["x86_64 :: level :: v3"]\nbuild-requires = ["six"]',
    )
    pyproject.write_text(text)
    out = _polywheel(
        lone_polywheel, "build", "--variant", "x86_64_v1", "--variant", "x86_64_v3",
        "--variant", "x86_64_v4", "-o", "dist", cwd=project, tmp=tmp_path,
    )  # fmt: skip
    assert out.stdout.count("*** creating the build environment") == 2
    assert len(_envs(tmp_path)) == 2
    assert len(list((project / "dist").glob("simple_c-*-x86_64_v*.whl"))) == 3
