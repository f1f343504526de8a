"""GCC's LTO driver with a cache: the program GCC runs as `lto-wrapper` at an LTO link.

With `-flto`, an object holds GCC's intermediate code, and the link does the code
generation (for a pybind11 module, most of its build's CPU). The linker's plugin hands
it to `lto-wrapper`: the IR objects, a resolution file (which symbols the rest of the
link, shared libraries included, defines or uses) and, in COLLECT_GCC_OPTIONS, the
driver's options; it prints the names of the objects it generated, which the linker
then links. With `apply-flags = "targets"`, a module without the variant's flags is the
same in every variant: the compiler cache gives every build the same IR objects, and
the resolution against each variant's own library is the same too, but each build
would still generate the same code again.

polywheel's launcher puts this program first on the link's COMPILER_PATH, so GCC runs
it instead of its own `lto-wrapper` (cmake/lto_cache.py). It hashes everything the
code generation reads: the bytes of every IR object and of the resolution file, every
argument, the driver's options, the working folder, GCC's own variables, and the bytes
of the programs that run (the real lto-wrapper, the driver, lto1, the assembler). A
key it has seen gets the objects stored under it, verified against their recorded
hashes; any other runs the real lto-wrapper, whose objects are stored. The working
folder is left out of the key only where the link maps it (`-ffile-prefix-map=<it>=…`,
which Polywheel.cmake adds to GCC links) so that no output holds it: the same argument
as the compiler cache's for compiles. A link whose options name files this cannot hash
(plugins, specs, profiles, other `-B` folders) or ask for side outputs (dumps,
`-save-temps`) runs the real lto-wrapper, uncached.

Standard library only: it starts for every LTO link, outside the build's environment.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import shlex
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import BinaryIO

from polywheel.filehash import sha256_of

__all__ = ["CACHE_ENV", "SHIM_ENV", "STATS_ENV", "main"]

# Set by polywheel for the link jobs of a build: the folder holding this program (the
# launcher puts it on COMPILER_PATH), the cache folder and the build's stats log.
SHIM_ENV = "POLYWHEEL_LTO_SHIM"
CACHE_ENV = "POLYWHEEL_LTO_CACHE"
STATS_ENV = "POLYWHEEL_LTO_STATS"

# Part of every key: a change to what is hashed, or how, starts a new cache.
FORMAT = "polywheel-lto-1"
MANIFEST = "manifest.json"
MAX_OUTPUTS = 4096

# Driver options whose value names a file the code generation may read (profiles: where
# they are read or written may depend on folders the key leaves out), or that ask for
# output besides the objects (a hit would not write it): not cached.
_UNCACHEABLE_PREFIXES = (
    "-B", "-specs", "--specs", "-fplugin", "-wrapper", "@", "-fprofile", "--coverage",
    "-ftest-coverage", "-fauto-profile", "-save-temps", "-fdump-",
    "-fopt-info", "-fstack-usage", "-fcallgraph-info", "-flto-report", "-ftime-report",
    "-fmem-report", "-fcompare-debug", "-Wa,", "-Xassembler", "-v", "-###", "-print-",
)  # fmt: skip
_PREFIX_MAP = "-ffile-prefix-map="
_PREFIX_MAPS = (_PREFIX_MAP, "-fdebug-prefix-map=", "-fmacro-prefix-map=", "-fprofile-prefix-map=")
# GCC's own variables (OFFLOAD_TARGET_NAMES: the offload targets this GCC was built
# with, set for every link); COLLECT_LTO_WRAPPER names this program, COMPILER_PATH and
# COLLECT_GCC_OPTIONS are read apart.
_ENV_PREFIXES = ("GCC_", "COLLECT_", "LIBRARY_PATH", "OFFLOAD_")
_ENV_APART = ("COLLECT_LTO_WRAPPER", "COLLECT_GCC_OPTIONS", "COLLECT_GCC")


class Uncacheable(Exception):
    """This link runs the real lto-wrapper without the cache; the text says why."""


def _search(name: str, folders: Sequence[str]) -> Path | None:
    for folder in folders:
        candidate = Path(folder or ".") / name
        if candidate.is_file() and os.access(candidate, os.X_OK):
            return candidate
    return None


def compiler_path(environ: Mapping[str, str], own: str) -> list[str]:
    """COMPILER_PATH without the shim's folder: where GCC looks for its programs."""
    own_dir = os.path.normpath(own)
    return [
        entry
        for entry in environ.get("COMPILER_PATH", "").split(os.pathsep)
        if entry and os.path.normpath(entry) != own_dir
    ]


