"""All of polywheel's benchmarks in one command; prints a markdown report.

    python benchmarks/run.py [--repeat N] [--write docs/performance.md] [--no-real-project]

Timings are taken in one run on one machine and reported as ratios, with the median
and the spread (half the range) of N repetitions: the machines are shared and noisy.
Every matrix a comparison times, polywheel's and the hand loop's, is audited with
`polywheel audit`, and the benchmark stops if one wheel does not hold the code its
label claims.
"""

from __future__ import annotations

import argparse
import io
import shutil
import subprocess
import sys
import tempfile
import time
import zipfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import audit_speed
import hand_loop
import real_project
from common import (
    EXAMPLES,
    LEVELS,
    PYTHON,
    ROOT,
    Timing,
    copy,
    cpu_flags,
    machine,
    no_isolation,
    polywheel_build,
    run,
    stats,
    timed,
    tool,
)

# 1. What the variants buy at run time -------------------------------------------------


def runtime_rows(work: Path, repeat: int) -> list[str]:
    project = copy(EXAMPLES / "simd", work / "simd-runtime")
    run([PYTHON, "-m", "polywheel", "build", *no_isolation(), "-o", "dist"], project)
    timings: dict[str, list[float]] = {}
    flags = cpu_flags()
    for label in LEVELS:
        if label == "x86_64_v4" and "avx512f" not in flags:
            continue
        if label == "x86_64_v3" and "avx2" not in flags:
            continue
        (wheel,) = (project / "dist").glob(f"*-{label}.whl")
        target = work / f"unpacked-{label}"
        with zipfile.ZipFile(wheel) as zf:
            zf.extractall(target)
        code = "import pw_simd; print(pw_simd.benchmark(4096, 3000))"
        timings[label] = [float(run([PYTHON, "-c", code], target)) for _ in range(repeat)]
    base, _ = stats(timings["x86_64_v1"])
    rows = []
    for label, values in timings.items():
        median, spread = stats(values)
        rows.append(
            f"| kernel pass, {label} wheel (4096 floats, degree-12 polynomial) | "
            f"{median * 1e6:.2f} µs ±{spread * 1e6:.2f} | speedup vs v1: **{base / median:.1f}×** |"
        )
    return rows


# 2. What the variants buy in size -----------------------------------------------------


def size_rows(work: Path) -> list[str]:
    if shutil.which("nvcc") is None:
        return ["| CUDA wheel sizes | skipped: no nvcc | |"]
    project = copy(EXAMPLES / "cuda", work / "cuda-size")
    pyproject = project / "pyproject.toml"
    pyproject.write_text(
        pyproject.read_text()
        + '\n[[tool.variants.variant]]\nlabel = "fat"\ncuda-architectures = ["80-real", "90-real"]\n'
    )
    # Only the machine's toolkit: the example's other toolkit axis entry installs
    # PyPI's CUDA compiler wheels, which a fat-vs-per-architecture comparison needs not.
    selection = [arg for label in ("fat", "sm80", "sm90") for arg in ("--variant", label)]
    build = [PYTHON, "-m", "polywheel", "build", *no_isolation(), *selection, "-o", "dist"]
    run(build, project)
    rows = []
    fat_sizes: tuple[int, int] | None = None
    for label in ("fat", "sm80", "sm90"):
        wheel = next((project / "dist").glob(f"*-{label}.whl"))
        gpu = gpu_code_size(wheel)
        if fat_sizes is None:
            fat_sizes = (wheel.stat().st_size, gpu)
        whole, code = fat_sizes
        what = "one fat wheel (sm_80 + sm_90)" if label == "fat" else f"{label} variant wheel"
        rows.append(
            f"| CUDA example, {what} | {wheel.stat().st_size / 1024:.0f} KiB, GPU code "
            f"{gpu / 1024:.1f} KiB | wheel **{wheel.stat().st_size / whole:.2f}**, GPU code "
            f"**{gpu / code:.2f}** of the fat wheel's |"
        )
    return rows


def gpu_code_size(wheel: Path) -> int:
    """Bytes of `.nv_fatbin` (device code) in the wheel's shared objects."""

    from elftools.elf.elffile import ELFFile

    total = 0
    with zipfile.ZipFile(wheel) as zf:
        for name in zf.namelist():
            if name.endswith(".so"):
                section = ELFFile(io.BytesIO(zf.read(name))).get_section_by_name(".nv_fatbin")
                total += section["sh_size"] if section is not None else 0
    return total


# 3. What polywheel costs -------------------------------------------------------------


# The example's builds take seconds, so they are repeated more: this machine's noise
# (other jobs on its two cores) is of the same order.
EXAMPLE_REPEAT = 7


