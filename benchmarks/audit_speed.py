"""What `polywheel audit` costs on real wheels, against `objdump -d` on the same files.

    python benchmarks/audit_speed.py [--repeat N]

The numpy and scipy wheels (pinned, for Python 3.11 on manylinux x86-64) are
downloaded with pip. Each run of the audit is the command line, `polywheel audit
--json -j N` on both wheels, started from a small launcher process so that its peak
memory (the kernel's ru_maxrss of that child) does not start from this script's. The
reference is `objdump -d` on every ELF file of the same wheels, unpacked, output to
/dev/null: one file at a time against `-j 1`, two at a time against `-j 2`. The run
has a cache folder of its own: its first audit builds the C scanner (audit/native.py),
as on a new machine, and is reported on its own row with an audit by iced alone
(`POLYWHEEL_AUDIT_DECODER=iced`, the path without a C compiler), whose JSON must be
the same byte for byte or the benchmark stops. A secondary row audits 100 MB of this
machine's libc code in memory (the old benchmark). Prints markdown rows;
`benchmarks/run.py` collects them.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import struct
import subprocess
import sys
import tempfile
import time
import zipfile
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import BASE_ENV, CORES, PYTHON, run, stats

WHEELS = ("numpy==2.1.3", "scipy==1.14.1")
# The interpreter with the command line and the decoders imported: what the audit's
# peak memory is measured above.
BASELINE = "import polywheel.cli, polywheel.audit.wheel, iced_x86, elftools.elf.elffile"
LIBC = Path("/usr/lib/x86_64-linux-gnu/libc.so.6")

# Started by this script, it forks and execs the measured command, so the command's
# peak memory is its own, not inherited from a grown parent.
_LAUNCH = """
import json, os, sys, time
start = time.perf_counter()
pid = os.fork()
if pid == 0:
    os.execv(sys.argv[2], sys.argv[2:])
_, status, usage = os.wait4(pid, 0)
with open(sys.argv[1], "w") as f:
    json.dump({"wall": time.perf_counter() - start, "cpu": usage.ru_utime + usage.ru_stime,
               "peak_kb": usage.ru_maxrss, "status": os.waitstatus_to_exitcode(status)}, f)
