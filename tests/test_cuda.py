"""GPU variants: CMAKE_CUDA_ARCHITECTURES ↔ nvidia :: sm_arch, the toolkit's lower bound,
and the CPU path for the null variant. Skipped where nvcc is absent."""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest
from conftest import needs, polywheel
from wheel_utils import call_in_wheel, variant_json

from polywheel.cmake.toolchain import probe_cuda_lower_bound

pytestmark = [pytest.mark.compile, pytest.mark.cuda, needs("nvcc")]


def test_gpu_matrix(copy_project: Callable[[str], Path], tmp_path: Path) -> None:
    project = copy_project("cuda_small")
    polywheel("build", "-o", "dist", cwd=project)
    toolkit = probe_cuda_lower_bound()
    assert toolkit is not None
    wheels = {
        p.name[:-4].rsplit("-", 1)[1]: p
        for p in (project / "dist").glob("*.whl")
        if p.name.count("-") == 5
    }
    assert sorted(wheels) == ["null", "sm80", "sm90"]
    expected = {
        "null": {},
        "sm80": {"nvidia": {"cuda_version_lower_bound": [toolkit], "sm_arch": ["80_real"]}},
        "sm90": {
            "nvidia": {"cuda_version_lower_bound": [toolkit], "sm_arch": ["90_real", "90_virtual"]}
        },
    }
    for label, wheel in wheels.items():
        doc = variant_json(wheel)
        assert doc is not None and doc["variants"] == {label: expected[label]}
        assert doc["default-priorities"]["namespace"] == ["nvidia"]
        assert (
            doc["providers"]["nvidia"]["plugin-api"]
            == "nvidia_variant_provider.plugin:NvidiaVariantPlugin"
        )
    assert call_in_wheel(wheels["null"], tmp_path, "__import__('cuda_small').backend()") == "cpu"
    assert call_in_wheel(wheels["sm90"], tmp_path, "__import__('cuda_small').backend()") == "cuda"
    # The plain wheel is the null variant's build: CPU only.
    (plain,) = [p for p in (project / "dist").glob("*.whl") if p.name.count("-") == 4]
    assert call_in_wheel(plain, tmp_path, "__import__('cuda_small').backend()") == "cpu"
    nvcc = shutil.which("nvcc")
    cuobjdump = shutil.which("cuobjdump") or (
        nvcc and str(Path(nvcc).resolve().parent / "cuobjdump")
    )
    if cuobjdump and Path(cuobjdump).is_file():
        for label, arch in (("sm80", "sm_80"), ("sm90", "sm_90")):
            target = tmp_path / wheels[label].name.removesuffix(".whl")
            (so,) = target.glob("cuda_small/*.so")
            listing = subprocess.run(
                [cuobjdump, "--list-elf", str(so)], capture_output=True, text=True, check=True
            ).stdout
            assert arch in listing, listing
            other = "sm_90" if arch == "sm_80" else "sm_80"
            assert other not in listing


def test_project_overriding_architectures_is_refused(copy_project: Callable[[str], Path]) -> None:
    project = copy_project("cuda_small")
    cmake = project / "CMakeLists.txt"
    cmake.write_text(
        cmake.read_text().replace(
            "  if(NOT DEFINED CMAKE_CUDA_ARCHITECTURES)\n"
            "    set(CMAKE_CUDA_ARCHITECTURES native)\n"
            "  endif()",
            "  set(CMAKE_CUDA_ARCHITECTURES 75)",
        )
    )
    proc = polywheel("build", "-o", "dist", "--variant", "sm80", cwd=project, check=False)
    assert proc.returncode == 1
    assert "CMAKE_CUDA_ARCHITECTURES ended up as 75" in proc.stderr
    assert not list((project / "dist").glob("*.whl"))
