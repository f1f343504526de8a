"""How long `polywheel audit` takes on a 100 MB native library.

A 100 MB ELF file is assembled from the machine code of a real library (the C
library of this machine, repeated), so the instruction mix is realistic, and audited
with polywheel's decoder. Prints a markdown row; `benchmarks/run.py` collects it.
"""

from __future__ import annotations

import argparse
import statistics
import struct
import sys
import time
from pathlib import Path

from elftools.elf.elffile import ELFFile

from polywheel.audit.wheel import audit_binary

DEFAULT_SOURCE = "/usr/lib/x86_64-linux-gnu/libc.so.6"


def text_of(path: Path) -> bytes:
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


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--source", default=DEFAULT_SOURCE, help="library whose code is repeated")
    parser.add_argument("--megabytes", type=int, default=100)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    source = Path(args.source)
    if not source.is_file():
        print(f"skipped: {source} not found", file=sys.stderr)
        return 0
    chunk = text_of(source)
    target = args.megabytes * 1_000_000
    code = (chunk * (target // len(chunk) + 1))[:target]
    elf = make_elf(code)
    times = []
    for _ in range(args.repeat):
        start = time.perf_counter()
        result = audit_binary("synthetic.so", elf)
        times.append(time.perf_counter() - start)
    assert result is not None
    median = statistics.median(times)
    spread = max(times) - min(times)
    print(
        f"| audit of a {args.megabytes} MB library ({result.instructions:,} instructions, "
        f"code of {source.name}) | {median:.1f} s | ±{spread / 2:.1f} s | "
        f"{args.megabytes / median:.0f} MB/s |"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
