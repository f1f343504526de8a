"""polywheel's folder in the user's cache (`$XDG_CACHE_HOME/polywheel`, `~/.cache/polywheel`)."""

from __future__ import annotations

import hashlib
import os
import tempfile
from pathlib import Path

__all__ = ["cached_script", "user_cache_dir"]


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


def cached_script(kind: str, name: str, content: str) -> Path:
    """An executable file `name` holding `content`, in a folder of the cache named by
    `kind` and the content's hash: the same content keeps the same path from one run to
    the next (CMake caches and PATH entries stay unchanged), and a changed one gets a
    new path. Written atomically; rewritten when missing or altered."""
    folder = user_cache_dir(kind) / hashlib.sha256(content.encode()).hexdigest()[:16]
    script = folder / name
    if not script.is_file() or script.read_text() != content:
        folder.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=folder, prefix=f".{name}-", suffix=".tmp")
        with os.fdopen(fd, "w") as f:
            f.write(content)
        Path(tmp).chmod(0o755)
        Path(tmp).replace(script)
    return script
