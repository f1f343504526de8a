"""All of polywheel's benchmarks in one command; prints a markdown report.

    python benchmarks/run.py [--repeat N] [--write docs/performance.md]

Timings are taken in one run on one machine and reported as ratios, with the median
and the spread (half the range) of N repetitions: the machines are shared and noisy.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import zipfile
from collections.abc import Callable, Sequence
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = ROOT / "examples"
PYTHON = sys.executable
LEVELS = ("x86_64_v1", "x86_64_v3", "x86_64_v4")
MARCH = {
    "x86_64_v1": "-march=x86-64",
    "x86_64_v3": "-march=x86-64-v3",
    "x86_64_v4": "-march=x86-64-v4",
}


# As after `pip install`, which byte-compiles: an editable checkout with
# PYTHONDONTWRITEBYTECODE set would recompile polywheel's modules in every process,
# a cost scikit-build-core (installed normally) does not pay.
BASE_ENV = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}


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
        raise SystemExit(f"{' '.join(cmd)} failed:\n{proc.stdout}\n{proc.stderr}")
    return proc.stdout


def timed(action: Callable[[], object]) -> float:
    start = time.perf_counter()
    action()
    return time.perf_counter() - start


def stats(values: list[float]) -> tuple[float, float]:
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
        f"{model} ({avx512}), {os.cpu_count()} cores, {platform.system()} "
        f"{platform.machine()}, Python {platform.python_version()}, {gcc}"
    )


# 1. What the variants buy at run time -------------------------------------------------


def runtime_rows(work: Path, repeat: int) -> list[str]:
    project = copy(EXAMPLES / "simd", work / "simd-runtime")
    run([PYTHON, "-m", "polywheel", "build", "-o", "dist"], project)
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
    run([PYTHON, "-m", "polywheel", "build", "-o", "dist"], project)
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
    import io

    from elftools.elf.elffile import ELFFile

    total = 0
    with zipfile.ZipFile(wheel) as zf:
        for name in zf.namelist():
            if name.endswith(".so"):
                section = ELFFile(io.BytesIO(zf.read(name))).get_section_by_name(".nv_fatbin")
                total += section["sh_size"] if section is not None else 0
    return total


# 3. What polywheel costs -------------------------------------------------------------


def hand_project(work: Path, name: str) -> Path:
    """The example as a maintainer builds it today: scikit-build-core plus variantlib."""
    project = copy(EXAMPLES / "simd", work / name)
    pyproject = project / "pyproject.toml"
    text = pyproject.read_text().replace('"polywheel.build"', '"scikit_build_core.build"')
    text = text.split("[[tool.variants.variant]]")[0]
    text += (
        '\n[variant.default-priorities]\nnamespace = ["x86_64"]\n\n'
        '[variant.providers.x86_64]\nrequires = ["x86-64-variant-provider"]\n'
    )
    pyproject.write_text(text)
    return project


def by_hand(project: Path) -> None:
    variantlib = shutil.which("variantlib", path=str(Path(PYTHON).parent)) or "variantlib"
    out = project / "dist"
    out.mkdir()
    for label in LEVELS:
        raw = project / f"raw-{label}"
        build = [PYTHON, "-m", "build", "--no-isolation", "--wheel", "-o", str(raw)]
        run(build, project, env={"CFLAGS": MARCH[label]})
        (wheel,) = raw.glob("*.whl")
        level = label.rsplit("_", 1)[1]
        run(
            [variantlib, "make-variant", "-f", str(wheel), "-o", str(out), "--no-isolation",
             "--skip-plugin-validation", "-p", f"x86_64 :: level :: {level}",
             "--variant-label", label],
            project,
        )  # fmt: skip
    run([variantlib, "generate-index-json", "-d", str(out)], project)


def cost_rows(work: Path, repeat: int) -> list[str]:
    matrix_pw, matrix_hand, plain_pw, plain_sk, first, second = [], [], [], [], [], []
    for i in range(repeat):
        project = copy(EXAMPLES / "simd", work / f"pw-{i}")
        matrix_pw.append(
            timed(
                lambda p=project: run(
                    [PYTHON, "-m", "polywheel", "build", "-j", "2", "-o", "dist"], p
                )
            )
        )
        first.append(matrix_pw[-1])
        second.append(
            timed(
                lambda p=project: run(
                    [PYTHON, "-m", "polywheel", "build", "-j", "2", "-o", "dist"], p
                )
            )
        )
        hand = hand_project(work, f"hand-{i}")
        matrix_hand.append(timed(lambda p=hand: by_hand(p)))
        plain = copy(EXAMPLES / "simd", work / f"plain-pw-{i}")
        build = [PYTHON, "-m", "build", "--no-isolation", "--wheel", "-o", "dist"]
        plain_pw.append(timed(lambda p=plain, b=build: run(b, p)))
        sk = hand_project(work, f"plain-sk-{i}")
        plain_sk.append(timed(lambda p=sk, b=build: run(b, p)))

    def row(what: str, ours: list[float], theirs: list[float], target: str) -> str:
        (a, sa), (b, sb) = stats(ours), stats(theirs)
        ratios = [x / y for x, y in zip(ours, theirs, strict=True)]
        ratio, spread = stats(ratios)
        return (
            f"| {what} | {a:.2f} s ±{sa:.2f} vs {b:.2f} s ±{sb:.2f} | "
            f"**{ratio:.2f}** ±{spread:.2f} (target {target}) |"
        )

    return [
        row(
            "(a) whole matrix: `polywheel build -j 2` vs hand loop (build + make-variant ×3, generate-index-json)",
            matrix_pw,
            matrix_hand,
            "≤ 0.60",
        ),
        row(
            "(b) one plain wheel: polywheel vs scikit-build-core (`python -m build --no-isolation`)",
            plain_pw,
            plain_sk,
            "≤ 1.05",
        ),
        row(
            "(c) second `polywheel build`, nothing changed (sound reuse: every input the "
            "build read verified by content), vs the first",
            second,
            first,
            "≤ 0.20",
        ),
    ]


# A real multi-file project, downloaded from PyPI at benchmark time: a scikit-build-core
# project with 230 C++ sources (pinned, so runs compare).
REAL_PROJECT = ("awkward-cpp", "57")
REAL_VARIANTS = """
[[tool.variants.variant]]
label = "x86_64_v1"
properties = ["x86_64 :: level :: v1"]

