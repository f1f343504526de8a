"""Find the CUDA toolkit CMake would use, for metadata prepared before any build."""

from __future__ import annotations

import sysconfig
from pathlib import Path

from polywheel.errors import BuildError
from polywheel.namespaces.cuda_arch import find_nvcc, nvcc_release
from polywheel.namespaces.nvidia import cuda_lower_bound
from polywheel.tools import tool_output

__all__ = ["BUILD_ENV", "cudart_library", "probe_cuda_lower_bound", "toolkit_nvcc"]

# `cuda-toolkit = "build-env"`: the nvcc of the build environment (PyPI's CUDA wheels).
BUILD_ENV = "build-env"


def _nvcc_in_environment() -> str | None:
    """`nvidia/cu13/bin/nvcc` of this interpreter's environment (the newest major)."""
    found = []
    for base in dict.fromkeys(sysconfig.get_paths()[k] for k in ("purelib", "platlib")):
        for nvcc in Path(base, "nvidia").glob("cu*/bin/nvcc"):
            major = nvcc.parent.parent.name[2:]
            if major.isdigit() and nvcc.is_file():
                found.append((int(major), str(nvcc)))
    return max(found)[1] if found else None


def toolkit_nvcc(choice: str | None, *, key: str, label: str) -> str | None:
    """The nvcc a variant's `cuda-toolkit` names, or None to let CMake find one.

    Resolved where the build runs: 'build-env' looks in the running interpreter's
    environment, which is the variant's build environment in build workers and in the
    PEP 517 hooks.
    """
    if choice is None:
        return None
    if choice == BUILD_ENV:
        found = _nvcc_in_environment()
        if found is None:
            raise BuildError(
                f"`{key}.cuda-toolkit` is 'build-env', but the build environment has no "
                "nvcc (nvidia/cu*/bin/nvcc)",
                label=label,
                hint='add the CUDA compiler wheels: build-requires = ["nvidia-cuda-nvcc>=13,<14"]'
                " (the CUDA 12 nvcc wheels hold only ptxas: use a toolkit folder for CUDA 12)",
            )
        return found
    nvcc = Path(choice).expanduser() / "bin" / "nvcc"
    if not nvcc.is_file():
        raise BuildError(
            f"`{key}.cuda-toolkit` {choice!r} has no bin/nvcc",
            label=label,
            hint="name a CUDA toolkit folder such as /usr/local/cuda-12.8, or 'build-env'",
        )
    return str(nvcc)


def cudart_library(nvcc: str) -> str | None:
    """The toolkit's shared CUDA runtime when only a versioned file exists (the PyPI
    wheels ship `libcudart.so.13` and no `libcudart.so`, which `find_package(CUDAToolkit)`
    would look for)."""
    lib = Path(nvcc).resolve().parent.parent / "lib"
    if (lib / "libcudart.so").exists():
        return None
    versioned = sorted(lib.glob("libcudart.so.*"))
    return str(versioned[0]) if versioned else None


def probe_cuda_lower_bound(nvcc: str | None = None) -> str | None:
    """'13.0' for `nvcc`, else for the nvcc CMake would find; None without a toolkit."""
    nvcc = nvcc or find_nvcc()
    if nvcc is None:
        return None
    release = nvcc_release(tool_output([nvcc, "--version"], timeout=60))
    return cuda_lower_bound(release) if release else None
