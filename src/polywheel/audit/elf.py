"""Read an ELF file from an untrusted wheel: its header and section table, parsed with
`struct` and checked before any section is read.

The audit needs little of ELF (the machine, the sections, two tables of function
starts), so it is read here directly: pyelftools builds a Python object per header
field, which for the 140 libraries of numpy and scipy cost more than a tenth of the
audit. pyelftools remains for the rare file whose unwind info needs parsing
(`ElfFile.pyelftools`). Layouts that would make the decoders do unbounded work or read
what is not there are refused with `ElfRefused`.
"""

from __future__ import annotations

import contextlib
import dataclasses
import io
import mmap
import struct
from collections.abc import Iterator
from typing import IO, Any, cast

__all__ = [
    "DECODE_ERRORS",
    "MAX_SECTIONS",
    "SHF_COMPRESSED",
    "SHF_EXECINSTR",
    "SHT_NOBITS",
    "SHT_PROGBITS",
    "Buffer",
    "ElfFile",
    "ElfRefused",
    "Section",
    "open_elf",
    "pyelftools_errors",
]

# Linked libraries have a few dozen sections; thousands mean a crafted file whose
# per-section cost (headers parsed, decoders started) is the attack.
MAX_SECTIONS = 4096
SHT_NULL, SHT_PROGBITS, SHT_NOBITS = 0, 1, 8
SHF_EXECINSTR, SHF_COMPRESSED = 0x4, 0x800
_SHN_XINDEX = 0xFFFF
# The machines wheels are built for; any other is named by its number.
_MACHINES = {
    2: "EM_SPARC",
    3: "EM_386",
    8: "EM_MIPS",
    20: "EM_PPC",
    21: "EM_PPC64",
    22: "EM_S390",
    40: "EM_ARM",
    43: "EM_SPARCV9",
    62: "EM_X86_64",
    183: "EM_AARCH64",
    243: "EM_RISCV",
    258: "EM_LOONGARCH",
}


# A library's bytes: read from a wheel into anonymous memory (wheel/reader.py), or given.
Buffer = bytes | bytearray | mmap.mmap


class ElfRefused(Exception):
    """The file is ELF, but its code cannot be decoded; the message says why."""


# What bytes that lie about themselves make the readers here and iced raise.
DECODE_ERRORS: tuple[type[BaseException], ...] = (
    ElfRefused,
    struct.error,
    ValueError,
    OverflowError,
    IndexError,
    KeyError,
    EOFError,
    UnicodeDecodeError,
)


def pyelftools_errors() -> tuple[type[BaseException], ...]:
    """What pyelftools raises on such bytes (imported only when it is used)."""
    from elftools.common.exceptions import DWARFError, ELFError
    from elftools.construct import ConstructError

    # pyelftools checks some unwind-table invariants with `assert`.
    return (ELFError, ConstructError, DWARFError, AssertionError, *DECODE_ERRORS)


@dataclasses.dataclass(frozen=True)
class Section:
    index: int
    name: str
    type: int
    flags: int
    address: int
    offset: int
    size: int
    link: int
    entsize: int

    @property
    def has_bytes(self) -> bool:
        return self.type not in (SHT_NULL, SHT_NOBITS)

    @property
    def is_code(self) -> bool:
        """Executable bytes in the file: what the x86 decoder reads."""
        return self.type == SHT_PROGBITS and bool(self.flags & SHF_EXECINSTR) and self.size > 0


# (ELF header after e_ident, section header) per (class, byte order).
_LAYOUTS = {
    (1, 1): (struct.Struct("<HHIIIIIHHHHHH"), struct.Struct("<IIIIIIIIII")),
    (1, 2): (struct.Struct(">HHIIIIIHHHHHH"), struct.Struct(">IIIIIIIIII")),
    (2, 1): (struct.Struct("<HHIQQQIHHHHHH"), struct.Struct("<IIQQQQIIQQ")),
    (2, 2): (struct.Struct(">HHIQQQIHHHHHH"), struct.Struct(">IIQQQQIIQQ")),
}


