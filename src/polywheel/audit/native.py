"""Count x86-64 instructions in C, and ask iced only once per distinct encoding.

iced-x86 decodes every instruction into a Python object; that object, taking its
opcode and counting it cost about 165 ns an instruction, which capped the audit at
about 25 MB/s of code. `x86scan.c` splits the code into instructions at native speed
and counts each encoding (the instruction's bytes without its constants, and without
the bits that only name a memory operand's registers). A library of tens of MB has a
few tens of thousands of encodings: each new one is decoded here once with iced, which
must split it exactly as the C code did (same length, its constants exactly at the
end) before its opcode stands for every instance. An instruction whose encoding iced
splits otherwise, or that the C code does not know, is decoded by iced alone, through
a callback, so the counts are the same as decoding everything with iced
(tests/test_audit_native.py compares them).

The C file ships as source and is compiled with the host's C compiler once a process
has enough code to decode (polywheel builds C projects, so one is there), into the
user's cache, under a name made of the source's hash, and loaded only from a folder no
one else can write and if its bytes still match the hash recorded next to it. Without
a compiler, or with `POLYWHEEL_AUDIT_DECODER=iced`, the audit decodes everything with
iced: slower, the same answers.
"""

from __future__ import annotations

import hashlib
import os
import shutil
from pathlib import Path
from typing import TYPE_CHECKING

from polywheel.cachedir import private, user_cache_dir
from polywheel.filehash import sha256_of

if TYPE_CHECKING:
    from polywheel.audit.scanner import Scanner

__all__ = ["scanner"]

_SOURCE = Path(__file__).with_name("x86scan.c")
_LIBRARY = "x86scan.so"


def _compile(source: bytes, folder: Path) -> Path | None:
    """The library built from `source` into `folder`, or None without a compiler."""
    import subprocess
    import tempfile

    compiler = next((c for c in ("cc", "gcc", "clang") if shutil.which(c)), None)
    if compiler is None:
        return None
    folder.mkdir(parents=True, exist_ok=True)
    library = folder / _LIBRARY
    with tempfile.TemporaryDirectory(dir=folder, prefix=".build-") as tmp:
        built = Path(tmp) / _LIBRARY
        (Path(tmp) / "x86scan.c").write_bytes(source)
        cmd = [compiler, "-O2", "-std=c99", "-shared", "-fPIC", "-o", str(built), "x86scan.c"]
        try:
            done = subprocess.run(cmd, cwd=tmp, capture_output=True, timeout=120, check=False)
        except (OSError, subprocess.SubprocessError):
            return None
        if done.returncode != 0 or not built.is_file():
            return None
        digest = Path(tmp) / f"{_LIBRARY}.sha256"
        digest.write_text(sha256_of(built) + "\n")
        built.replace(library)
        digest.replace(folder / digest.name)
    return library


def _library_path(build: bool = True) -> Path | None:
    """The compiled scanner from the cache; built first if missing and `build`."""
    source = _SOURCE.read_bytes()
    name = hashlib.sha256(source + _machine().encode()).hexdigest()[:16]
    folder = user_cache_dir("audit-decoder") / name
    library, digest = folder / _LIBRARY, folder / f"{_LIBRARY}.sha256"
    try:
        if not private([folder.parent, folder, library, digest]):
            return None  # another user's folder (a shared /tmp): never load from it
        if library.is_file() and sha256_of(library) == digest.read_text().strip():
            return library
    except OSError:
        pass
    return _compile(source, folder) if build else None


def _machine() -> str:
    return os.uname().machine if hasattr(os, "uname") else "unknown"


# This process's scanner once decided: loaded, or None (no compiler, no loading); and
# whether the cache was found without one (not looked at again for every library).
_decided: dict[str, Scanner | None] = {}
_not_built: list[bool] = []


def scanner(build: bool = True) -> Scanner | None:
    """This process's scanner, or None where the C code cannot be built or loaded.
    With `build` false, a scanner not built yet is not built now (compiling costs
    about as much as iced decoding 8 MB): None, and the question stays open."""
    if "scanner" in _decided:
        return _decided["scanner"]
    if os.environ.get("POLYWHEEL_AUDIT_DECODER", "").strip().lower() == "iced":
        return None
    if not build and _not_built:
        return None
    try:
        path = _library_path(build)
        if path is None and not build:
            _not_built.append(True)
            return None
        if path is None:
            _decided["scanner"] = None
        else:
            import ctypes

            from polywheel.audit.scanner import Scanner

            _decided["scanner"] = Scanner(ctypes.CDLL(str(path)))
    except (OSError, MemoryError, AttributeError):
        _decided["scanner"] = None
    return _decided["scanner"]
