"""The fat-binary reader does bounded work on hostile data (it used to loop forever)."""

from __future__ import annotations

import struct
import time
from typing import Any

import pytest
from hostile import Section, elf

from polywheel.audit.binary import BinaryAudit
from polywheel.audit.elf import open_elf
from polywheel.audit.fatbin import read_fatbins

MAGIC = 0xBA55ED50


def fatbin(header: int, size: int, entries: bytes) -> bytes:
    return struct.pack("<IHHQ", MAGIC, 1, header, size) + entries


def entry(kind: int, header: int, size: int, arch: int) -> bytes:
    return struct.pack("<HHIQ", kind, 0, header, size) + b"\0" * 8 + struct.pack("<HHI", 0, 8, arch)


def read(data: bytes, **section: Any) -> BinaryAudit:
    audit = BinaryAudit("lib.so", "x86_64")
    start = time.monotonic()
    library = elf([Section(".nv_fatbin", data, **section)])
    read_fatbins(open_elf(library), library, audit)
    assert time.monotonic() - start < 1.0
    return audit


def test_a_well_formed_fat_binary_is_read() -> None:
    entries = entry(2, 32, 0, 90) + entry(1, 32, 0, 90)
    audit = read(fatbin(16, len(entries), entries))
    assert audit.sass == {90} and audit.ptx == {90: "8.0"}


@pytest.mark.parametrize(
    "data",
    [
        fatbin(0, 0, b""),  # a header size of zero used to loop forever
        fatbin(16, 64, entry(2, 0, 0, 80) * 2),  # entries of size zero
        fatbin(16, 2**62, entry(2, 32, 2**62, 80)),  # sizes far past the data
        fatbin(16, 0, b"") * 10_000,
    ],
    ids=["zero-header", "zero-entries", "huge-sizes", "many-empty"],
)
def test_hostile_sizes_are_bounded(data: bytes) -> None:
    read(data)


def test_a_nobits_or_compressed_section_is_not_read() -> None:
    assert (
        read(b"", type=8, flags=2).problem == "cannot decode .nv_fatbin: not a plain data section"
    )
    assert read(b"x" * 100, flags=0x802).problem is not None