def real_lto_wrapper(environ: Mapping[str, str], own: str) -> Path | None:
    """GCC's own lto-wrapper: the one the driver would have run without the shim (never
    the shim itself, whatever path leads to it)."""
    own_dir = Path(own).resolve()
    for folder in compiler_path(environ, own):
        found = _search("lto-wrapper", [folder])
        if found is not None and found.resolve().parent != own_dir:
            return found
    return None


def _expand(argv: Sequence[str], depth: int = 0) -> list[str]:
    """The arguments with `@file`s read (GCC's plugin passes them in one)."""
    out: list[str] = []
    for arg in argv:
        if arg.startswith("@") and len(arg) > 1:
            if depth > 4:
                raise Uncacheable("response files nested too deep")
            try:
                text = Path(arg[1:]).read_text()
            except (OSError, UnicodeDecodeError) as exc:
                raise Uncacheable(f"unreadable response file {arg[1:]}") from exc
            try:
                out += _expand(shlex.split(text), depth + 1)
            except ValueError as exc:
                raise Uncacheable(f"unparsable response file {arg[1:]}") from exc
        else:
            out.append(arg)
    return out


def _argument_key(args: Sequence[str]) -> list[list[str]]:
    """Each argument with the bytes it names: the resolution file's by content (its
    name is a fresh temporary one per link), an IR object's by name and content (an
    archive member, `file@0xoffset`, by its whole archive)."""
    key: list[list[str]] = []
    for arg in args:
        if arg.startswith("-fresolution="):
            key.append(["-fresolution", _file_hash(arg.split("=", 1)[1])])
        elif arg.startswith("-flinker-output="):
            key.append([arg])
        elif arg.startswith("-"):
            raise Uncacheable(f"lto-wrapper option {arg}")
        else:
            path = arg.rsplit("@0x", 1)[0] if "@0x" in arg else arg
            key.append([arg, _object_hash(path)])
    return key


# The sections of code for an offload target (OpenMP or OpenACC `target` regions):
# lto-wrapper then runs mkoffload and that target's compiler, which are not hashed.
_OFFLOAD_SECTION = b".gnu.offload_lto_"


def _object_hash(name: str) -> str:
    """An IR object's hash (or an archive's); Uncacheable where it holds offload code."""
    digest = hashlib.sha256()
    tail = b""
    try:
        with Path(name).open("rb") as f:
            while chunk := f.read(1 << 20):
                digest.update(chunk)
                if _OFFLOAD_SECTION in tail + chunk:
                    raise Uncacheable(f"{name} holds code for an offload target")
                tail = chunk[-len(_OFFLOAD_SECTION) :]
    except OSError as exc:
        raise Uncacheable(f"cannot read {name}") from exc
    return digest.hexdigest()


def _file_hash(name: str) -> str:
    try:
        return sha256_of(Path(name))
    except OSError as exc:
        raise Uncacheable(f"cannot read {name}") from exc


def _related(folder: str, cwd: str) -> bool:
    folder, cwd = os.path.normpath(folder), os.path.normpath(cwd)
    return folder == cwd or cwd.startswith(folder + os.sep) or folder.startswith(cwd + os.sep)


