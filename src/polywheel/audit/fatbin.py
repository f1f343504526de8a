"""CUDA fat binaries (`.nv_fatbin`): which SASS architectures and PTX versions they hold."""

from __future__ import annotations

import struct
from typing import Any

from polywheel.audit.binary import BinaryAudit

__all__ = ["read_fatbins"]

_FATBIN_MAGIC = 0xBA55ED50


def read_fatbins(elf: Any, audit: BinaryAudit) -> None:
    section = elf.get_section_by_name(".nv_fatbin")
    if section is None:
        return
    data = section.data()
    offset = 0
    while offset + 16 <= len(data):
        magic, _version, header, size = struct.unpack_from("<IHHQ", data, offset)
        if magic != _FATBIN_MAGIC:
            break
        entry, end = offset + header, offset + header + size
        while entry + 32 <= end:
            kind, _flags, entry_header, entry_size = struct.unpack_from("<HHIQ", data, entry)
            minor, major, arch = struct.unpack_from("<HHI", data, entry + 24)
            if kind == 1:
                audit.ptx[arch] = f"{major}.{minor}"
            elif kind == 2:
                audit.sass.add(arch)
            entry += entry_header + entry_size
        offset = (end + 7) & ~7  # fat binaries in one section are 8-byte aligned
