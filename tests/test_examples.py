"""The shipped examples build as documented, and their binaries match their labels."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import zipfile
from collections.abc import Callable
from pathlib import Path

import pytest
from conftest import EXAMPLES, needs, polywheel
from wheel_utils import call_in_wheel, skip_unless_host_runs, variant_json

pytestmark = pytest.mark.compile


def _disassembly(wheel: Path, tmp: Path) -> str:
    target = tmp / ("asm-" + wheel.name)
    with zipfile.ZipFile(wheel) as zf:
        zf.extractall(target)
    (so,) = target.glob("*/*.so")
    return subprocess.run(
        ["objdump", "-d", str(so)], capture_output=True, text=True, check=True
    ).stdout


@pytest.fixture(scope="module")
def simd_wheels(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    project = tmp_path_factory.mktemp("examples") / "simd"
    shutil.copytree(EXAMPLES / "simd", project, ignore=shutil.ignore_patterns("build", "dist"))
    polywheel("build", "-o", "dist", cwd=project)
    dist = project / "dist"
    assert (dist / "polywheel_example_simd-1.0.0-variants.json").is_file()
    return {p.name[:-4].rsplit("-", 1)[1]: p for p in dist.glob("*-x86_64_v?.whl")}


@needs("objdump")
def test_simd_example_instruction_sets(simd_wheels: dict[str, Path], tmp_path: Path) -> None:
    labelled = simd_wheels
    assert sorted(labelled) == ["x86_64_v1", "x86_64_v3", "x86_64_v4"]
    counts = {}
    for label, wheel in labelled.items():
        doc = variant_json(wheel)
        assert doc is not None and list(doc["variants"]) == [label]
        asm = _disassembly(wheel, tmp_path)
        counts[label] = {
            "zmm": len(re.findall(r"%zmm", asm)),
            "ymm": len(re.findall(r"%ymm", asm)),
            "fma": len(re.findall(r"\tvfmadd", asm)),
        }
    assert counts["x86_64_v1"] == {"zmm": 0, "ymm": 0, "fma": 0}, counts
    assert counts["x86_64_v3"]["ymm"] > 0 and counts["x86_64_v3"]["fma"] > 0, counts
    assert counts["x86_64_v3"]["zmm"] == 0, counts
    assert counts["x86_64_v4"]["zmm"] > 0, counts


@pytest.mark.parametrize("label", ["x86_64_v1", "x86_64_v3", "x86_64_v4"])
def test_simd_example_runs(simd_wheels: dict[str, Path], tmp_path: Path, label: str) -> None:
    skip_unless_host_runs(label)
    check = (
        "(lambda m, a: [m.build_info()['variant'],"
        " max(abs(p - q) / max(1.0, abs(q)) for p, q in"
        " zip(m.poly(a.array('f', [i / 8 for i in range(64)])),"
        " m.poly_reference(a.array('f', [i / 8 for i in range(64)])))) < 1e-5])"
        "(__import__('pw_simd'), __import__('array'))"
    )
    assert call_in_wheel(simd_wheels[label], tmp_path, check) == [label, True]


@needs("nvcc")
def test_cuda_example(copy_project: Callable[[str], Path], tmp_path: Path) -> None:
    project = copy_project("examples/cuda")
    matrix = json.loads(polywheel("matrix", "--labels", cwd=project).stdout)
    assert matrix == ["null", "sm80", "sm80_cu13pypi", "sm90", "sm90_cu13pypi"]
    # The machine's toolkit here; the PyPI-toolkit variants need their isolated build
    # environment and the network (tests/test_cuda_toolkits.py builds that case).
    machine = ("--variant", "null", "--variant", "sm80", "--variant", "sm90")
    polywheel("build", "-o", "dist", *machine, cwd=project)
    labelled = {
        p.name[:-4].rsplit("-", 1)[1]: p for p in (project / "dist").glob("*-*-*-*-*-*.whl")
    }
    assert sorted(labelled) == ["null", "sm80", "sm90"]
    sm90 = variant_json(labelled["sm90"])
    assert sm90 is not None
    assert sm90["variants"]["sm90"]["nvidia"]["sm_arch"] == ["90_real"]
    code = "[__import__('pw_cuda').backend(), __import__('pw_cuda').compiled_architectures()]"
    assert call_in_wheel(labelled["null"], tmp_path, code) == ["cpu", ""]
    assert call_in_wheel(labelled["sm80"], tmp_path, code) == ["cuda", "80-real"]
    nvcc = shutil.which("nvcc")
    assert nvcc is not None
    cuobjdump = Path(nvcc).resolve().parent / "cuobjdump"
    if cuobjdump.is_file():
        so = next((tmp_path / labelled["sm90"].name.removesuffix(".whl")).glob("pw_cuda/*.so"))
        listing = subprocess.run(
            [str(cuobjdump), "--list-elf", str(so)], capture_output=True, text=True, check=True
        ).stdout
        assert "sm_90" in listing and "sm_80" not in listing