class ElfFile:
    """The header and checked section table of one ELF file held in memory."""

    def __init__(self, data: Buffer) -> None:
        self.data = data
        if len(data) < 16 or data[:4] != b"\x7fELF":
            raise ElfRefused("not an ELF file")
        layout = _LAYOUTS.get((data[4], data[5]))
        if layout is None:
            raise ElfRefused(f"unknown ELF class {data[4]} or byte order {data[5]}")
        header, entry = layout
        if len(data) < 16 + header.size:
            raise ElfRefused(f"the ELF header is cut short: the file has {len(data)} bytes")
        fields = header.unpack_from(data, 16)
        machine, shoff, shentsize, shnum, shstrndx = (
            fields[1], fields[5], fields[10], fields[11], fields[12]
        )  # fmt: skip
        self.machine = _MACHINES.get(machine, f"EM_{machine}")
        self.little_endian = data[5] == 1
        self.sections: tuple[Section, ...] = ()
        if shoff == 0:
            return  # no section table: nothing to decode
        if shentsize != entry.size:
            raise ElfRefused(f"e_shentsize is {shentsize}, not {entry.size}")
        if shoff + entry.size > len(data):
            raise ElfRefused(f"the section table at {shoff} is past the end of the file")
        first = entry.unpack_from(data, shoff)
        # Extended numbering: past 0xff00 sections, the real count and string-table
        # index live in section 0.
        count = shnum or first[5]
        if shstrndx == _SHN_XINDEX:
            shstrndx = first[6]
        if count > MAX_SECTIONS:
            raise ElfRefused(f"{count} sections, over the limit of {MAX_SECTIONS}")
        end = shoff + count * entry.size
        if end > len(data):
            raise ElfRefused(
                f"the section table (bytes {shoff}..{end}) is past the end of the file "
                f"({len(data)} bytes)"
            )
        raw = list(entry.iter_unpack(memoryview(data)[shoff:end]))
        for index, (_n, kind, flags, _a, offset, size, *_rest) in enumerate(raw):
            if kind in (SHT_NULL, SHT_NOBITS):
                continue
            if offset + size > len(data):
                raise ElfRefused(
                    f"section {index} claims bytes {offset}..{offset + size}, "
                    f"past the end of the file ({len(data)} bytes)"
                )
            if flags & SHF_EXECINSTR and flags & SHF_COMPRESSED:
                raise ElfRefused(f"section {index} holds compressed code")
        names = None
        if shstrndx:
            if shstrndx >= count or raw[shstrndx][1] in (SHT_NULL, SHT_NOBITS):
                raise ElfRefused(
                    f"the section-name table index {shstrndx} names no table ({count} sections)"
                )
            names = (raw[shstrndx][4], raw[shstrndx][4] + raw[shstrndx][5])
        self.sections = tuple(
            Section(index, self._name(names, f[0]), f[1], f[2], f[3], f[4], f[5], f[6], f[9])
            for index, f in enumerate(raw)
        )

    def _name(self, table: tuple[int, int] | None, offset: int) -> str:
        if table is None or table[0] + offset >= table[1]:
            return ""
        start = table[0] + offset
        end = self.data.find(b"\0", start, table[1])
        return bytes(self.data[start : table[1] if end < 0 else end]).decode("utf-8", "replace")

    def section(self, name: str) -> Section | None:
        """The first section of that name that has bytes in the file."""
        return next((s for s in self.sections if s.name == name and s.has_bytes), None)

    def bytes_of(self, section: Section) -> memoryview:
        return memoryview(self.data)[section.offset : section.offset + section.size]

    @contextlib.contextmanager
    def pyelftools(self) -> Iterator[Any]:
        """A pyelftools `ELFFile` over the same bytes, released on exit; what it raises
        on bad bytes comes out as ElfRefused."""
        from elftools.elf.elffile import ELFFile

        stream = _ViewStream(self.data)
        try:
            yield ELFFile(cast("IO[bytes]", stream))
        except pyelftools_errors() as exc:
            raise ElfRefused(f"{type(exc).__name__}: {exc}") from None
        finally:
            stream.close()


class _ViewStream(io.RawIOBase):
    """A read-only file over a buffer that shares it: `io.BytesIO` copies a bytearray."""

    def __init__(self, data: Buffer) -> None:
        self._view = memoryview(data)
        self._position = 0

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        base = {io.SEEK_SET: 0, io.SEEK_CUR: self._position, io.SEEK_END: len(self._view)}
        self._position = max(0, base[whence] + offset)
        return self._position

    def tell(self) -> int:
        return self._position

    def read(self, size: int | None = -1) -> bytes:
        end = len(self._view) if size is None or size < 0 else self._position + size
        chunk = bytes(self._view[self._position : end])
        self._position += len(chunk)
        return chunk

    def close(self) -> None:
        # pyelftools' objects refer to each other in cycles that only the garbage
        # collector breaks; releasing the view here lets the library's buffer go now.
        self._view.release()
        super().close()

    def readinto(self, buffer: Any) -> int:
        chunk = self.read(len(buffer))
        buffer[: len(chunk)] = chunk
        return len(chunk)


def open_elf(data: Buffer) -> ElfFile:
    """The file's header and section table, checked: at most MAX_SECTIONS sections,
    every section with file contents inside the file, no compressed code.

    Raises ElfRefused for a file that is not a decodable ELF file.
    """
    return ElfFile(data)
