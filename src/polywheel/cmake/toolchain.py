"""Find the CUDA toolkit CMake would use, for metadata prepared before any build."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path

from polywheel.namespaces.nvidia import cuda_lower_bound

__all__ = ["probe_cuda_lower_bound"]

_RELEASE_RE = re.compile(r"release (\d+\.\d+)")


def _nvcc() -> str | None:
    # The order CMake uses: CUDACXX, then PATH, then the default install prefix.
    for candidate in (os.environ.get("CUDACXX"), shutil.which("nvcc"), "/usr/local/cuda/bin/nvcc"):
        if candidate and Path(candidate).is_file():
            return candidate
    return None


def probe_cuda_lower_bound() -> str | None:
    """'13.0' for the nvcc CMake would find, or None without a toolkit."""
    nvcc = _nvcc()
    if nvcc is None:
        return None
    try:
        out = subprocess.run(
            [nvcc, "--version"], capture_output=True, text=True, check=True, timeout=60
        ).stdout
    except (OSError, subprocess.SubprocessError):
        return None
    match = _RELEASE_RE.search(out)
    return cuda_lower_bound(match.group(1)) if match else None
