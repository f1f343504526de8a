"""What every benchmark section shares: running commands, timing them (wall and CPU),
the statistics, and the sampler of compiler processes behind the idle-core figure."""

from __future__ import annotations

import functools
import os
import platform
import resource
import shutil
import statistics
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = ROOT / "examples"
PYTHON = sys.executable
BIN = Path(PYTHON).parent
LEVELS = ("x86_64_v1", "x86_64_v3", "x86_64_v4")
MARCH = {
    "x86_64_v1": "-march=x86-64",
    "x86_64_v3": "-march=x86-64-v3",
    "x86_64_v4": "-march=x86-64-v4",
}
CORES = os.cpu_count() or 1

# As after `pip install`, which byte-compiles: an editable checkout with
# PYTHONDONTWRITEBYTECODE set would recompile polywheel's modules in every process,
# a cost scikit-build-core (installed normally) does not pay. MAKEFLAGS and the
# parallel level are the harness's to set, per build.
BASE_ENV = {
    k: v
    for k, v in os.environ.items()
    if k not in {"PYTHONDONTWRITEBYTECODE", "MAKEFLAGS", "CMAKE_BUILD_PARALLEL_LEVEL"}
}


def tool(name: str) -> str:
    """A console script of this Python's environment, else from PATH."""
    found = shutil.which(name, path=str(BIN)) or shutil.which(name)
    if found is None:
        raise SystemExit(f"{name} not found: pip install -e '.[test]'")
    return found


@functools.cache
def no_isolation() -> tuple[str, ...]:
    """`polywheel build` builds in an isolated environment made from build-system.requires
    where it can; the benchmarks compare it with the hand loop on the same installed
    packages, so both build without isolation (the cost of isolation is a row of its own)."""
    help_text = run([PYTHON, "-m", "polywheel", "build", "--help"], ROOT)
    return ("--no-isolation",) if "--no-isolation" in help_text else ()


def polywheel_build(
    project: Path, out: Path, cache_home: Path | None, *, isolated: bool = False, jobs: int = 2
) -> str:
    """`polywheel build -j 2` (or `jobs`) as a maintainer runs it: no CCACHE_DIR (which asks for a
    kept compiler cache), and a user cache folder of its own (XDG_CACHE_HOME), so that a
    compiler cache starts empty, as on a new CI machine (the no-change rebuild then finds
    what the first build left). None: the user's own cache folder, where an isolated
    build's environment is kept between runs. Returns what the command printed."""
    options = () if isolated else no_isolation()
    return run(
        [PYTHON, "-m", "polywheel", "build", "-j", str(jobs), *options, "-o", str(out), "."],
        project,
        {"XDG_CACHE_HOME": str(cache_home)} if cache_home else {},
    )


def polywheel_ccache(cache_home: Path) -> Path:
    """Where polywheel_build's compiler cache is."""
    return cache_home / "polywheel" / "ccache"


def run(cmd: Sequence[str], cwd: Path, env: dict[str, str] | None = None) -> str:
    proc = subprocess.run(
        list(cmd),
        cwd=cwd,
        env={**BASE_ENV, **(env or {})},
        capture_output=True,
        text=True,
        check=False,
    )
    if proc.returncode != 0:
        raise SystemExit(f"{' '.join(cmd)} failed:\n{proc.stdout[-4000:]}\n{proc.stderr[-4000:]}")
    return proc.stdout


def children_cpu() -> float:
    """CPU seconds of every finished (waited-for) descendant of this process."""
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


@dataclass
class Timing:
    wall: float
    cpu: float
    idle: float | None = None  # core-seconds with no compiler running, if sampled
    extra: dict[str, float] = field(default_factory=dict)

    @property
    def idle_share(self) -> float | None:
        return None if self.idle is None else self.idle / (self.wall * CORES)


def timed(action: Callable[[], object], sample: bool = False) -> Timing:
    """Wall and CPU time (of the child processes action started and waited for)."""
    sampler = CompileSampler() if sample else None
    cpu0 = children_cpu()
    if sampler:
        sampler.start()
    start = time.perf_counter()
    action()
    wall = time.perf_counter() - start
    idle = sampler.stop(wall) if sampler else None
    return Timing(wall, children_cpu() - cpu0, idle)


