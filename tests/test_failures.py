"""Failures: a clear error naming the variant or key, and no partial output."""

from __future__ import annotations

import zipfile
from collections.abc import Callable
from pathlib import Path

import pytest
from conftest import pep517_build, polywheel
from wheel_utils import call_in_wheel, skip_unless_host_runs

pytestmark = pytest.mark.compile

FAILING_VARIANT = """
[[tool.variants.variant]]
label = "broken"
properties = ["x86_64 :: level :: v2"]
cmake-define = { SIMPLE_FAIL = "ON" }
"""


def add_to_pyproject(project: Path, text: str) -> None:
    path = project / "pyproject.toml"
    path.write_text(path.read_text() + text)


def wheels(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.glob("*.whl")) if folder.exists() else []


def test_failing_variant_is_named_and_the_others_finish(
    copy_project: Callable[[str], Path],
) -> None:
    project = copy_project("simple_c")
    add_to_pyproject(project, FAILING_VARIANT)
    proc = polywheel("build", "-o", "dist", cwd=project, check=False)
    assert proc.returncode == 1
    assert "variant 'broken'" in proc.stderr
    log = project / "build" / "polywheel-logs" / "broken.log"
    assert str(log) in proc.stdout + proc.stderr
    assert "configure fails on purpose" in log.read_text()
    assert "configure fails on purpose" in proc.stdout, "the log tail is shown"
    built = wheels(project / "dist")
    assert len(built) == 4 and not any("broken" in name for name in built)
    assert not list((project / "dist").glob("*.json")), "no index for an incomplete matrix"
    assert not list((project / "dist").glob(".*")), "no staging leftovers"


def test_pep517_all_is_all_or_nothing(copy_project: Callable[[str], Path]) -> None:
    project = copy_project("simple_c")
    add_to_pyproject(project, FAILING_VARIANT)
    proc = pep517_build(project, "--wheel", "-C", "variant-label=:all:", check=False)
    assert proc.returncode != 0
    assert wheels(project / "dist") == []
    assert not list((project / "dist").glob(".*"))


def test_fallback_pure_wheel_is_never_labelled(copy_project: Callable[[str], Path]) -> None:
    project = copy_project("fallback")
    proc = polywheel("build", "-o", "dist", cwd=project, check=False)
    assert proc.returncode == 1
    assert "pure-Python wheel" in proc.stderr
    assert wheels(project / "dist") == []


def test_bad_config_names_the_key_and_writes_nothing(copy_project: Callable[[str], Path]) -> None:
    project = copy_project("simple_c")
    add_to_pyproject(
        project,
        '\n[[tool.variants.variant]]\nlabel = "X86_V2"\nproperties = ["x86_64 :: level :: v2"]\n',
    )
    proc = polywheel("build", "-o", "dist", cwd=project, check=False)
    assert proc.returncode == 1
    assert "`tool.variants.variant[3].label`" in proc.stderr
    assert "'X86_V2' is not a valid variant label" in proc.stderr
    assert "hint: use 'x86_v2'" in proc.stderr
    assert not (project / "dist").exists()


def test_user_flags_do_not_drop_variant_flags(
    copy_project: Callable[[str], Path], tmp_path: Path
) -> None:
    project = copy_project("simple_c")
    env = {"CMAKE_ARGS": "-DCMAKE_C_FLAGS=-O1", "CFLAGS": "-march=x86-64"}
    polywheel("build", "-o", "dist", "--variant", "x86_64_v3", cwd=project, env=env)
    (wheel,) = (project / "dist").glob("*-x86_64_v3.whl")
    features = call_in_wheel(wheel, tmp_path, "__import__('simple_c').features()")
    assert features["avx2"] is True


def test_users_project_include_is_chained(
    copy_project: Callable[[str], Path], tmp_path: Path
) -> None:
    project = copy_project("simple_c")
    user = project / "user_include.cmake"
    user.write_text('file(WRITE "${CMAKE_BINARY_DIR}/user-include-ran" "yes")\n')
    env = {"CMAKE_ARGS": f"-DCMAKE_PROJECT_INCLUDE={user}"}
    polywheel("build", "-o", "dist", "--variant", "x86_64_v3", cwd=project, env=env)
    assert list((project / "build").glob("*/x86_64_v3/user-include-ran"))
    (wheel,) = (project / "dist").glob("*-x86_64_v3.whl")
    assert call_in_wheel(wheel, tmp_path, "__import__('simple_c').features()")["avx2"] is True


def test_targets_mode_flags_only_chosen_targets(
    copy_project: Callable[[str], Path], tmp_path: Path
) -> None:
    project = copy_project("targets_mode")
    polywheel("build", "-o", "dist", cwd=project)
    (wheel,) = (project / "dist").glob("*-x86_64_v4.whl")
    # What was compiled is checked on any host: only the flagged target saw -march=x86-64-v4.
    with zipfile.ZipFile(wheel) as zf:
        marked = {
            Path(name).name.split(".")[0]: b"probe-compiled-with-avx512f" in zf.read(name)
            for name in zf.namelist()
            if name.endswith(".so")
        }
    assert marked == {"_fast": True, "_baseline": False}
    skip_unless_host_runs("x86_64_v4")
    code = (
        "[__import__('importlib').import_module(f'targets_mode.{m}').avx512()"
        " for m in ('_fast', '_baseline')]"
    )
    assert call_in_wheel(wheel, tmp_path, code) == [True, False]


def test_targets_mode_without_flagged_target_fails(copy_project: Callable[[str], Path]) -> None:
    project = copy_project("targets_mode")
    proc = polywheel(
        "build",
        "-o",
        "dist",
        "--variant",
        "x86_64_v4",
        "-C",
        "cmake.define.SKIP_TARGET_FLAGS=ON",
        cwd=project,
        check=False,
    )
    assert proc.returncode == 1
    assert "polywheel_apply_variant_flags()" in proc.stderr
    # The error crosses from the worker process whole: its hint is not lost on the way.
    assert "hint: call polywheel_apply_variant_flags(<target>) in CMakeLists.txt" in proc.stderr
    assert wheels(project / "dist") == []
