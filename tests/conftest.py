from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

PACKAGES = Path(__file__).parent / "packages"

# The builds of the suite use the test venv's packages (offline, no environment to make);
# tests/test_buildenv.py takes this away to test the isolated build environments.
os.environ.setdefault("POLYWHEEL_NO_ISOLATION", "1")
EXAMPLES = Path(__file__).parent.parent / "examples"


def live_processes(holds: Callable[[Path], bool]) -> list[int]:
    """Pids of live (not zombie) processes whose /proc entry `holds` accepts; an entry
    that ends or cannot be read while it is looked at counts as not holding it."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            state = (entry / "stat").read_text().rsplit(")", 1)[1].split()[0]
            if state != "Z" and holds(entry):
                found.append(int(entry.name))
        except OSError:
            continue
    return found


def pytest_report_header() -> list[str]:
    lines = []
    for tool in ("cmake", "ninja", "gcc", "nvcc"):
        path = shutil.which(tool)
        lines.append(f"{tool}: {path or 'not found'}")
    return lines


@pytest.fixture
def copy_project(tmp_path: Path) -> Callable[[str], Path]:
    """Copy tests/packages/<name> (or examples/<name> with 'examples/' prefix) into tmp."""

    def copy(name: str) -> Path:
        source = (
            EXAMPLES / name.split("/", 1)[1] if name.startswith("examples/") else PACKAGES / name
        )
        target = tmp_path / source.name
        shutil.copytree(source, target, ignore=shutil.ignore_patterns("build", "dist"))
        return target

    return copy


def run(
    cmd: list[str], cwd: Path, env: dict[str, str] | None = None, check: bool = True
) -> subprocess.CompletedProcess[str]:
    full_env = {**os.environ, **(env or {})}
    proc = subprocess.run(cmd, cwd=cwd, env=full_env, capture_output=True, text=True, check=False)
    if check and proc.returncode != 0:
        raise AssertionError(f"{cmd} failed ({proc.returncode}):\n{proc.stdout}\n{proc.stderr}")
    return proc


def polywheel(
    *args: str, cwd: Path, env: dict[str, str] | None = None, check: bool = True
) -> subprocess.CompletedProcess[str]:
    return run([sys.executable, "-m", "polywheel", *args], cwd=cwd, env=env, check=check)


def isolated_build(project: Path, **env: str) -> subprocess.CompletedProcess[str]:
    """`polywheel build -o dist` in `project`, in its isolated build environment (the
    suite's default, POLYWHEEL_NO_ISOLATION, taken away), with `env` added; not checked."""
    full = {k: v for k, v in os.environ.items() if k != "POLYWHEEL_NO_ISOLATION"}
    cmd = [sys.executable, "-m", "polywheel", "build", "-o", "dist"]
    return subprocess.run(
        cmd, cwd=project, env={**full, **env}, capture_output=True, text=True, check=False
    )


def pep517_build(project: Path, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    """`python -m build --no-isolation -o dist ARGS` in the project."""
    cmd = [sys.executable, "-m", "build", "--no-isolation", "-o", "dist", *args]
    return run(cmd, cwd=project, check=check)


def needs(tool: str) -> pytest.MarkDecorator:
    return pytest.mark.skipif(shutil.which(tool) is None, reason=f"{tool} not found")
