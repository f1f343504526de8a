"""A real multi-file project from PyPI: polywheel against the best hand loop.

spglib's sdist is downloaded at benchmark time (pinned, checked against PyPI's SHA-256):
a scikit-build-core project whose build compiles 25 translation units: 23 C files of
the symmetry library `Spglib_symspg` (the hot code) and the 2 C++ files of its
pybind11 module (built with LTO, which is most of its compile time). It
is built as three x86-64 levels with `-j 2`:

- by hand, the best loop a maintainer would write (see hand_loop.py), in every shape
  of two cores (2 builds x 1 compile job, 1 x 2, and all 3 levels at once x 1); the
  fastest shape is the baseline;
- by `polywheel build -j 2` with global flags (every target gets `-march`);
- by `polywheel build -j 2` with `apply-flags = "targets"` and
  `polywheel_apply_variant_flags(Spglib_symspg)`: only the library gets `-march`, so
  the module's objects are the same in every variant.

Every measured build starts from a fresh copy of the sdist and empty caches.
"""

from __future__ import annotations

import hashlib
import json
import re
import shutil
import tarfile
import urllib.parse
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

import hand_loop
from common import LEVELS, Timing, polywheel_build, polywheel_ccache, run, stats, timed, tool

NAME, VERSION = "spglib", "2.8.0"
HOT_TARGET = "Spglib_symspg"
UNITS = "25 translation units: 23 C in the library, 2 C++ in its pybind11 module"
VARIANTS = "".join(
    f'\n[[tool.variants.variant]]\nlabel = "{label}"\n'
    f'properties = ["x86_64 :: level :: {label.rsplit("_", 1)[1]}"]\n'
    for label in LEVELS
)


def download(work: Path) -> Path:
    """The sdist, from PyPI's JSON API (pip would build its metadata first, which needs
    setuptools-scm), verified against the SHA-256 PyPI publishes."""
    target = work / "sdists"
    target.mkdir(parents=True, exist_ok=True)
    api = f"https://pypi.org/pypi/{NAME}/json"
    with urllib.request.urlopen(api, timeout=120) as response:
        files = json.load(response)["releases"][VERSION]
    (sdist,) = [u for u in files if u["packagetype"] == "sdist"]
    archive = target / sdist["filename"]
    if not archive.exists():
        url = urllib.parse.urljoin(api, sdist["url"])
        with urllib.request.urlopen(url, timeout=300) as response:
            data = response.read()
        if hashlib.sha256(data).hexdigest() != sdist["digests"]["sha256"]:
            raise SystemExit(f"{url}: SHA-256 does not match PyPI's")
        archive.write_bytes(data)
    return archive


def unpack(archive: Path, dst: Path) -> Path:
    """A fresh copy of the sdist at dst, with its version written out: the sdist reads
    it with setuptools-scm, which is not a dependency of this benchmark."""
    shutil.rmtree(dst, ignore_errors=True)
    dst.mkdir(parents=True)
    with tarfile.open(archive) as tar:
        tar.extractall(dst, filter="data")
    (project,) = dst.iterdir()
    pyproject = project / "pyproject.toml"
    text = pyproject.read_text().replace('dynamic = ["version"]', f'version = "{VERSION}"')
    text = "\n".join(
        line for line in text.splitlines() if not line.startswith("metadata.version.provider")
    )
    pyproject.write_text(text + "\n")
    return project


def polywheel_project(archive: Path, dst: Path, targets: bool) -> Path:
    project = unpack(archive, dst)
    pyproject = project / "pyproject.toml"
    text = pyproject.read_text().replace('"scikit_build_core.build"', '"polywheel.build"')
    if targets:
        text += '\n[tool.variants]\napply-flags = "targets"\n'
        cmake = project / "python" / "CMakeLists.txt"
        cmake.write_text(
            cmake.read_text() + f"\nif(COMMAND polywheel_apply_variant_flags)\n"
            f"  polywheel_apply_variant_flags({HOT_TARGET})\nendif()\n"
        )
    pyproject.write_text(text + VARIANTS)
    return project


def hand_project(archive: Path, dst: Path, targets: bool = False) -> Path:
    project = unpack(archive, dst)
    hand_loop.add_variant_table(project)
    if targets:  # the same one line, by hand: the hot target gets the level's flags
        cmake = project / "python" / "CMakeLists.txt"
        cmake.write_text(
            cmake.read_text()
            + f"\ntarget_compile_options({HOT_TARGET} PRIVATE ${{{HAND_FLAGS}}})\n"
        )
    return project


