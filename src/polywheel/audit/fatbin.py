"""CUDA fat binaries (`.nv_fatbin`): which SASS architectures and PTX versions they hold,
and which of them are arch-specific (`sm_90a`) or family-specific (`sm_100f`).

Where the suffix is recorded (read off nvcc 12.9 and 13.0 output; cuobjdump agrees):

- the entry header's 64-bit flags at offset 40: 0x100000 for `a`, 0x200000 for `f`,
  on SASS and PTX entries alike (fatbinary 13.0);
- an `a` cubin's ELF `e_flags`: 0x800 in the ELF ABI 7 layout (sm_90a from CUDA 12.x),
  0x8 in the ABI 8 layout (sm_100a and later from CUDA 12.8/12.9). ptxas 13.0 leaves
  both clear and writes the mark into the cubin's `.nv.compat` section instead, so the
  header flag is what tells there;
- an uncompressed PTX entry's `.target sm_90a` line.

`f` SASS is not marked in the cubin at all: it is ordinary SASS of its family.
"""

from __future__ import annotations

import re
import struct

from polywheel.audit.binary import BinaryAudit
from polywheel.audit.elf import SHF_COMPRESSED, SHT_PROGBITS, Buffer, ElfFile

__all__ = ["read_fatbins"]

_FATBIN_MAGIC = 0xBA55ED50


_HEADER = 16  # magic, version, header size, payload size
_ENTRY_HEADER = 32  # kind, flags, header size, payload size, ..., version, arch
_FLAGS_AT, _FLAGS_END = 40, 48
_ARCH_SPECIFIC, _FAMILY_SPECIFIC = 0x100000, 0x200000
_EM_CUDA = 190
_PTX_TARGET = re.compile(rb"^\s*\.target\s+sm_[0-9]+([af]?)\b", re.M)


def _cubin_is_arch_specific(payload: memoryview) -> bool:
    """An uncompressed cubin's own mark (compressed ones start with no ELF magic)."""
    if len(payload) < 52 or bytes(payload[:5]) != b"\x7fELF\x02":
        return False
    (machine,) = struct.unpack_from("<H", payload, 18)
    (flags,) = struct.unpack_from("<I", payload, 48)
    return machine == _EM_CUDA and bool(flags & (0x800 if payload[8] < 8 else 0x8))


def _suffix(kind: int, flags: int, payload: memoryview) -> str:
    if flags & _ARCH_SPECIFIC:
        return "a"
    if flags & _FAMILY_SPECIFIC:
        return "f"
    if kind == 2:
        return "a" if _cubin_is_arch_specific(payload) else ""
    match = _PTX_TARGET.search(bytes(payload[:4096]))
    return match.group(1).decode() if match else ""


def read_fatbins(elf: ElfFile, file: Buffer, audit: BinaryAudit) -> None:
    """Every loop advances by at least a header or stops, so hostile sizes (zero,
    huge, pointing past the data) cost no more than one pass over the section."""
    section = next((s for s in elf.sections if s.name == ".nv_fatbin"), None)
    if section is None:
        return
    if section.type != SHT_PROGBITS or section.flags & SHF_COMPRESSED:
        audit.problem = "cannot decode .nv_fatbin: not a plain data section"
        return
    # A view of the file's bytes (open_elf checked they are inside it): a fat binary
    # may be most of a CUDA library, and is not copied.
    data = elf.bytes_of(section)
    offset = 0
    while offset + _HEADER <= len(data):
        magic, _version, header, size = struct.unpack_from("<IHHQ", data, offset)
        if magic != _FATBIN_MAGIC or header < _HEADER:
            break
        entry, end = offset + header, min(offset + header + size, len(data))
        while entry + _ENTRY_HEADER <= end:
            kind, _flags, entry_header, entry_size = struct.unpack_from("<HHIQ", data, entry)
            minor, major, arch = struct.unpack_from("<HHI", data, entry + 24)
            flags = 0
            if entry_header >= _FLAGS_END and entry + _FLAGS_END <= end:
                (flags,) = struct.unpack_from("<Q", data, entry + _FLAGS_AT)
            start = entry + max(entry_header, _ENTRY_HEADER)
            payload = data[start : min(start + entry_size, end)]
            if kind == 1:
                audit.ptx[arch] = f"{major}.{minor}"
                audit.cuda_targets.add(f"compute_{arch}{_suffix(kind, flags, payload)}")
            elif kind == 2:
                audit.sass.add(arch)
                audit.cuda_targets.add(f"sm_{arch}{_suffix(kind, flags, payload)}")
            entry = start + entry_size
        offset = max((end + 7) & ~7, offset + _HEADER)  # 8-byte aligned, always forward
