"""Write a zip archive whose members arrive already compressed.

Python's zipfile compresses whatever it writes. The final wheel's payload is the raw
build's, byte for byte, so `finalize_wheel` copies each member's compressed stream
instead of inflating and deflating it again: deflate is the slow half (about 50 MB/s
here, so a GPU wheel's gigabyte of libraries cost 20 s, twice for a variant and its
plain wheel), and the copy is verified as it goes (every copied stream is
inflated, its CRC and size checked against the archive's directory, its SHA-256 taken
for RECORD).

The archive is a plain PKZIP file: local headers with sizes and CRC up front (no data
descriptors), a central directory, and the ZIP64 records where a size, an offset or
the member count needs them.
"""

from __future__ import annotations

import dataclasses
import struct
import zlib
from typing import BinaryIO

__all__ = ["DEFLATED", "STORED", "ZipOut", "deflate"]

STORED, DEFLATED = 0, 8
_UTF8_NAME = 0x800
_VERSION, _ZIP64_VERSION = 20, 45
_UNIX = 3
_LIMIT_32, _LIMIT_16 = 0xFFFFFFFF, 0xFFFF
_LEVEL = 6  # the level zipfile and scikit-build-core use (zlib's default)


@dataclasses.dataclass(frozen=True)
class _Entry:
    """One member as the central directory describes it."""

    name: str
    method: int
    crc: int
    compressed_size: int
    size: int
    mode: int  # st_mode of a regular file, e.g. 0o100644
    offset: int


def deflate(data: bytes) -> bytes:
    """`data` as a raw deflate stream, as a zip member holds it."""
    compressor = zlib.compressobj(_LEVEL, zlib.DEFLATED, -zlib.MAX_WBITS)
    return compressor.compress(data) + compressor.flush()


def _dos_time(date_time: tuple[int, int, int, int, int, int]) -> tuple[int, int]:
    year, month, day, hour, minute, second = date_time
    return (hour << 11) | (minute << 5) | (second // 2), ((year - 1980) << 9) | (month << 5) | day


class ZipOut:
    """Members written one after another into `stream`, then `finish()`.

    `zip64_from` is where sizes and offsets move to ZIP64 records (the format's own
    limit; lower only in tests).
    """

    def __init__(
        self,
        stream: BinaryIO,
        date_time: tuple[int, int, int, int, int, int],
        *,
        zip64_from: int = _LIMIT_32,
    ) -> None:
        self._out = stream
        self._time, self._date = _dos_time(date_time)
        self._zip64_from = zip64_from
        self._entries: list[_Entry] = []
        self._position = 0
        self._open: _Entry | None = None
        self._written = 0

    def _write(self, data: bytes | memoryview) -> None:
        self._out.write(data)
        self._position += len(data)

    @staticmethod
    def _flags(name: str) -> int:
        return 0 if name.isascii() else _UTF8_NAME

    def begin(
        self, name: str, *, method: int, crc: int, compressed_size: int, size: int, mode: int
    ) -> None:
        """Write the local header of a member whose `compressed_size` bytes follow
        through `write()`; `end()` checks that they all came."""
        if self._open is not None:
            raise RuntimeError(f"zip member {self._open.name} is still open")
        entry = _Entry(name, method, crc, compressed_size, size, mode, self._position)
        encoded = name.encode()
        big = size >= self._zip64_from or compressed_size >= self._zip64_from
        extra = struct.pack("<HHQQ", 1, 16, size, compressed_size) if big else b""
        self._write(
            struct.pack(
                "<IHHHHHIIIHH",
                0x04034B50,
                _ZIP64_VERSION if big else _VERSION,
                self._flags(name),
                method,
                self._time,
                self._date,
                crc,
                _LIMIT_32 if big else compressed_size,
                _LIMIT_32 if big else size,
                len(encoded),
                len(extra),
            )
            + encoded
            + extra
        )
        self._open, self._written = entry, 0

    def write(self, chunk: bytes | memoryview) -> None:
        if self._open is None:
            raise RuntimeError("no zip member is open")
        self._written += len(chunk)
        self._write(chunk)

    def end(self) -> None:
        entry = self._open
        if entry is None:
            raise RuntimeError("no zip member is open")
        if self._written != entry.compressed_size:
            raise ValueError(
                f"zip member {entry.name}: {self._written} compressed bytes written, "
                f"{entry.compressed_size} announced"
            )
        self._entries.append(entry)
        self._open = None

    def add(self, name: str, data: bytes, *, mode: int) -> None:
        """A member from its uncompressed bytes (metadata files)."""
        packed = deflate(data)
        self.begin(
            name,
            method=DEFLATED,
            crc=zlib.crc32(data),
            compressed_size=len(packed),
            size=len(data),
            mode=mode,
        )
        self.write(packed)
        self.end()

    def _central_header(self, entry: _Entry) -> bytes:
        encoded = entry.name.encode()
        wide = [
            value
            for value in (entry.size, entry.compressed_size, entry.offset)
            if value >= self._zip64_from
        ]
        extra = struct.pack(f"<HH{len(wide)}Q", 1, 8 * len(wide), *wide) if wide else b""
        version = _ZIP64_VERSION if wide else _VERSION
        return (
            struct.pack(
                "<IHHHHHHIIIHHHHHII",
                0x02014B50,
                (_UNIX << 8) | version,
                version,
                self._flags(entry.name),
                entry.method,
                self._time,
                self._date,
                entry.crc,
                _LIMIT_32 if entry.compressed_size >= self._zip64_from else entry.compressed_size,
                _LIMIT_32 if entry.size >= self._zip64_from else entry.size,
                len(encoded),
                len(extra),
                0,  # comment
                0,  # disk
                0,  # internal attributes
                entry.mode << 16,
                _LIMIT_32 if entry.offset >= self._zip64_from else entry.offset,
            )
            + encoded
            + extra
        )

    def finish(self) -> None:
        """Write the central directory and the end records."""
        if self._open is not None:
            raise RuntimeError(f"zip member {self._open.name} is still open")
        start = self._position
        for entry in self._entries:
            self._write(self._central_header(entry))
        size, count = self._position - start, len(self._entries)
        if count >= _LIMIT_16 or start >= self._zip64_from or size >= self._zip64_from:
            end64 = self._position
            self._write(
                struct.pack(
                    "<IQHHIIQQQQ", 0x06064B50, 44, (_UNIX << 8) | _ZIP64_VERSION,
                    _ZIP64_VERSION, 0, 0, count, count, size, start,
                )
                + struct.pack("<IIQI", 0x07064B50, 0, end64, 1)
            )  # fmt: skip
            count, size, start = min(count, _LIMIT_16), min(size, _LIMIT_32), _LIMIT_32
        self._write(struct.pack("<IHHHHIIH", 0x06054B50, 0, 0, count, count, size, start, 0))
