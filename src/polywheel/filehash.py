"""The SHA-256 of a file, read in 1 MiB pieces (standard library only: GCC's LTO shim,
cmake/lto_shim.py, imports it in a process of its own)."""

from __future__ import annotations

import hashlib
from pathlib import Path

__all__ = ["sha256_of"]


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as f:
        while chunk := f.read(1 << 20):
            digest.update(chunk)
    return digest.hexdigest()
