"""The wheels polywheel writes, read by the tools people install with: uv (with its
wheel-variants preview), stock pip, and variantlib. Real tools, no mocks."""

from __future__ import annotations

import base64
import hashlib
import json
import os
import shutil
import subprocess
import sys
import zipfile
from collections.abc import Callable
from pathlib import Path

import pytest
from conftest import needs, polywheel, run
from wheel_utils import cpu_has

pytestmark = pytest.mark.compile
BIN = Path(sys.executable).parent
UV = shutil.which("uv", path=str(BIN)) or shutil.which("uv")
VARIANTLIB = shutil.which("variantlib", path=str(BIN)) or shutil.which("variantlib")
needs_uv = pytest.mark.skipif(UV is None, reason="uv not installed (pip install -e .[test])")


def best_x86_level() -> str:
    if all(cpu_has(f) for f in ("avx512f", "avx512bw", "avx512cd", "avx512dq", "avx512vl")):
        return "x86_64_v4"
    if all(cpu_has(f) for f in ("avx2", "fma", "bmi1", "bmi2", "movbe")):
        return "x86_64_v3"
    return "x86_64_v1"  # the matrix has no v2 build


@pytest.fixture(scope="module")
def simd_dist(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("simd") / "simd"
    shutil.copytree(Path(__file__).parent.parent / "examples" / "simd", root)
    polywheel("build", "-o", "dist", cwd=root)
    return root / "dist"


def uv_install(
    dist: Path,
    package: str,
    target: Path,
    *,
    env: dict[str, str] | None = None,
    preview: bool = True,
) -> subprocess.CompletedProcess[str]:
    assert UV is not None
    run([UV, "venv", "-q", "--python", sys.executable, str(target)], cwd=target.parent)
    args = [UV, "pip", "install", "--no-index", "--find-links", str(dist), package, "-v"]
    if preview:
        args[3:3] = ["--preview-features", "wheel-variants"]
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("UV_", "NV_VARIANT"))}
    return subprocess.run(
        args,
        cwd=target.parent,
        env={**clean, "VIRTUAL_ENV": str(target), **(env or {})},
        capture_output=True,
        text=True,
        check=True,
    )


def installed_variant(target: Path, dist_name: str) -> str | None:
    (dist_info,) = target.glob(f"lib/python*/site-packages/{dist_name}-*.dist-info")
    path = dist_info / "variant.json"
    return next(iter(json.loads(path.read_text())["variants"])) if path.exists() else None


@needs_uv
def test_uv_picks_the_best_cpu_level(simd_dist: Path, tmp_path: Path) -> None:
    target = tmp_path / "venv"
    proc = uv_install(simd_dist, "polywheel-example-simd", target)
    expected = best_x86_level()
    assert f"-{expected}.whl" in proc.stderr, proc.stderr
    assert installed_variant(target, "polywheel_example_simd") == expected
    code = "import pw_simd; print(pw_simd.build_info()['variant'])"
    out = run([str(target / "bin" / "python"), "-c", code], cwd=tmp_path).stdout.strip()
    assert out == expected


@needs_uv
def test_uv_without_preview_takes_the_plain_wheel(simd_dist: Path, tmp_path: Path) -> None:
    target = tmp_path / "venv"
    uv_install(simd_dist, "polywheel-example-simd", target, preview=False)
    assert installed_variant(target, "polywheel_example_simd") is None


def test_stock_pip_ignores_variant_wheels(simd_dist: Path, tmp_path: Path) -> None:
    target = tmp_path / "site"
    run(
        [
            sys.executable,
            "-m",
            "pip",
            "install",
            "--no-index",
            "--find-links",
            str(simd_dist),
            "--target",
            str(target),
            "polywheel-example-simd",
        ],
        cwd=tmp_path,
    )
    (dist_info,) = target.glob("polywheel_example_simd-*.dist-info")
    assert not (dist_info / "variant.json").exists()
    assert "x86_64_v" not in (dist_info / "WHEEL").read_text()


