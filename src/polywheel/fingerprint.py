"""What a reused result depends on besides its own files: polywheel itself, the tools
it calls, and the environment.

polywheel is named by the content of its own files, not by its version: a checkout
being worked on, or a patched install, keeps its version number while it writes other
wheels or audits them differently.
"""

from __future__ import annotations

import functools
import hashlib
import os
from pathlib import Path

__all__ = ["code_digest", "environment", "folder_digest", "installed_version"]

# Shell bookkeeping that changes between two runs in one terminal (and pytest's name of
# the running test) and feeds no build.
_VOLATILE_ENV = {
    "PYTEST_CURRENT_TEST",
    "PWD", "OLDPWD", "SHLVL", "_", "COLUMNS", "LINES", "TERM", "TERM_PROGRAM",
    "TERM_PROGRAM_VERSION", "TERM_SESSION_ID", "SSH_CLIENT", "SSH_CONNECTION", "SSH_TTY",
    "SSH_AUTH_SOCK", "DISPLAY", "WINDOWID", "TMUX", "TMUX_PANE", "STY", "XDG_SESSION_ID",
    "LS_COLORS", "PS1", "PROMPT_COMMAND", "HISTFILE", "HISTSIZE",
}  # fmt: skip


def environment() -> dict[str, str]:
    """The environment, less shell bookkeeping."""
    return {k: v for k, v in os.environ.items() if k not in _VOLATILE_ENV}


def _files(folder: Path) -> list[tuple[str, Path]]:
    found = []
    with os.scandir(folder) as entries:
        for entry in entries:
            if entry.name == "__pycache__":
                continue  # compiled from the sources hashed here
            if entry.is_dir(follow_symlinks=False):
                found += [(f"{entry.name}/{name}", path) for name, path in _files(Path(entry.path))]
            elif entry.is_file():
                found.append((entry.name, Path(entry.path)))
    return found


def folder_digest(folder: Path) -> str:
    """SHA-256 over the names and bytes of every file under `folder` but compiled
    bytecode (`__pycache__`)."""
    digest = hashlib.sha256()
    for name, path in sorted(_files(folder)):
        data = path.read_bytes()
        digest.update(f"{name}\0{len(data)}\0".encode())
        digest.update(data)
    return digest.hexdigest()


@functools.cache
def code_digest() -> str:
    """The digest of the polywheel package's files (about 100 files, 1 MB: a few
    milliseconds, once per process)."""
    return folder_digest(Path(__file__).parent)


@functools.cache
def installed_version(name: str) -> str:
    """The installed version of the distribution `name`, "?" when there is none."""
    from importlib import metadata  # about 10 ms: not where only the code is needed

    try:
        return metadata.version(name)
    except metadata.PackageNotFoundError:
        return "?"