"""


def launch(
    cmd: list[str],
    work: Path,
    accept: tuple[int, ...] = (0,),
    env: dict[str, str] | None = None,
    out: Path | None = None,
) -> dict[str, float]:
    report = work / "usage.json"
    with open(out or os.devnull, "wb") as stdout:
        subprocess.run(
            [PYTHON, "-c", _LAUNCH, str(report), *cmd],
            cwd=work,
            env={**BASE_ENV, **(env or {})},
            stdout=stdout,
            check=True,
        )
    usage = json.loads(report.read_text())
    if usage["status"] not in accept:
        raise SystemExit(f"{' '.join(cmd)} exited with {usage['status']}")
    return usage


def download(work: Path) -> list[Path]:
    target = work / "wheels"
    run(
        [PYTHON, "-m", "pip", "download", "--no-deps", "--only-binary=:all:", "-q",
         "--python-version", "3.11", "--platform", "manylinux_2_17_x86_64", "-d", str(target),
         *WHEELS],
        work,
    )  # fmt: skip
    return sorted(target.glob("*.whl"))


def unpack_elf(wheels: list[Path], target: Path) -> list[Path]:
    files = []
    for wheel in wheels:
        with zipfile.ZipFile(wheel) as zf:
            for info in zf.infolist():
                with zf.open(info) as f:
                    if f.read(4) != b"\x7fELF":
                        continue
                path = target / wheel.name.split("-")[0] / info.filename
                path.parent.mkdir(parents=True, exist_ok=True)
                path.write_bytes(zf.read(info))
                files.append(path)
    return files


def objdump(files: list[Path], at_once: int) -> float:
    def one(path: Path) -> None:
        with open(os.devnull, "wb") as null:
            subprocess.run(["objdump", "-d", str(path)], stdout=null, check=True)

    start = time.perf_counter()
    biggest_first = sorted(files, key=lambda p: -p.stat().st_size)
    with ThreadPoolExecutor(at_once) as pool:
        list(pool.map(one, biggest_first))
    return time.perf_counter() - start


def audit_jobs_option() -> bool:
    return "--jobs" in run([PYTHON, "-m", "polywheel", "audit", "--help"], Path.cwd())


def real_wheel_rows(work: Path, repeat: int) -> list[str]:
    wheels = download(work)
    files = unpack_elf(wheels, work / "unpacked")
    total = sum(p.stat().st_size for p in files)
    largest = max(files, key=lambda p: p.stat().st_size)
    what = (
        f"{' + '.join(w.replace('==', ' ') for w in WHEELS)} wheels ({len(files)} ELF files, "
        f"{total / 1e6:.0f} MB, largest {largest.stat().st_size / 1e6:.0f} MB)"
    )
    has_jobs = audit_jobs_option()
    job_counts = [1, CORES] if has_jobs and CORES > 1 else [1]
    # A cache folder of the run's own: the first audit builds the C scanner into it, as
    # on a new machine; that run is timed on its own row, the repetitions after it.
    cache = {"XDG_CACHE_HOME": str(work / "cache")}
    plain = [PYTHON, "-m", "polywheel", "audit", "--json", *map(str, wheels)]
    first = launch([*plain[:5], "-j", "1", *plain[5:]] if has_jobs else plain, work, (0, 1),
                   cache, work / "first.json")  # fmt: skip
    iced = launch(plain[:5] + (["-j", "1"] if has_jobs else []) + plain[5:], work, (0, 1),
                  {**cache, "POLYWHEEL_AUDIT_DECODER": "iced"}, work / "iced.json")  # fmt: skip
    if (work / "first.json").read_bytes() != (work / "iced.json").read_bytes():
        raise SystemExit("the audit's C scanner and iced alone disagree on these wheels")
    audit: dict[int, list[dict[str, float]]] = {j: [] for j in job_counts}
    reference: dict[int, list[float]] = {j: [] for j in job_counts}
    baseline = []
    for _ in range(repeat):
        baseline.append(launch([PYTHON, "-c", BASELINE], work))
        for jobs in job_counts:
            option = ["-j", str(jobs)] if has_jobs else []
            cmd = [PYTHON, "-m", "polywheel", "audit", "--json", *option, *map(str, wheels)]
            # Exit status 1: the audit found code above v1 in these plain wheels
            # (runtime-dispatched kernels); the time is the same.
            audit[jobs].append(launch(cmd, work, (0, 1), cache))
            reference[jobs].append(objdump(files, jobs))
    rows = []
    for jobs in job_counts:
        walls = [u["wall"] for u in audit[jobs]]
        ratios = [u["wall"] / r for u, r in zip(audit[jobs], reference[jobs], strict=True)]
        (wall, spread), (ref, ref_spread) = stats(walls), stats(reference[jobs])
        mbs = [total / 1e6 / w for w in walls]
        process = "one process" if jobs == 1 else f"`-j {jobs}`"
        at_once = "one file at a time" if jobs == 1 else f"{jobs} files at a time"
        rows.append(
            f"| `polywheel audit` ({process}) of the {what}, vs `objdump -d` on the same "
            f"files, {at_once} | {wall:.1f} s ±{spread:.1f} vs {ref:.1f} s ±{ref_spread:.1f} | "
            f"**{stats(ratios)[0]:.2f}** ±{stats(ratios)[1]:.2f} of objdump's time; "
            f"**{stats(mbs)[0]:.0f} MB/s** ±{stats(mbs)[1]:.0f} |"
        )
    rows.append(
        f"| the first audit on a machine (one process; builds the C scanner into the user "
        f"cache), and iced alone (`POLYWHEEL_AUDIT_DECODER=iced`, as without a C compiler; "
        f"the same JSON, checked) | {first['wall']:.1f} s, iced alone {iced['wall']:.1f} s | "
        f"**{total / 1e6 / first['wall']:.0f} MB/s**, iced alone "
        f"**{total / 1e6 / iced['wall']:.0f} MB/s** |"
    )
    base_mb = stats([u["peak_kb"] / 1024 for u in baseline])[0]
    for jobs in job_counts:
        peaks = [(u["peak_kb"] / 1024 - base_mb) for u in audit[jobs]]
        size = largest.stat().st_size / 2**20
        ratios = [p / size for p in peaks]
        process = "one process" if jobs == 1 else f"`-j {jobs}`, its largest process"
        rows.append(
            f"| peak memory of that audit ({process}) above the interpreter's "
            f"({base_mb:.0f} MiB), vs the largest library ({largest.name}) | "
            f"{stats(peaks)[0]:.0f} MiB ±{stats(peaks)[1]:.0f} vs {size:.0f} MiB | "
            f"**{stats(ratios)[0]:.2f}×** ±{stats(ratios)[1]:.2f} |"
        )
    return rows


# The old synthetic benchmark: 100 MB of libc's code in one ELF file, audited in memory.


def text_of(path: Path) -> bytes:
    from elftools.elf.elffile import ELFFile

    with path.open("rb") as f:
        section = ELFFile(f).get_section_by_name(".text")
        if section is None:
            raise SystemExit(f"{path} has no .text section")
        return bytes(section.data())


def make_elf(code: bytes) -> bytes:
    """A minimal x86-64 ELF shared object with one executable .text section."""
    shstrtab = b"\0.text\0.shstrtab\0"
    header_size, section_header_size = 64, 64
    text_offset = header_size
    strtab_offset = text_offset + len(code)
    sections_offset = (strtab_offset + len(shstrtab) + 7) & ~7
    ident = b"\x7fELF" + bytes([2, 1, 1, 0]) + bytes(8)
    header = ident + struct.pack(
        "<HHIQQQIHHHHHH", 3, 62, 1, 0, 0, sections_offset, 0, header_size, 0, 0,
        section_header_size, 3, 2,
    )  # fmt: skip
    null = bytes(section_header_size)
    text = struct.pack("<IIQQQQIIQQ", 1, 1, 0x6, 0x1000, text_offset, len(code), 0, 0, 16, 0)
    strs = struct.pack("<IIQQQQIIQQ", 7, 3, 0, 0, strtab_offset, len(shstrtab), 0, 0, 1, 0)
    padding = bytes(sections_offset - strtab_offset - len(shstrtab))
    return header + code + shstrtab + padding + null + text + strs


def synthetic_row(repeat: int, megabytes: int = 100) -> list[str]:
    from polywheel.audit.wheel import audit_binary

    if not LIBC.is_file():
        return [f"| synthetic: {LIBC} not found | | |"]
    chunk = text_of(LIBC)
    target = megabytes * 1_000_000
    elf = make_elf((chunk * (target // len(chunk) + 1))[:target])
    times = []
    result = None
    for _ in range(repeat):
        start = time.perf_counter()
        result = audit_binary("synthetic.so", elf)
        times.append(time.perf_counter() - start)
    assert result is not None
    median, spread = stats(times)
    return [
        f"| secondary: `audit_binary` of a synthetic {megabytes} MB library "
        f"({result.instructions:,} instructions, libc's code repeated; one process) | "
        f"{median:.1f} s ±{spread:.1f} | **{megabytes / median:.0f} MB/s** |"
    ]


def rows(repeat: int) -> list[str]:
    with tempfile.TemporaryDirectory(prefix="polywheel-audit-bench-") as tmp:
        work = Path(tmp)
        if shutil.which("objdump") is None:
            return ["| audit vs objdump | skipped: no objdump (binutils) | |"]
        return real_wheel_rows(work, repeat) + synthetic_row(repeat)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    print("\n".join(rows(args.repeat)))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
