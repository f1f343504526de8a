"""The shipped examples build as documented, and their binaries match their labels."""

from __future__ import annotations

import re
import shutil
import subprocess
import zipfile
from collections.abc import Callable
from pathlib import Path

import pytest
from conftest import needs, polywheel
from wheel_utils import call_in_wheel, cpu_has, variant_json

pytestmark = pytest.mark.compile


def _disassembly(wheel: Path, tmp: Path) -> str:
    target = tmp / ("asm-" + wheel.name)
    with zipfile.ZipFile(wheel) as zf:
        zf.extractall(target)
    (so,) = target.glob("*/*.so")
    return subprocess.run(
        ["objdump", "-d", str(so)], capture_output=True, text=True, check=True
    ).stdout


@needs("objdump")
def test_simd_example_instruction_sets(copy_project: Callable[[str], Path], tmp_path: Path) -> None:
    project = copy_project("examples/simd")
    polywheel("build", "-o", "dist", cwd=project)
    dist = project / "dist"
    labelled = {p.name[:-4].rsplit("-", 1)[1]: p for p in dist.glob("*-x86_64_v?.whl")}
    assert sorted(labelled) == ["x86_64_v1", "x86_64_v3", "x86_64_v4"]
    assert (dist / "polywheel_example_simd-1.0.0-variants.json").is_file()
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

    check = (
        "(lambda m, a: [m.build_info()['variant'],"
        " max(abs(p - q) / max(1.0, abs(q)) for p, q in"
        " zip(m.poly(a.array('f', [i / 8 for i in range(64)])),"
        " m.poly_reference(a.array('f', [i / 8 for i in range(64)])))) < 1e-5])"
        "(__import__('pw_simd'), __import__('array'))"
    )
    runnable = ["x86_64_v1"] + (["x86_64_v3"] if cpu_has("avx2") else [])
    runnable += ["x86_64_v4"] if cpu_has("avx512f") else []
    for label in runnable:
        assert call_in_wheel(labelled[label], tmp_path, check) == [label, True]


@needs("nvcc")
def test_cuda_example(copy_project: Callable[[str], Path], tmp_path: Path) -> None:
    project = copy_project("examples/cuda")
    polywheel("build", "-o", "dist", cwd=project)
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
