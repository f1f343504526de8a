"""Labels off and on: defer-label builds, `polywheel relabel`, `polywheel repair`."""

from __future__ import annotations

import shutil
import sys
from collections.abc import Callable
from pathlib import Path

import pytest
from conftest import needs, pep517_build, polywheel, run
from wheel_utils import call_in_wheel, read_all_verified, variant_json

from polywheel.conformance.files import check_paths

pytestmark = pytest.mark.compile


def test_defer_label_then_relabel(copy_project: Callable[[str], Path], tmp_path: Path) -> None:
    project = copy_project("simple_c")
    args = ["--wheel", "--no-isolation", "-o", "dist", "-C", "variant-label=x86_64_v3"]
    run([sys.executable, "-m", "build", *args, "-C", "defer-label=true"], cwd=project)
    (plain_named,) = (project / "dist").glob("*.whl")
    assert plain_named.name.endswith("-linux_x86_64.whl"), "the filename stays plain"
    doc = variant_json(plain_named)
    assert doc is not None and list(doc["variants"]) == ["x86_64_v3"]
    # pip accepts the plain name (cibuildwheel tests with pip).
    run(
        [sys.executable, "-m", "pip", "install", "--dry-run", "--no-deps", str(plain_named)],
        cwd=tmp_path,
    )
    out = tmp_path / "labelled"
    polywheel("relabel", str(plain_named), "-o", str(out), cwd=tmp_path)
    (labelled,) = out.glob("*.whl")
    assert labelled.name == plain_named.name.replace(".whl", "-x86_64_v3.whl")
    assert read_all_verified(labelled) == read_all_verified(plain_named)
    assert [f for f in check_paths([labelled]) if f.is_error] == []


def test_defer_label_needs_one_label(copy_project: Callable[[str], Path]) -> None:
    project = copy_project("simple_c")
    proc = pep517_build(
        project, "--wheel", "-C", "variant-label=:all:", "-C", "defer-label=true", check=False
    )
    assert proc.returncode != 0
    assert "needs exactly one -C variant-label" in proc.stdout + proc.stderr


def test_relabel_refuses_a_wheel_without_variant_json(
    tmp_path: Path, copy_project: Callable[[str], Path]
) -> None:
    project = copy_project("simple_c")
    polywheel("build", "-o", "dist", "--variant", "x86_64_v1", cwd=project)
    plain = next(p for p in (project / "dist").glob("*.whl") if p.name.count("-") == 4)
    proc = polywheel("relabel", str(plain), cwd=tmp_path, check=False)
    assert proc.returncode == 1 and "no .dist-info/variant.json" in proc.stderr


@needs("auditwheel")
@needs("patchelf")
def test_repair_with_auditwheel(copy_project: Callable[[str], Path], tmp_path: Path) -> None:
    project = copy_project("linked_lib")
    polywheel("build", "-o", "dist", "--variant", "x86_64_v3", cwd=project)
    (wheel,) = (project / "dist").glob("*-x86_64_v3.whl")
    polywheel("repair", str(wheel), "-w", "wheelhouse", cwd=project)
    (repaired,) = (project / "wheelhouse").glob("*.whl")
    assert "manylinux" in repaired.name and repaired.name.endswith("-x86_64_v3.whl")
    contents = read_all_verified(repaired)  # RECORD is correct
    assert any(".libs/libpwdep" in name for name in contents), "the library was grafted"
    assert variant_json(repaired) == variant_json(wheel)
    wheel_meta = contents["linked_lib-0.3.0.dist-info/WHEEL"].decode()
    assert "manylinux" in wheel_meta
    assert [f for f in check_paths([repaired]) if f.is_error] == []
    # Move the build tree away: the module must now load the grafted copy.
    shutil.rmtree(project / "build")
    assert call_in_wheel(repaired, tmp_path, "__import__('linked_lib').answer()") == 42


def test_repair_with_a_custom_command(copy_project: Callable[[str], Path], tmp_path: Path) -> None:
    project = copy_project("simple_c")
    polywheel("build", "-o", "dist", "--variant", "x86_64_v3", cwd=project)
    (wheel,) = (project / "dist").glob("*-x86_64_v3.whl")
    # A stand-in repair tool that copies the wheel, as delvewheel-style tools do.
    script = "import shutil, sys; shutil.copy(sys.argv[1], sys.argv[2])"
    out = str(tmp_path / "out")
    tool = [sys.executable, "-c", script, "{wheel}", "{dest_dir}"]
    polywheel("repair", str(wheel), "-w", out, "--", *tool, cwd=project)
    (result,) = (tmp_path / "out").glob("*.whl")
    assert result.name == wheel.name
    failing = polywheel("repair", str(wheel), "--", "false", cwd=project, check=False)
    assert failing.returncode == 1 and "failed (exit status 1)" in failing.stderr
