"""Open an ELF file from an untrusted wheel, and refuse layouts that would make the
decoders do unbounded work or read what is not there."""

from __future__ import annotations

import io
import struct
from typing import IO, Any, cast

__all__ = ["DECODE_ERRORS", "MAX_SECTIONS", "SHF_COMPRESSED", "ElfRefused", "open_elf"]

# Linked libraries have a few dozen sections; thousands mean a crafted file whose
# per-section cost (headers parsed, decoders started) is the attack.
MAX_SECTIONS = 4096
SHF_COMPRESSED = 0x800
_SHF_EXECINSTR = 0x4


class ElfRefused(Exception):
    """The file is ELF, but its code cannot be decoded; the message says why."""


def _decode_errors() -> tuple[type[BaseException], ...]:
    from elftools.common.exceptions import DWARFError, ELFError
    from elftools.construct import ConstructError

    # What pyelftools and iced raise on bytes that lie about themselves.
    return (
        ElfRefused,
        ELFError,
        ConstructError,
        DWARFError,
        struct.error,
        ValueError,
        OverflowError,
        IndexError,
        KeyError,
        EOFError,
        UnicodeDecodeError,
        # pyelftools checks some unwind-table invariants with `assert`.
        AssertionError,
    )


DECODE_ERRORS = _decode_errors()


class _ViewStream(io.RawIOBase):
    """A read-only file over a buffer that shares it: `io.BytesIO` copies a bytearray."""

    def __init__(self, data: bytes | bytearray) -> None:
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


def open_elf(data: bytes | bytearray) -> Any:
    """A pyelftools `ELFFile` whose section table was checked: at most MAX_SECTIONS
    sections, every section with file contents inside the file, no compressed code.

    Raises one of DECODE_ERRORS for a file that is not a decodable ELF file.
    """
    from elftools.elf.elffile import ELFFile

    stream = _ViewStream(data)
    try:
        elf = ELFFile(cast("IO[bytes]", stream))
        count = elf.num_sections()
        if count > MAX_SECTIONS:
            raise ElfRefused(f"{count} sections, over the limit of {MAX_SECTIONS}")
        for index in range(count):
            header = elf._get_section_header(index)  # headers only: no section is built yet
            if header["sh_type"] in ("SHT_NOBITS", "SHT_NULL"):
                continue
            end = header["sh_offset"] + header["sh_size"]
            if end > len(data):
                raise ElfRefused(
                    f"section {index} claims bytes {header['sh_offset']}..{end}, "
                    f"past the end of the file ({len(data)} bytes)"
                )
            if header["sh_flags"] & _SHF_EXECINSTR and header["sh_flags"] & SHF_COMPRESSED:
                raise ElfRefused(f"section {index} holds compressed code")
    except BaseException:
        stream.close()
        raise
    return elf