@pytest.mark.skipif(VARIANTLIB is None, reason="variantlib not installed")
def test_variantlib_reads_every_wheel_and_agrees_on_the_index(
    simd_dist: Path, tmp_path: Path
) -> None:
    assert VARIANTLIB is not None
    for wheel in simd_dist.glob("*-x86_64_v?.whl"):
        out = run([VARIANTLIB, "analyze-wheel", "-i", str(wheel)], cwd=tmp_path)
        label = wheel.name[:-4].rsplit("-", 1)[1]
        text = out.stdout + out.stderr
        assert f"Label: `{label}`" in text
        assert f"x86_64 :: level :: {label.rsplit('_', 1)[1]}" in text
    folder = tmp_path / "copy"
    folder.mkdir()
    for wheel in simd_dist.glob("*.whl"):
        shutil.copy(wheel, folder)
    run([VARIANTLIB, "generate-index-json", "-d", str(folder)], cwd=tmp_path)
    name = "polywheel_example_simd-1.0.0-variants.json"
    theirs = json.loads((folder / name).read_text())
    ours = json.loads((simd_dist / name).read_text())
    # variantlib 0.2.2 writes its own schema URL; the index keeps the wheels' (PEP 850).
    assert ours.pop("$schema") == "https://variants-schema.wheelnext.dev/peps/850/v0.2.0.json"
    assert theirs.pop("$schema") == "https://variants-schema.wheelnext.dev/v0.2.0.json"
    assert theirs == ours


def _tiny_wheel(folder: Path, name: str) -> None:
    """A pure-Python wheel to serve as a variant-only dependency."""
    files = {
        f"{name}/__init__.py": b"",
        f"{name}-1.0.dist-info/METADATA": (
            f"Metadata-Version: 2.1\nName: {name}\nVersion: 1.0\n".encode()
        ),
        f"{name}-1.0.dist-info/WHEEL": (
            b"Wheel-Version: 1.0\nGenerator: test\nRoot-Is-Purelib: true\nTag: py3-none-any\n"
        ),
    }
    record = [
        f"{n},sha256={base64.urlsafe_b64encode(hashlib.sha256(d).digest()).rstrip(b'=').decode()},{len(d)}"
        for n, d in files.items()
    ]
    files[f"{name}-1.0.dist-info/RECORD"] = (
        "\n".join([*record, f"{name}-1.0.dist-info/RECORD,,"]) + "\n"
    ).encode()
    with zipfile.ZipFile(folder / f"{name}-1.0-py3-none-any.whl", "w") as zf:
        for n, d in files.items():
            zf.writestr(n, d)


@needs_uv
@needs("nvcc")
def test_uv_gpu_selection_and_per_variant_dependencies(
    copy_project: Callable[[str], Path], tmp_path: Path
) -> None:
    project = copy_project("cuda_small")
    pyproject = project / "pyproject.toml"
    pyproject.write_text(
        pyproject.read_text().replace(
            'label = "sm90"\n', 'label = "sm90"\ndependencies = ["pw_gpu_helper"]\n'
        )
    )
    polywheel("build", "-o", "dist", cwd=project)
    dist = project / "dist"
    _tiny_wheel(dist, "pw_gpu_helper")
    cases = [
        ({}, "null"),
        (
            {
                "NV_VARIANT_PROVIDER_FORCE_CUDA_DRIVER_VERSION": "13.0",
                "NV_VARIANT_PROVIDER_FORCE_SM_ARCH": "8.0",
            },
            "sm80",
        ),
        (
            {
                "NV_VARIANT_PROVIDER_FORCE_CUDA_DRIVER_VERSION": "13.0",
                "NV_VARIANT_PROVIDER_FORCE_SM_ARCH": "9.0",
            },
            "sm90",
        ),
    ]
    for env, expected in cases:
        target = tmp_path / f"venv-{expected}"
        uv_install(dist, "cuda-small", target, env=env)
        assert installed_variant(target, "cuda_small") == expected, env
        helper = list(target.glob("lib/python*/site-packages/pw_gpu_helper"))
        assert bool(helper) == (expected == "sm90"), "the dependency follows the chosen wheel"