def _options_key(environ: Mapping[str, str], cwd: str) -> tuple[list[str], str]:
    """The driver's options and the working folder as keyed. The folder becomes a
    placeholder only where one `-ffile-prefix-map` maps exactly it and no other prefix
    map touches it or what lies under it: then nothing generated holds it (GCC writes it
    as the debug info's compilation folder, which the map rewrites)."""
    try:
        options = shlex.split(environ.get("COLLECT_GCC_OPTIONS", ""))
    except ValueError as exc:
        raise Uncacheable("unparsable COLLECT_GCC_OPTIONS") from exc
    for option in options:
        if option.startswith(_UNCACHEABLE_PREFIXES):
            raise Uncacheable(f"driver option {option}")
    maps = [
        (i, option.split("=", 1)[1].partition("="))
        for i, option in enumerate(options)
        if option.startswith(_PREFIX_MAPS)
    ]
    touching = [(i, old, new) for i, (old, _, new) in maps if _related(old, cwd)]
    if len(touching) != 1:
        return options, cwd
    ((i, old, new),) = touching
    if not options[i].startswith(_PREFIX_MAP) or os.path.normpath(old) != os.path.normpath(cwd):
        return options, cwd
    keyed = list(options)
    keyed[i] = f"{_PREFIX_MAP}<cwd>={new}"
    return keyed, "<cwd>"


def _program(name: str, folders: Sequence[str]) -> list[str]:
    found = _search(name, folders)
    if found is None:
        return [name, "not found"]
    return [str(found), sha256_of(found)]


def cache_key(
    argv: Sequence[str], environ: Mapping[str, str], cwd: str, real: Path, own: str
) -> str:
    """The key of one lto-wrapper run, or Uncacheable."""
    args = _expand(argv)
    options, keyed_cwd = _options_key(environ, cwd)
    folders = compiler_path(environ, own)
    path = environ.get("PATH", os.defpath).split(os.pathsep)
    driver = environ.get("COLLECT_GCC", "")
    if not driver:
        raise Uncacheable("COLLECT_GCC is not set")
    driver_path = Path(driver) if os.sep in driver else _search(driver, path)
    if driver_path is None or not driver_path.is_file():
        raise Uncacheable(f"driver {driver} not found")
    material = {
        "format": FORMAT,
        "cwd": keyed_cwd,
        "args": _argument_key(args),
        "options": options,
        "driver": [driver, sha256_of(driver_path)],
        "lto-wrapper": sha256_of(real),
        "lto1": _program("lto1", folders),
        "as": _program("as", [*folders, *path]),
        "compiler_path": folders,
        "env": sorted(
            (k, v)
            for k, v in environ.items()
            if k.startswith(_ENV_PREFIXES) and k not in _ENV_APART
        ),
    }
    encoded = json.dumps(material, sort_keys=True).encode()
    return hashlib.sha256(encoded).hexdigest()


def _entry(cache: Path, key: str) -> Path:
    return cache / key[:2] / key


def _read_entry(entry: Path) -> list[tuple[Path, str]] | None:
    """The stored objects of an entry with their recorded hashes; None for a missing or
    malformed entry (read as untrusted: the shape is checked, the count bounded)."""
    try:
        manifest = json.loads((entry / MANIFEST).read_text())
    except (OSError, ValueError):
        return None
    hashes = manifest.get("objects") if isinstance(manifest, dict) else None
    if not isinstance(hashes, list) or not 0 < len(hashes) <= MAX_OUTPUTS:
        return None
    if not all(isinstance(h, str) and len(h) == 64 for h in hashes):
        return None
    return [(entry / str(i), h) for i, h in enumerate(hashes)]


def _copy_hashing(source: BinaryIO, target: BinaryIO) -> str:
    """Copy `source` into `target`; the SHA-256 of what was copied."""
    digest = hashlib.sha256()
    while chunk := source.read(1 << 20):
        digest.update(chunk)
        target.write(chunk)
    return digest.hexdigest()


def _copy_verified(source: Path, expected: str) -> str | None:
    """A new temporary file holding `source` (in TMPDIR, where the real lto-wrapper
    writes), its name returned only if its bytes hash to `expected`; None for a missing
    or altered source. A failure to write raises OSError, leaving nothing behind."""
    try:
        f = source.open("rb")
    except OSError:
        return None
    with f:
        fd, name = tempfile.mkstemp(prefix="polywheel-lto-", suffix=".ltrans.o")
        try:
            with os.fdopen(fd, "wb") as out:
                copied = _copy_hashing(f, out)
        except BaseException:
            Path(name).unlink(missing_ok=True)
            raise
    if copied != expected:
        Path(name).unlink()
        return None
    return name


