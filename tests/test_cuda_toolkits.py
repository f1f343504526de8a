"""CUDA toolkits per variant: one matrix, one variant on this machine's toolkit folder
and one on the CUDA 13 compiler wheels from PyPI in its own build environment.

Each wheel's `nvidia :: cuda_version_lower_bound` comes from the toolkit its build
really used, and uv (told the driver version) picks by it.
"""

from __future__ import annotations

import re
import shutil
import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest
from conftest import isolated_build, polywheel
from test_installers import UV, installed_variant, uv_install
from wheel_utils import variant_json

from polywheel.pipeline.buildenv import find_uv

pytestmark = [pytest.mark.compile, pytest.mark.cuda, pytest.mark.network]

NVCC = shutil.which("nvcc")


def _toolkit_folder() -> Path | None:
    """This machine's toolkit folder (the one holding the nvcc on PATH), if any."""
    for candidate in (Path("/usr/local/cuda"), *(Path(NVCC).resolve().parents if NVCC else ())):
        if (candidate / "bin" / "nvcc").is_file() and (candidate / "include").is_dir():
            return candidate.resolve()
    return None


def _release(nvcc: Path) -> str:
    out = subprocess.run([str(nvcc), "--version"], capture_output=True, text=True, check=True)
    match = re.search(r"release (\d+\.\d+)", out.stdout)
    assert match is not None, out.stdout
    return match.group(1)


@pytest.fixture(scope="module")
def two_toolkits(
    tmp_path_factory: pytest.TempPathFactory,
) -> tuple[Path, str]:
    folder = _toolkit_folder()
    if folder is None or find_uv() is None:
        pytest.skip("needs a CUDA toolkit folder with nvcc, and uv")
    local = _release(folder / "bin" / "nvcc")
    project = tmp_path_factory.mktemp("toolkits") / "cuda_small"
    shutil.copytree(Path(__file__).parent / "packages" / "cuda_small", project)
    pyproject = project / "pyproject.toml"
    head = pyproject.read_text().split("[[tool.variants.variant]]")[0]
    pyproject.write_text(
        head
        + f"""
[[tool.variants.variant]]
label = "null"

[[tool.variants.variant]]
label = "sm90_local"
cuda-architectures = ["90-real"]
cuda-toolkit = "{folder}"

[[tool.variants.variant]]
label = "sm90_pypi"
cuda-architectures = ["90-real"]
cuda-toolkit = "build-env"
build-requires = ["nvidia-cuda-nvcc>=13,<14"]
"""
    )
    proc = isolated_build(project, UV=str(find_uv()))
    if proc.returncode != 0 and "resolve" in proc.stderr and "nvidia" in proc.stderr:
        pytest.skip(f"the CUDA wheels could not be installed: {proc.stderr}")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return project / "dist", local


def _bound(dist: Path, label: str) -> str:
    (wheel,) = dist.glob(f"cuda_small-*-{label}.whl")
    doc = variant_json(wheel)
    assert doc is not None
    (bound,) = doc["variants"][label]["nvidia"]["cuda_version_lower_bound"]
    return str(bound)


def test_each_variant_carries_the_lower_bound_of_its_own_toolkit(
    two_toolkits: tuple[Path, str],
) -> None:
    dist, local = two_toolkits
    assert _bound(dist, "sm90_local") == local
    pypi = _bound(dist, "sm90_pypi")
    assert pypi.startswith("13.") and pypi != local, (pypi, local)


@pytest.mark.skipif(UV is None, reason="uv not installed (pip install -e .[test])")
def test_uv_picks_by_the_driver_version(two_toolkits: tuple[Path, str], tmp_path: Path) -> None:
    dist, local = two_toolkits
    pypi = _bound(dist, "sm90_pypi")
    newest, oldest = sorted([pypi, local], key=lambda v: tuple(map(int, v.split("."))))[::-1]
    by_bound = {pypi: "sm90_pypi", local: "sm90_local"}
    for driver, expected in ((oldest, by_bound[oldest]), (newest, by_bound[newest])):
        target = tmp_path / driver
        env = {
            "NV_VARIANT_PROVIDER_FORCE_CUDA_DRIVER_VERSION": driver,
            "NV_VARIANT_PROVIDER_FORCE_SM_ARCH": "9.0",
        }
        uv_install(dist, "cuda-small", target, env=env)
        assert installed_variant(target, "cuda_small") == expected, driver


def test_a_toolkit_folder_without_nvcc_is_refused(
    copy_project: Callable[[str], Path], tmp_path: Path
) -> None:
    project = copy_project("cuda_small")
    pyproject = project / "pyproject.toml"
    pyproject.write_text(
        pyproject.read_text().replace(
            'cuda-architectures = ["80-real"]',
            f'cuda-architectures = ["80-real"]\ncuda-toolkit = "{tmp_path}"',
        )
    )
    proc = polywheel("build", "-o", "dist", "--variant", "sm80", cwd=project, check=False)
    assert proc.returncode == 1
    assert f"cuda-toolkit` '{tmp_path}' has no bin/nvcc" in proc.stderr, proc.stderr
    assert not list((project / "dist").glob("*.whl"))
