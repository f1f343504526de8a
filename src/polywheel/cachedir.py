"""polywheel's folder in the user's cache (`$XDG_CACHE_HOME/polywheel`, `~/.cache/polywheel`)."""

from __future__ import annotations

import hashlib
import os
import tempfile
from pathlib import Path

__all__ = ["cached_script", "private", "secret_key", "user_cache_dir"]


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


def private(paths: list[Path], *, readable: bool = True) -> bool:
    """Whether each of `paths` that exists is this user's alone: owned by them and
    writable by no one else (`readable` False: nor readable)."""
    if not hasattr(os, "getuid"):
        return True
    others = 0o022 if readable else 0o077
    for path in paths:
        try:
            info = path.lstat()
        except FileNotFoundError:
            continue
        if info.st_uid != os.getuid() or info.st_mode & others:
            return False
    return True


_KEY_SIZE = 32


def secret_key(name: str) -> bytes | None:
    """A secret of this user's, made on first use: 32 random bytes in the user cache,
    readable by them alone. What polywheel keeps in a project's folder for its own later
    runs is signed with it, so that nobody else who can write that folder can forge it.
    None where the cache is not private (a shared temporary folder someone else made)."""
    folder = user_cache_dir("keys")
    path = folder / name
    if not private([folder.parent, folder]) or not private([path], readable=False):
        return None
    if not path.exists():
        # Made whole under a name of its own (mkstemp: mode 0600), then linked: a reader
        # never sees half a key, and of two runs making one, the first link wins.
        try:
            fd, tmp = tempfile.mkstemp(dir=folder, prefix=f".{name}-")
            with os.fdopen(fd, "wb") as f:
                f.write(os.urandom(_KEY_SIZE))
            try:
                os.link(tmp, path)
            except FileExistsError:
                pass
            finally:
                Path(tmp).unlink()
        except OSError:
            return None
    try:
        key = path.read_bytes()
    except OSError:
        return None
    return key if len(key) == _KEY_SIZE else None
