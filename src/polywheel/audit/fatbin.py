"""CUDA fat binaries (`.nv_fatbin`): which SASS architectures and PTX versions they hold."""

from __future__ import annotations

import struct
from typing import Any

from polywheel.audit.binary import BinaryAudit

__all__ = ["read_fatbins"]

_FATBIN_MAGIC = 0xBA55ED50


_SHF_COMPRESSED = 0x800
_HEADER = 16  # magic, version, header size, payload size
_ENTRY_HEADER = 32  # kind, flags, header size, payload size, ..., version, arch


def read_fatbins(elf: Any, file: bytes | bytearray, audit: BinaryAudit) -> None:
    """Every loop advances by at least a header or stops, so hostile sizes (zero,
    huge, pointing past the data) cost no more than one pass over the section."""
    section = elf.get_section_by_name(".nv_fatbin")
    if section is None:
        return
    if section["sh_type"] != "SHT_PROGBITS" or section["sh_flags"] & _SHF_COMPRESSED:
        audit.problem = "cannot decode .nv_fatbin: not a plain data section"
        return
    # A view of the file's bytes (open_elf checked they are inside it): a fat binary
    # may be most of a CUDA library, and is not copied.
    data = memoryview(file)[section["sh_offset"] : section["sh_offset"] + section["sh_size"]]
    offset = 0
    while offset + _HEADER <= len(data):
        magic, _version, header, size = struct.unpack_from("<IHHQ", data, offset)
        if magic != _FATBIN_MAGIC or header < _HEADER:
            break
        entry, end = offset + header, min(offset + header + size, len(data))
        while entry + _ENTRY_HEADER <= end:
            kind, _flags, entry_header, entry_size = struct.unpack_from("<HHIQ", data, entry)
            minor, major, arch = struct.unpack_from("<HHI", data, entry + 24)
            if kind == 1:
                audit.ptx[arch] = f"{major}.{minor}"
            elif kind == 2:
                audit.sass.add(arch)
            entry += max(entry_header, _ENTRY_HEADER) + entry_size
        offset = max((end + 7) & ~7, offset + _HEADER)  # 8-byte aligned, always forward