HAND_FLAGS = "HAND_VARIANT_FLAGS"
HAND_SHAPES = {f"hand {n}x{jobs}": (n, jobs) for n, jobs in hand_loop.shapes(2, len(LEVELS))}
HAND_TARGETS = "hand 2x1, targets and ccache by hand"
POLYWHEEL = ("polywheel global", "polywheel targets")
CONFIGS = (*HAND_SHAPES, *POLYWHEEL, HAND_TARGETS)


@dataclass
class Runs:
    times: list[Timing] = field(default_factory=list)
    hits: list[tuple[int, int]] = field(default_factory=list)
    lto_hits: list[tuple[int, int]] = field(default_factory=list)


LTO_LINE = re.compile(r"\*\*\* LTO code generation \(GCC\): (\d+) of (\d+) link")


def lto_hits(output: str) -> tuple[int, int] | None:
    """(links from polywheel's LTO cache, cacheable links) as the build printed them."""
    found = LTO_LINE.search(output)
    return (int(found.group(1)), int(found.group(2))) if found else None


def cache_hits(ccache_dir: Path) -> tuple[int, int] | None:
    """(hits, cacheable compiles) that ccache counted in a cache folder it started
    empty, or None when no compile went through it."""
    if not ccache_dir.is_dir():
        return None
    out = run([tool("ccache"), "--print-stats"], ccache_dir, {"CCACHE_DIR": str(ccache_dir)})
    values = dict(line.split("\t", 1) for line in out.splitlines() if "\t" in line)
    hits = int(values.get("direct_cache_hit", 0)) + int(values.get("preprocessed_cache_hit", 0))
    misses = int(values.get("cache_miss", 0))
    return (hits, hits + misses) if hits + misses else None


def one_build(
    config: str, archive: Path, where: Path, printed: list[str] | None = None
) -> tuple[Timing, Path, Path | None]:
    """One measured build; what polywheel printed is appended to `printed`."""
    shutil.rmtree(where, ignore_errors=True)
    out, cache = where / "dist", where / "ccache"
    if config in HAND_SHAPES:
        concurrent, parallel = HAND_SHAPES[config]
        project = hand_project(archive, where / "src")
        return (
            timed(
                lambda: hand_loop.build_matrix(
                    project, out, concurrent=concurrent, parallel=parallel
                ),
                sample=True,
            ),
            out,
            None,
        )
    if config == HAND_TARGETS:
        project = hand_project(archive, where / "src", targets=True)
        return (
            timed(
                lambda: hand_loop.build_matrix(
                    project, out, concurrent=2, parallel=1, flags_define=HAND_FLAGS,
                    ccache_dir=cache,
                ),
                sample=True,
            ),
            out,
            cache,
        )  # fmt: skip
    project = polywheel_project(archive, where / "src", config.endswith("targets"))
    home = where / "home"
    said = printed if printed is not None else []
    return (
        timed(lambda: said.append(polywheel_build(project, out, home)), sample=True),
        out,
        polywheel_ccache(home),
    )


def measure(work: Path, repeat: int) -> tuple[dict[str, Runs], list[tuple[float, float]], str]:
    archive = download(work)
    runs = {config: Runs() for config in CONFIGS}
    rebuild: list[tuple[float, float]] = []
    audit = ""
    for i in range(repeat):
        # A different order each repetition, so no configuration always goes first.
        order = CONFIGS[i % len(CONFIGS) :] + CONFIGS[: i % len(CONFIGS)]
        for config in order:
            where = work / "real" / f"{config.replace(' ', '-').replace(',', '')}-{i}"
            printed: list[str] = []
            timing, out, cache = one_build(config, archive, where, printed)
            runs[config].times.append(timing)
            hits = cache_hits(cache) if cache else None
            if hits:
                runs[config].hits.append(hits)
            linked = lto_hits("".join(printed))
            if linked:
                runs[config].lto_hits.append(linked)
            if config == "polywheel global":
                project = where / "src" / f"{NAME}-{VERSION}"
                again = timed(lambda p=project, o=out, h=where / "home": polywheel_build(p, o, h))
                rebuild.append((again.wall, timing.wall))
            checked = hand_loop.check_wheels(out)
            audit = audit or checked
            shutil.rmtree(where, ignore_errors=True)
    return runs, rebuild, audit


def _fmt(values: list[float], unit: str = "s", digits: int = 1) -> str:
    median, spread = stats(values)
    return f"{median:.{digits}f} {unit} ±{spread:.{digits}f}"


def _ratio(ours: list[float], theirs: list[float], digits: int = 2) -> str:
    ratios = [a / b for a, b in zip(ours, theirs, strict=True)]
    median, spread = stats(ratios)
    return f"**{median:.{digits}f}** ±{spread:.{digits}f}"


