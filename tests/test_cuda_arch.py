"""Arch-specific (`90a`) and family-specific (`100f`) CUDA variants built with the real
toolkit: the properties they get, the audit reading the suffix from the cubins, a
mislabel the audit catches, and an architecture the toolkit dropped. Skipped where nvcc
is absent."""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable
from pathlib import Path

import pytest
from conftest import needs, polywheel
from test_installers import UV, installed_variant, uv_install
from wheel_utils import variant_json

from polywheel.namespaces.cuda_arch import probe_cuda_toolkit

pytestmark = [pytest.mark.compile, pytest.mark.cuda, needs("nvcc")]


def _toolkit_has(*numbers: int) -> bool:
    toolkit = probe_cuda_toolkit()
    return toolkit is not None and set(numbers) <= toolkit.real and toolkit.release >= (12, 9)


@pytest.fixture(scope="module")
def arch_dist(tmp_path_factory: pytest.TempPathFactory) -> Path:
    if not _toolkit_has(90, 100):
        pytest.skip("the toolkit has no sm_90a or sm_100f")
    project = tmp_path_factory.mktemp("arch") / "cuda_arch"
    shutil.copytree(Path(__file__).parent / "packages" / "cuda_arch", project)
    polywheel("build", "-o", "dist", cwd=project)
    return project / "dist"


def test_arch_and_family_variants_build_and_audit(arch_dist: Path) -> None:
    (sm90a,) = arch_dist.glob("*-sm90a.whl")
    (sm100f,) = arch_dist.glob("*-sm100f.whl")
    for wheel, expected in ((sm90a, ["90_real"]), (sm100f, ["100_real", "100_virtual"])):
        doc = variant_json(wheel)
        assert doc is not None
        (claims,) = doc["variants"].values()
        assert claims["nvidia"]["sm_arch"] == expected
    proc = polywheel("audit", "--json", str(sm90a), str(sm100f), cwd=arch_dist)
    audits = {a["label"]: a for a in json.loads(proc.stdout)}
    assert {label: a["verdict"] for label, a in audits.items()} == {"sm90a": "ok", "sm100f": "ok"}
    (binary,) = audits["sm90a"]["binaries"]
    assert binary["cuda"] == {"sass": ["sm_90a"], "ptx": {}}
    (binary,) = audits["sm100f"]["binaries"]
    assert binary["cuda"]["sass"] == ["sm_100f"] and list(binary["cuda"]["ptx"]) == ["compute_100f"]
    text = polywheel("audit", str(sm90a), cwd=arch_dist).stdout
    assert "CUDA SASS: sm_90a; PTX: none" in text


@pytest.mark.skipif(UV is None, reason="uv not installed (pip install -e .[test])")
def test_uv_picks_each_wheel_where_its_code_runs(arch_dist: Path, tmp_path: Path) -> None:
    # uv's own nvidia provider, told the device: 10.3 (B300) takes the family build.
    for device, expected in (("9.0", "sm90a"), ("10.0", "sm100f"), ("10.3", "sm100f")):
        target = tmp_path / device
        env = {
            "NV_VARIANT_PROVIDER_FORCE_CUDA_DRIVER_VERSION": "13.0",
            "NV_VARIANT_PROVIDER_FORCE_SM_ARCH": device,
        }
        uv_install(arch_dist, "cuda-arch", target, env=env)
        assert installed_variant(target, "cuda_arch") == expected, device


def test_arch_specific_code_under_a_family_label_is_caught(
    copy_project: Callable[[str], Path],
) -> None:
    if not _toolkit_has(100):
        pytest.skip("the toolkit has no sm_100a")
    project = copy_project("cuda_arch")
    # The project narrows its library to 10.0-only code while CMAKE_CUDA_ARCHITECTURES
    # keeps the variant's 100f: installers would pick the wheel on 10.3 devices (B300),
    # which report 100_real but cannot run sm_100a.
    cmake = project / "CMakeLists.txt"
    cmake.write_text(
        cmake.read_text().replace(
            "install(TARGETS",
            "if(CMAKE_CUDA_COMPILER)\n"
            "  set_target_properties(_core PROPERTIES\n"
            '    CUDA_ARCHITECTURES "100a-real;100a-virtual")\n'
            "endif()\ninstall(TARGETS",
        )
    )
    proc = polywheel("build", "-o", "dist", "--variant", "sm100f", cwd=project, check=False)
    assert proc.returncode == 1, proc.stdout
    assert "its fat binaries hold sm_100a, compute_100a" in proc.stderr
    assert "installers would pick the wheel on compute capability 10.3 devices" in proc.stderr
    assert not list((project / "dist").glob("*.whl"))


def _add_sm70(project: Path) -> None:
    pyproject = project / "pyproject.toml"
    pyproject.write_text(
        pyproject.read_text()
        + '\n[[tool.variants.variant]]\nlabel = "sm70"\ncuda-architectures = ["70-real"]\n'
    )


def _dropped_sm70() -> str:
    toolkit = probe_cuda_toolkit()
    if toolkit is None or 70 in toolkit.real:
        pytest.skip("the toolkit still builds sm_70 (CUDA 13 dropped it)")
    return toolkit.version


def test_a_dropped_architecture_is_one_clear_error(copy_project: Callable[[str], Path]) -> None:
    version = _dropped_sm70()
    project = copy_project("cuda_arch")
    _add_sm70(project)
    proc = polywheel("build", "-o", "dist", "--variant", "sm70", cwd=project, check=False)
    assert proc.returncode == 1, proc.stdout
    assert (
        f"polywheel: error: variant 'sm70': CUDA {version} (" in proc.stderr
        and ") cannot compile the CUDA architectures ['70-real']: it has no sm_70" in proc.stderr
    ), proc.stderr


def test_a_dropped_architecture_fails_before_cmake(copy_project: Callable[[str], Path]) -> None:
    _dropped_sm70()
    project = copy_project("cuda_arch")
    _add_sm70(project)
    cmake = project / "CMakeLists.txt"
    cmake.write_text(
        cmake.read_text().replace(
            "project(cuda_arch LANGUAGES C)", "project(cuda_arch LANGUAGES C CUDA)"
        )
    )
    proc = polywheel("build", "-o", "dist", "--variant", "sm70", cwd=project, check=False)
    assert "cannot compile the CUDA architectures ['70-real']" in proc.stderr, proc.stderr
