"""The cache of GCC's LTO code generation that the variant builds of a matrix share.

An LTO link generates the code of its IR objects (cmake/lto_shim.py says how, and why
a hit is sound). With `apply-flags = "targets"`, a module that does not get the variant's
flags links the same IR against the same symbols in every variant: pybind11 modules
use LTO by default, and their code generation is most of their build. The first build
generates it, the others take its objects.

It works with the compiler cache, whose hits give every build the same IR objects
(GCC writes a random number into each, so two compiles of one source never match), and
under polywheel's jobserver, whose launcher runs each link (cmake/job_slots.py): the
launcher puts the shim's folder first on the link's COMPILER_PATH, where GCC looks for
its `lto-wrapper`. Other compilers never run it. The objects are kept in polywheel's
folder of the user's cache, the least recently used removed beyond MAX_BYTES.
"""

from __future__ import annotations

import dataclasses
import shlex
import shutil
import sys
from pathlib import Path

import polywheel
from polywheel.cachedir import cached_script, user_cache_dir
from polywheel.cmake.lto_shim import CACHE_ENV, SHIM_ENV, STATS_ENV

__all__ = ["MAX_BYTES", "VARIABLES", "LtoStats", "environment", "prune", "read_stats", "stats_log"]

MAX_BYTES = 1 << 30
VARIABLES = (SHIM_ENV, CACHE_ENV, STATS_ENV)
STATS_FILE = "polywheel-lto-stats.log"

# A shell script that runs Python, as a `#!` line cannot hold an interpreter path with a
# space. -IS: no user site, no site-packages, no PYTHON* variables; polywheel's own
# folder is put first on the path instead, so the shim starts in about 10 ms.
_SHIM = """#!/bin/sh
# Written by polywheel (cmake/lto_cache.py): GCC runs this as its lto-wrapper.
exec {python} -IS -c {code} "$0" "$@"
"""
_CODE = (
    "import sys; sys.path.insert(0, {root!r}); "
    "from polywheel.cmake.lto_shim import main; sys.exit(main(sys.argv[2:], shim=sys.argv[1]))"
)


def shim_folder() -> Path:
    """The folder holding the `lto-wrapper` shim for this interpreter and polywheel."""
    root = str(Path(polywheel.__file__).resolve().parent.parent)
    code = _CODE.format(root=root)
    content = _SHIM.format(python=shlex.quote(sys.executable), code=shlex.quote(code))
    return cached_script("lto-wrapper", "lto-wrapper", content).parent


def stats_log(staging: Path) -> Path:
    """Where the shim counts one build's LTO links, in the build's staging folder."""
    return staging / STATS_FILE


def environment(staging: Path) -> dict[str, str]:
    """The variables that turn the cache on for a build's links."""
    return {
        SHIM_ENV: str(shim_folder()),
        CACHE_ENV: str(user_cache_dir("lto")),
        STATS_ENV: str(stats_log(staging)),
    }


@dataclasses.dataclass(frozen=True)
class LtoStats:
    """What the shim counted for the LTO links of one or more builds."""

    hits: int = 0
    misses: int = 0
    uncacheable: int = 0

    def __add__(self, other: LtoStats) -> LtoStats:
        return LtoStats(
            self.hits + other.hits,
            self.misses + other.misses,
            self.uncacheable + other.uncacheable,
        )

    def describe(self) -> str:
        cached = self.hits + self.misses
        text = f"{self.hits} of {cached} link(s) from the cache"
        if self.uncacheable:
            text += f", {self.uncacheable} not cacheable"
        return text


def read_stats(path: Path) -> LtoStats | None:
    """The shim's counts (one event per line), None when no LTO link ran."""
    try:
        events = path.read_text(errors="replace").split()
    except OSError:
        return None
    if not events:
        return None
    return LtoStats(events.count("hit"), events.count("miss"), events.count("uncacheable"))


def prune(folder: Path | None = None, limit: int = MAX_BYTES) -> int:
    """Remove the least recently used entries until the cache holds at most `limit`
    bytes; returns how many were removed. Entries are folders `<xx>/<key>`, touched on
    every hit; half-written ones (`.tmp-*`) are left to the link writing them."""
    root = folder or user_cache_dir("lto")
    entries: list[tuple[float, int, Path]] = []
    for shard in root.iterdir() if root.is_dir() else ():
        if not shard.is_dir():
            continue
        for entry in shard.iterdir():
            if entry.name.startswith(".") or not entry.is_dir():
                continue
            try:
                size = sum(f.stat().st_size for f in entry.iterdir())
                entries.append((entry.stat().st_mtime, size, entry))
            except OSError:
                continue
    total = sum(size for _, size, _ in entries)
    removed = 0
    for _, size, entry in sorted(entries, key=lambda e: e[0]):
        if total <= limit:
            break
        shutil.rmtree(entry, ignore_errors=True)
        total -= size
        removed += 1
    return removed