def plain_without_numpy(work: Path, repeat: int) -> tuple[list[float], list[float]]:
    """(b) again in a fresh environment with polywheel and its dependencies but no NumPy
    (scikit-build-core imports NumPy in every build where it is installed, polywheel
    does not, so (b) depends on it): polywheel's and scikit-build-core's wall times."""
    uv = tool("uv")
    venv = work / "venv-without-numpy"
    run([uv, "venv", "-q", "--python", PYTHON, str(venv)], work)
    python = str(venv / "bin" / "python")
    run([uv, "pip", "install", "-q", "--python", python, "-e", str(ROOT), "build"], work)
    probe = "import importlib.util as u; print(u.find_spec('numpy') is None)"
    if run([python, "-c", probe], work).strip() != "True":
        raise SystemExit(f"{venv} has NumPy")
    build = [python, "-m", "build", "--no-isolation", "--wheel", "-o", "dist"]
    ours: list[float] = []
    theirs: list[float] = []
    for i in range(-1, repeat):  # one untimed round: the new environment's first imports
        plain = copy(EXAMPLES / "simd", work / f"plain-bare-pw-{i}")
        pw = timed(lambda p=plain: run(build, p, {"XDG_CACHE_HOME": f"{p}-home"}))
        sk = copy(EXAMPLES / "simd", work / f"plain-bare-sk-{i}")
        hand_loop.scikit_build_project(sk)
        sk_time = timed(lambda p=sk: run(build, p))
        for project in plain, sk:
            hand_loop.check_wheels(project / "dist", levels=())
        if i >= 0:
            ours.append(pw.wall)
            theirs.append(sk_time.wall)
    return ours, theirs


