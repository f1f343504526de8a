"""polywheel's folder in the user's cache (`$XDG_CACHE_HOME/polywheel`, `~/.cache/polywheel`)."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

__all__ = ["user_cache_dir"]


def user_cache_dir(name: str) -> Path:
    """`<cache>/polywheel/<name>`, created; a per-user temporary folder where the cache
    cannot be written (a read-only home in CI)."""
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    path = Path(base) / "polywheel" / name
    try:
        path.mkdir(parents=True, exist_ok=True)
    except OSError:
        uid = os.getuid() if hasattr(os, "getuid") else 0
        path = Path(tempfile.gettempdir()) / f"polywheel-{uid}" / name
        path.mkdir(parents=True, exist_ok=True)
    return path