def stats(values: Sequence[float]) -> tuple[float, float]:
    """Median and half the range."""
    return statistics.median(values), (max(values) - min(values)) / 2


def copy(src: Path, dst: Path) -> Path:
    shutil.rmtree(dst, ignore_errors=True)
    shutil.copytree(src, dst, ignore=shutil.ignore_patterns("build", "dist"))
    return dst


def cpu_flags() -> set[str]:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("flags"):
                return set(line.split(":", 1)[1].split())
    except OSError:
        pass
    return set()


def machine() -> str:
    model = "unknown CPU"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    gcc = run(["gcc", "--version"], ROOT).splitlines()[0] if shutil.which("gcc") else "no gcc"
    avx512 = "AVX-512" if "avx512f" in cpu_flags() else "no AVX-512"
    return (
        f"{model} ({avx512}), {CORES} cores, {platform.system()} "
        f"{platform.machine()}, Python {platform.python_version()}, {gcc}"
    )


# The idle-core figure ------------------------------------------------------------------

# The processes that do a build's compiling: GCC's and Clang's compilers proper, the
# LTO back end, the assembler and the linkers. The drivers (gcc, g++, collect2,
# lto-wrapper) and launchers (ccache) mostly wait on these, so they do not count.
# GCC's link-time optimizer renames its processes (prctl): lto1-wpa, lto1-ltrans.
COMPILER_PROCESSES = frozenset(
    {"cc1", "cc1plus", "cc1obj", "lto1", "lto1-wpa", "lto1-ltrans", "as", "ld", "ld.bfd",
     "ld.gold", "ld.lld", "clang", "clang++", "nvcc", "cicc", "ptxas", "cudafe++"}
)  # fmt: skip
# A compiler cache daemon runs the compilers as its own children, outside our tree.
CACHE_DAEMONS = frozenset({"sccache"})


class CompileSampler:
    """Samples /proc every `interval` s for compiler processes among this process's
    descendants (and a compiler cache daemon's); integrates the cores they leave idle.

    At each sample, min(compilers, cores) cores count as busy until the next sample;
    idle core-seconds = wall x cores - busy core-seconds. A compile shorter than the
    interval can be missed, so the figure is for builds of whole seconds per
    translation unit, not for the tiny example."""

    def __init__(self, interval: float = 0.05) -> None:
        self.interval = interval
        self.busy = 0.0
        self.samples = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self, wall: float) -> float:
        self._stop.set()
        self._thread.join()
        return max(0.0, wall * CORES - self.busy)

    def _loop(self) -> None:
        me = os.getpid()
        last = time.perf_counter()
        while not self._stop.is_set():
            count = self._count(me)
            now = time.perf_counter()
            self.busy += min(count, CORES) * (now - last)
            last = now
            self.samples += 1
            self._stop.wait(self.interval)

    @staticmethod
    def _count(me: int) -> int:
        parents: dict[int, int] = {}
        names: dict[int, str] = {}
        for entry in os.scandir("/proc"):
            if not entry.name.isdigit():
                continue
            try:
                with open(f"/proc/{entry.name}/stat", "rb") as f:
                    raw = f.read().decode(errors="replace")
            except OSError:
                continue
            pid = int(entry.name)
            name = raw[raw.find("(") + 1 : raw.rfind(")")]
            rest = raw[raw.rfind(")") + 2 :].split()
            if rest[0] == "Z":
                continue
            parents[pid] = int(rest[1])
            names[pid] = name
        roots = {me} | {pid for pid, name in names.items() if name in CACHE_DAEMONS}
        count = 0
        for pid, name in names.items():
            if name not in COMPILER_PROCESSES:
                continue
            ancestor, hops = parents.get(pid, 0), 0
            while ancestor > 1 and ancestor not in roots and hops < 64:
                ancestor, hops = parents.get(ancestor, 0), hops + 1
            count += ancestor in roots
        return count