def restore(cache: Path, key: str) -> list[str] | None:
    """The objects stored under `key` as fresh temporary files (the linker's plugin
    deletes what lto-wrapper names, as it does the real one's), or None: no entry, a
    damaged one (then removed), or no room for the copies."""
    entry = _entry(cache, key)
    stored = _read_entry(entry)
    if stored is None:
        return None
    names: list[str] = []
    try:
        for source, expected in stored:
            name = _copy_verified(source, expected)
            if name is None:
                shutil.rmtree(entry, ignore_errors=True)
                break
            names.append(name)
        else:
            with contextlib.suppress(OSError):
                os.utime(entry)  # for pruning: least recently used first
            return names
    except OSError:
        pass
    for made in names:
        Path(made).unlink(missing_ok=True)
    return None


def store(cache: Path, key: str, outputs: Sequence[str]) -> None:
    """Keep the objects the real lto-wrapper made, atomically: a complete entry under
    its key or none (two links storing the same key at once keep one)."""
    entry = _entry(cache, key)
    if entry.exists() or not 0 < len(outputs) <= MAX_OUTPUTS:
        return
    entry.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=".tmp-", dir=entry.parent))
    try:
        hashes = []
        for i, output in enumerate(outputs):
            with Path(output).open("rb") as f, (staging / str(i)).open("wb") as out:
                hashes.append(_copy_hashing(f, out))
        (staging / MANIFEST).write_text(json.dumps({"objects": hashes}))
        try:
            staging.rename(entry)
        except OSError:
            if not entry.exists():
                raise
    finally:
        shutil.rmtree(staging, ignore_errors=True)


def _count(environ: Mapping[str, str], event: str) -> None:
    log = environ.get(STATS_ENV)
    if log:
        with contextlib.suppress(OSError), open(log, "a") as f:
            f.write(event + "\n")


def working_folder(environ: Mapping[str, str]) -> str:
    """The working folder as GCC writes it (libiberty's getpwd): PWD where that names
    the current folder, a path that may go through a symbolic link; else the real one."""
    pwd = environ.get("PWD", "")
    if Path(pwd).is_absolute():
        with contextlib.suppress(OSError):
            if Path(pwd).samefile("."):
                return pwd
    return os.getcwd()  # noqa: PTH109 - the real path, as getcwd(3) gives it


def main(
    argv: Sequence[str], environ: Mapping[str, str] = os.environ, shim: str | None = None
) -> int:
    """Run as GCC's lto-wrapper; `shim` is this program's path (its folder is left out
    of the search for the real one)."""
    own = environ.get(SHIM_ENV) or str(Path(shim or sys.argv[0]).resolve().parent)
    real = real_lto_wrapper(environ, own)
    if real is None:
        print("polywheel: GCC's lto-wrapper was not found on COMPILER_PATH", file=sys.stderr)
        return 1
    cache_dir = environ.get(CACHE_ENV)
    cache = Path(cache_dir) if cache_dir else None
    key = None
    if cache is not None:
        try:
            key = cache_key(argv, environ, working_folder(environ), real, own)
        except (Uncacheable, OSError):
            _count(environ, "uncacheable")
    if cache is not None and key is not None:
        names = restore(cache, key)
        if names is not None:
            _count(environ, "hit")
            sys.stdout.write("".join(n + "\n" for n in names))
            return 0
    proc = subprocess.run([str(real), *argv], stdout=subprocess.PIPE, check=False)
    if proc.returncode == 0 and cache is not None and key is not None:
        _count(environ, "miss")
        outputs = [line for line in os.fsdecode(proc.stdout).splitlines() if line]
        with contextlib.suppress(OSError):
            store(cache, key, outputs)
    sys.stdout.buffer.write(proc.stdout)
    sys.stdout.flush()
    return proc.returncode