def cost_rows(work: Path, repeat: int) -> list[str]:
    shapes = hand_loop.shapes(2, len(LEVELS))
    hand: dict[tuple[int, int], list[Timing]] = {shape: [] for shape in shapes}
    matrix_pw, matrix_isolated, plain_pw, plain_sk, second = [], [], [], [], []
    matrix_pw3: list[float] = []
    build = [PYTHON, "-m", "build", "--no-isolation", "--wheel", "-o", "dist"]
    checked = ""
    # One untimed round first: the first uv, variantlib and CMake runs of a session
    # read their files from disk.
    for i in range(-1, repeat):
        project = copy(EXAMPLES / "simd", work / f"pw-{i}")
        cache = work / f"cache-{i}"
        out = project / "dist"
        first = timed(lambda p=project, o=out, c=cache: polywheel_build(p, o, c))
        again = timed(lambda p=project, o=out, c=cache: polywheel_build(p, o, c))
        hand_loop.check_wheels(out)
        three = copy(EXAMPLES / "simd", work / f"pw3-{i}")
        three_jobs = timed(
            lambda p=three, c=cache: polywheel_build(p, p / "dist", Path(f"{c}-j3"), jobs=3)
        )
        hand_loop.check_wheels(three / "dist")
        isolated_project = copy(EXAMPLES / "simd", work / f"pw-isolated-{i}")
        isolated = timed(
            lambda p=isolated_project: polywheel_build(p, p / "dist", None, isolated=True)
        )
        runs = {}
        for shape in shapes:
            source = copy(EXAMPLES / "simd", work / f"hand-{i}-{shape[0]}x{shape[1]}")
            hand_loop.scikit_build_project(source)
            out = source / "dist"
            runs[shape] = timed(
                lambda p=source, o=out, s=shape: hand_loop.build_matrix(
                    p, o, concurrent=s[0], parallel=s[1]
                )
            )
            checked = hand_loop.check_wheels(out)
        plain = copy(EXAMPLES / "simd", work / f"plain-pw-{i}")
        # As a maintainer runs it: no CCACHE_DIR (which would ask for a kept compiler
        # cache); a cache folder of its own, so nothing of an earlier run is found.
        plain_time = timed(
            lambda p=plain, b=build, c=cache: run(b, p, {"XDG_CACHE_HOME": f"{c}-plain-home"})
        )
        sk = copy(EXAMPLES / "simd", work / f"plain-sk-{i}")
        hand_loop.scikit_build_project(sk)
        sk_time = timed(lambda p=sk, b=build: run(b, p))
        for project in plain, sk:
            hand_loop.check_wheels(project / "dist", levels=())
        if i < 0:
            continue
        matrix_pw.append(first.wall)
        matrix_pw3.append(three_jobs.wall)
        matrix_isolated.append(isolated.wall)
        second.append(again.wall)
        for shape in shapes:
            hand[shape].append(runs[shape])
        plain_pw.append(plain_time.wall)
        plain_sk.append(sk_time.wall)

    budget = [s for s in shapes if hand_loop.within(2, s)]
    best = min(budget, key=lambda s: stats([t.wall for t in hand[s]])[0])
    base = [t.wall for t in hand[best]]
    beyond = [s for s in shapes if s not in budget]

    def row(what: str, ours: list[float], theirs: list[float], target: str) -> str:
        (a, sa), (b, sb) = stats(ours), stats(theirs)
        ratios = [x / y for x, y in zip(ours, theirs, strict=True)]
        ratio, spread = stats(ratios)
        return (
            f"| {what} | {a:.2f} s ±{sa:.2f} vs {b:.2f} s ±{sb:.2f} | "
            f"**{ratio:.2f}** ±{spread:.2f}{f' (target {target})' if target else ''} |"
        )

    def shape_name(shape: tuple[int, int]) -> str:
        return f"{shape[0]}×{shape[1]}"

    rows = [
        row(
            f"hand loop shapes on 2 cores: {shape_name(shape)} (builds at once × compile "
            f"jobs each) vs {shape_name(best)}, the fastest within the budget of 2 jobs, "
            "which is the baseline of (a)",
            [t.wall for t in hand[shape]],
            base,
            "",
        )
        for shape in shapes
        if shape != best
    ]
    for shape in beyond:
        over = [t.wall for t in hand[shape]]
        rows += [
            row(
                f"(a+) beyond the budget: `polywheel build -j 2` vs the hand loop with every "
                f"level at once ({shape_name(shape)}: {shape[0]} compiles on 2 cores)",
                matrix_pw,
                over,
                "",
            ),
            row(
                f"(a+) the same budget: `polywheel build -j 3` vs that hand loop "
                f"({shape_name(shape)})",
                matrix_pw3,
                over,
                "",
            ),
        ]
    return [
        *rows,
        row(
            "(a) whole matrix of the example (3 x86-64 levels, plain wheel, index): "
            "`polywheel build -j 2` vs the best hand loop (`uv build` per level in its own "
            f"build folder, {shape_name(best)}; `variantlib make-variant` ×3, "
            "`generate-index-json`)",
            matrix_pw,
            base,
            "≤ 0.60",
        ),
        row(
            "(b) one plain wheel: polywheel vs scikit-build-core (`python -m build --no-isolation`)",
            plain_pw,
            plain_sk,
            "≤ 1.05",
        ),
        row(
            "(b) the same in a fresh environment without NumPy (polywheel, its dependencies "
            "and `build` only)",
            *plain_without_numpy(work, repeat),
            "≤ 1.05",
        ),
        row(
            "(c) second `polywheel build`, nothing changed (sound reuse: every input the "
            "build read verified by content), vs the first",
            second,
            matrix_pw,
            "≤ 0.20",
        ),
        row(
            "(a') the cost of isolation: `polywheel build -j 2` in its default isolated "
            "build environment (made from build-system.requires, cached between runs) vs "
            "`--no-isolation` as timed in (a)",
            matrix_isolated,
            matrix_pw,
            "",
        ),
        f"| both matrices of (a) audited with `polywheel audit` (the benchmark stops on a "
        f"wrong wheel) | {checked} | ok |",
    ]


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--write", type=Path, help="also replace the table in this markdown file")
    parser.add_argument(
        "--no-real-project",
        action="store_true",
        help=f"skip the builds of {real_project.NAME} from PyPI (about 3 minutes a repetition)",
    )
    args = parser.parse_args()
    import polywheel

    run([PYTHON, "-m", "compileall", "-q", str(Path(polywheel.__file__).parent)], ROOT)
    commit = subprocess.run(
        ["git", "-C", str(ROOT), "log", "-1", "--format=%h %s"],
        capture_output=True,
        text=True,
        check=False,
    ).stdout.strip()
    started = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="polywheel-bench-") as tmp:
        work = Path(tmp)
        sections = [
            (
                "What the variants buy at run time",
                "measurement | time per pass | ratio",
                runtime_rows(work, args.repeat),
            ),
            ("What the variants buy in size", "wheel | size | ratio", size_rows(work)),
            (
                "What polywheel costs (the example)",
                "comparison | median times | ratio",
                cost_rows(work, max(args.repeat, EXAMPLE_REPEAT)),
            ),
        ]
        if not args.no_real_project:
            sections.append(
                (
                    f"On a real multi-file project: {real_project.NAME} {real_project.VERSION} "
                    "from PyPI",
                    "comparison | median times | ratio",
                    real_project.rows(work, args.repeat),
                )
            )
        sections.append(
            (
                "What the audit costs",
                "measurement | median times | ratio",
                audit_speed.rows(args.repeat),
            )
        )
    minutes = (time.perf_counter() - started) / 60
    lines = [
        f"Machine: {machine()}. polywheel at `{commit}`. {args.repeat} repetitions per "
        f"timing ({max(args.repeat, EXAMPLE_REPEAT)} for the example's builds, which take "
        f"seconds); ± is half the range. The whole run took {minutes:.0f} minutes.",
        "",
    ]
    for title, header, rows in sections:
        columns = header.split(" | ")
        lines += [f"### {title}", "", "| " + header + " |", "|" + "---|" * len(columns), *rows, ""]
    report = "\n".join(lines)
    print(report)
    if args.write:
        text = args.write.read_text() if args.write.exists() else ""
        start, end = "<!-- benchmarks:start -->", "<!-- benchmarks:end -->"
        if start in text and end in text:
            text = text.split(start)[0] + start + "\n" + report + "\n" + end + text.split(end)[1]
        else:
            text += f"\n{start}\n{report}\n{end}\n"
        args.write.write_text(text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