def rows(work: Path, repeat: int) -> list[str]:
    runs, rebuild, audit = measure(work, repeat)
    budget = [k for k, shape in HAND_SHAPES.items() if hand_loop.within(2, shape)]
    best = min(budget, key=lambda k: stats([t.wall for t in runs[k].times])[0])
    walls = {k: [t.wall for t in v.times] for k, v in runs.items()}
    cpus = {k: [t.cpu for t in v.times] for k, v in runs.items()}
    what = f"{NAME} {VERSION} ({UNITS}), 3 x86-64 levels, 2 cores"
    lines = []
    for other, (concurrent, parallel) in HAND_SHAPES.items():
        if other == best:
            continue
        lines.append(
            f"| hand loop shapes: {other} ({concurrent} `uv build` at once, "
            f"`CMAKE_BUILD_PARALLEL_LEVEL={parallel}`) vs {best}, the fastest within the "
            f"budget of 2 jobs, which is the baseline below | {_fmt(walls[other])} vs "
            f"{_fmt(walls[best])} | {_ratio(walls[other], walls[best])} |"
        )
    for config, target in (("polywheel global", "≤ 0.85"), ("polywheel targets", "≤ 0.60")):
        mode = "global flags" if config.endswith("global") else '`apply-flags = "targets"`'
        lines.append(
            f"| (e) {what}: `polywheel build -j 2`, {mode}, vs the best hand loop "
            f"(global flags) | wall {_fmt(walls[config])} vs {_fmt(walls[best])}; "
            f"CPU {_fmt(cpus[config])} vs {_fmt(cpus[best])} | "
            f"wall {_ratio(walls[config], walls[best])} (target {target}), "
            f"CPU {_ratio(cpus[config], cpus[best])} |"
        )
    lines.append(
        f'| (e\') the same, `apply-flags = "targets"`, vs a hand loop that also does '
        f"targets and a compiler cache by hand (2×1, one CMake line, ccache as launcher) "
        f"| wall {_fmt(walls['polywheel targets'])} vs {_fmt(walls[HAND_TARGETS])}; "
        f"CPU {_fmt(cpus['polywheel targets'])} vs {_fmt(cpus[HAND_TARGETS])} | "
        f"wall {_ratio(walls['polywheel targets'], walls[HAND_TARGETS])}, "
        f"CPU {_ratio(cpus['polywheel targets'], cpus[HAND_TARGETS])} |"
    )
    beyond = [k for k in HAND_SHAPES if k not in budget]
    for over in beyond:
        for config in POLYWHEEL:
            lines.append(
                f"| (e+) beyond the budget: `{config}` (`-j 2`) vs {over} ("
                f"{HAND_SHAPES[over][0]} compiles on 2 cores, global flags) | wall "
                f"{_fmt(walls[config])} vs {_fmt(walls[over])}; CPU {_fmt(cpus[config])} vs "
                f"{_fmt(cpus[over])} | wall {_ratio(walls[config], walls[over])}, "
                f"CPU {_ratio(cpus[config], cpus[over])} |"
            )
    for config in (best, *beyond, "polywheel global", "polywheel targets", HAND_TARGETS):
        times = runs[config].times
        idle = [t.idle or 0.0 for t in times]
        shares = [t.idle_share or 0.0 for t in times]
        hits = runs[config].hits
        cache = (
            "no compiler cache"
            if not hits
            else f"compiler cache: {stats([h / n for h, n in hits])[0]:.0%} hits "
            f"({hits[0][0]} of {hits[0][1]} compiles in the first run)"
        )
        linked = runs[config].lto_hits
        if linked:
            cache += (
                f"; LTO code generation: {linked[0][0]} of {linked[0][1]} links from "
                "polywheel's cache"
            )
        lines.append(
            f"| (f) {config}: core time with no compiler running, of wall × 2 cores | "
            f"{_fmt(idle)} of {_fmt([t.wall * 2 for t in times])} | "
            f"**{stats(shares)[0]:.0%}** ±{stats(shares)[1]:.0%} idle; {cache} |"
        )
    again, first = [a for a, _ in rebuild], [b for _, b in rebuild]
    lines += [
        f"| (d) {NAME}: second `polywheel build`, nothing changed (sound reuse), vs the "
        f"first | {_fmt(again, digits=2)} vs {_fmt(first)} | "
        f"{_ratio(again, first, digits=3)} (target ≤ 0.05) |",
        f"| every matrix above audited with `polywheel audit` (the benchmark stops on a "
        f"wrong wheel) | {audit} | ok |",
    ]
    return lines