[[tool.variants.variant]]
label = "x86_64_v3"
properties = ["x86_64 :: level :: v3"]
"""


def real_project(work: Path) -> Path:
    """The sdist of REAL_PROJECT, unpacked, with polywheel as its backend and a matrix."""
    name, version = REAL_PROJECT
    try:
        import pybind11  # noqa: F401 - its build needs it (no build isolation yet)
    except ImportError:
        raise SystemExit(f"{name} needs pybind11 to build: pip install 'pybind11>=3'") from None
    sdists = work / "sdists"
    run(
        [PYTHON, "-m", "pip", "download", "--no-deps", "--no-binary", ":all:",
         "--no-build-isolation", "-q", "-d", str(sdists), f"{name}=={version}"],
        work,
    )  # fmt: skip
    (archive,) = sdists.glob("*.tar.gz")
    run(["tar", "xzf", str(archive), "-C", str(work)], work)
    project = work / archive.name.removesuffix(".tar.gz")
    pyproject = project / "pyproject.toml"
    text = pyproject.read_text().replace('"scikit_build_core.build"', '"polywheel.build"')
    pyproject.write_text(text + REAL_VARIANTS)
    return project


def real_project_rows(work: Path) -> list[str]:
    project = real_project(work)
    build = [PYTHON, "-m", "polywheel", "build", "-j", "2", "-o", "dist"]
    cold = timed(lambda: run(build, project))
    again = timed(lambda: run(build, project))
    audit = run([PYTHON, "-m", "polywheel", "audit", "dist", "--json"], project)
    verdicts = sorted({entry["verdict"] for entry in json.loads(audit)})
    name, version = REAL_PROJECT
    return [
        f"| (d) {name} {version} (230 C++ sources, x86_64 v1 + v3): second `polywheel build`, "
        f"nothing changed, vs the first | {again:.2f} s vs {cold:.1f} s | "
        f"**{again / cold:.3f}** (target ≤ 0.05; audit verdicts: {', '.join(verdicts)}) |"
    ]


def audit_rows() -> list[str]:
    out = run([PYTHON, str(Path(__file__).parent / "audit_speed.py"), "--repeat", "3"], ROOT)
    return [line for line in out.splitlines() if line.startswith("|")]


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--write", type=Path, help="also replace the table in this markdown file")
    parser.add_argument(
        "--no-real-project",
        action="store_true",
        help=f"skip the build of {REAL_PROJECT[0]} from PyPI (minutes on 2 cores)",
    )
    args = parser.parse_args()
    import polywheel

    run([PYTHON, "-m", "compileall", "-q", str(Path(polywheel.__file__).parent)], ROOT)
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
                "What polywheel costs",
                "comparison | median times | ratio",
                cost_rows(work, args.repeat),
            ),
            ("What the audit costs", "measurement | median | spread | throughput", audit_rows()),
        ]
        if not args.no_real_project:
            sections.insert(
                3,
                (
                    "On a real multi-file project (one run)",
                    "comparison | times | ratio",
                    real_project_rows(work),
                ),
            )
    lines = [
        f"Machine: {machine()}. {args.repeat} repetitions per timing; ± is half the range.",
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
