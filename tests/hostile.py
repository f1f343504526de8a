"""A generator of hostile wheels, ELF files, fat binaries and index files.

Each builder writes exactly the bytes an attacker would: nothing here goes through
polywheel's own writer, so the files can break every rule the reader enforces.
"""

from __future__ import annotations

import base64
import dataclasses
import hashlib
import json
import stat
import struct
import warnings
import zipfile
import zlib
from collections.abc import Sequence
from pathlib import Path
from typing import Any

__all__ = [
    "FATBIN_MAGIC",
    "Member",
    "Section",
    "elf",
    "fatbin",
    "fatbin_entry",
    "symlink_member",
    "variant_doc",
    "wheel",
]

FATBIN_MAGIC = 0xBA55ED50
SCHEMA = "https://variants-schema.wheelnext.dev/v0.2.0.json"

# An x86-64 function that needs v3 (vfmadd231ps ymm0, ymm1, ymm2; ret) and one that
# runs on the baseline (xor eax, eax; ret).
V3_CODE = bytes.fromhex("c4e275b8c2") + b"\xc3"
V1_CODE = b"\x31\xc0\xc3"


@dataclasses.dataclass
class Section:
    """One ELF section header and its bytes; sizes and offsets may lie."""

    name: str
    data: bytes = b""
    type: int = 1  # SHT_PROGBITS
    flags: int = 0x6  # SHF_ALLOC | SHF_EXECINSTR
    addr: int = 0x1000
    size: int | None = None  # None: len(data)
    offset: int | None = None  # None: where the data is written
    link: int = 0
    entsize: int = 0


def elf(
    sections: Sequence[Section],
    *,
    machine: int = 62,  # EM_X86_64
    shoff: int | None = None,
    shnum: int | None = None,
    shentsize: int = 64,
    shstrndx: int | None = None,
    truncate: int | None = None,
) -> bytes:
    """A 64-bit little-endian ELF file with these sections (after a null section and
    before `.shstrtab`); every header field can be forged."""
    names = b"\x00"
    name_offsets = []
    for section in [*sections, Section(".shstrtab")]:
        name_offsets.append(len(names))
        names += section.name.encode() + b"\x00"
    body = bytearray(64)
    placed: list[tuple[int, int]] = []
    for section in sections:
        placed.append((len(body), len(section.data)))
        body += section.data
    strtab_offset = len(body)
    body += names
    while len(body) % 8:
        body += b"\x00"
    table_offset = len(body)
    headers = [b"\x00" * 64]
    for section, name_offset, (offset, length) in zip(sections, name_offsets, placed, strict=False):
        headers.append(
            struct.pack(
                "<IIQQQQIIQQ",
                name_offset,
                section.type,
                section.flags,
                section.addr,
                offset if section.offset is None else section.offset,
                length if section.size is None else section.size,
                section.link,
                0,
                1,
                section.entsize,
            )
        )
    headers.append(
        struct.pack("<IIQQQQIIQQ", name_offsets[-1], 3, 0, 0, strtab_offset, len(names), 0, 0, 1, 0)
    )
    body += b"".join(headers)
    count = len(headers)
    ident = b"\x7fELF" + bytes([2, 1, 1, 0]) + b"\x00" * 8
    body[0:64] = ident + struct.pack(
        "<HHIQQQIHHHHHH",
        3,  # ET_DYN
        machine,
        1,
        0,
        0,
        table_offset if shoff is None else shoff,
        0,
        64,
        56,
        0,
        shentsize,
        count if shnum is None else shnum,
        count - 1 if shstrndx is None else shstrndx,
    )
    data = bytes(body)
    return data if truncate is None else data[:truncate]


def fatbin_entry(
    kind: int, arch: int, payload: bytes = b"", *, header: int = 64, size: int | None = None
) -> bytes:
    """One fat-binary entry: kind 1 is PTX, 2 is SASS (cubin)."""
    head = struct.pack("<HHIQ", kind, 0, header, len(payload) if size is None else size)
    head += b"\x00" * 8 + struct.pack("<HHI", 0, 8, arch)
    return head.ljust(header, b"\x00") + payload if header >= 32 else head + payload


def fatbin(entries: Sequence[bytes], *, header: int = 16, size: int | None = None) -> bytes:
    payload = b"".join(entries)
    head = struct.pack("<IHHQ", FATBIN_MAGIC, 1, header, len(payload) if size is None else size)
    return head + payload


def compressed_section_data(uncompressed_size: int) -> bytes:
    """An ELF `SHF_COMPRESSED` section body: a zlib stream of zeros, a few KB on disk."""
    chdr = struct.pack("<IIQQ", 1, 0, uncompressed_size, 1)  # ELFCOMPRESS_ZLIB
    compressor = zlib.compressobj(9)
    chunk = b"\x00" * (1 << 20)
    out = [compressor.compress(chunk) for _ in range(uncompressed_size >> 20)]
    return chdr + b"".join(out) + compressor.flush()


def variant_doc(label: str = "x86_64_v3", level: str = "v3", **extra: Any) -> dict[str, Any]:
    doc: dict[str, Any] = {
        "$schema": SCHEMA,
        "default-priorities": {"namespace": ["x86_64"]},
        "providers": {"x86_64": {"requires": ["provider-variant-x86-64"]}},
        "variants": {label: {"x86_64": {"level": [level]}}},
    }
    doc.update(extra)
    return doc


Member = tuple["str | zipfile.ZipInfo", bytes]


def symlink_member(name: str, target: str) -> Member:
    info = zipfile.ZipInfo(name)
    info.create_system = 3
    info.external_attr = (stat.S_IFLNK | 0o777) << 16
    return info, target.encode()


def _record(members: Sequence[Member], record_name: str) -> bytes:
    lines = []
    for name, data in members:
        arcname = name.filename if isinstance(name, zipfile.ZipInfo) else name
        digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
        lines.append(f"{arcname},sha256={digest},{len(data)}")
    lines.append(f"{record_name},,")
    return ("\n".join(lines) + "\n").encode()


def wheel(
    folder: Path,
    *,
    distribution: str = "demo",
    version: str = "1.0",
    tags: str = "cp312-cp312-linux_x86_64",
    label: str | None = "x86_64_v3",
    doc: dict[str, Any] | bytes | None = None,
    payload: Sequence[Member] = (("demo/__init__.py", b""),),
    extra: Sequence[Member] = (),
    record: bytes | None = None,
    filename: str | None = None,
) -> Path:
    """A wheel whose RECORD is right unless `record` is given; `extra` members are
    written after RECORD and not listed in it (they are the attack)."""
    dist_info = f"{distribution}-{version}.dist-info"
    members: list[Member] = [
        *payload,
        (
            f"{dist_info}/METADATA",
            f"Metadata-Version: 2.1\nName: {distribution}\nVersion: {version}\n".encode(),
        ),
        (f"{dist_info}/WHEEL", b"Wheel-Version: 1.0\nRoot-Is-Purelib: false\n"),
    ]
    if doc is None and label is not None:
        doc = variant_doc(label)
    if doc is not None:
        raw = doc if isinstance(doc, bytes) else json.dumps(doc).encode()
        members.append((f"{dist_info}/variant.json", raw))
    record_name = f"{dist_info}/RECORD"
    members.append((record_name, _record(members, record_name) if record is None else record))
    name = filename or "-".join([distribution, version, tags, *([label] if label else [])]) + ".whl"
    path = folder / name
    folder.mkdir(parents=True, exist_ok=True)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # duplicate names are part of the attack
        with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED, compresslevel=9) as zf:
            for member, data in [*members, *extra]:
                zf.writestr(member, data)
    return path


def deflated(data_chunks: Sequence[bytes], level: int = 9) -> tuple[bytes, int, int]:
    """A raw deflate stream of the concatenated chunks, its CRC-32 and its size."""
    compressor = zlib.compressobj(level, zlib.DEFLATED, -15)
    parts, crc, size = [], 0, 0
    for chunk in data_chunks:
        parts.append(compressor.compress(chunk))
        crc = zlib.crc32(chunk, crc)
        size += len(chunk)
    parts.append(compressor.flush())
    return b"".join(parts), crc, size


RawMember = tuple[str, bytes, int, int]  # name, raw deflate stream, CRC-32, size


def raw_zip(path: Path, members: Sequence[Member], raw: Sequence[RawMember]) -> Path:
    """A zip archive written by hand, so a member can be a pre-compressed bomb that
    `zipfile` would have to inflate to write."""
    entries: list[RawMember] = []
    for name, data in members:
        arcname = name.filename if isinstance(name, zipfile.ZipInfo) else name
        entries.append((arcname, *deflated([data])))
    entries += raw
    body, central = bytearray(), bytearray()
    for name, stream, crc, size in entries:
        encoded = name.encode()
        offset = len(body)
        body += struct.pack(
            "<IHHHHHIIIHH", 0x04034B50, 20, 0, 8, 0, 0x21, crc, len(stream), size, len(encoded), 0
        )
        body += encoded + stream
        central += struct.pack(
            "<IHHHHHHIIIHHHHHII",
            0x02014B50,
            0x031E,
            20,
            0,
            8,
            0,
            0x21,
            crc,
            len(stream),
            size,
            len(encoded),
            0,
            0,
            0,
            0,
            (stat.S_IFREG | 0o644) << 16,
            offset,
        )
        central += encoded
    end = struct.pack(
        "<IHHHHIIH", 0x06054B50, 0, 0, len(entries), len(entries), len(central), len(body), 0
    )
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(bytes(body + central + end))
    return path


def with_symbol(code: bytes, name: bytes) -> bytes:
    """An ELF file whose one function, covering `code`, has this symbol name."""
    symbol = struct.pack("<IBBHQQ", 1, 0x12, 0, 1, 0x1000, len(code))  # GLOBAL FUNC
    return elf(
        [
            Section(".text", code),
            Section(".strtab", b"\x00" + name + b"\x00", type=3, flags=0),
            Section(".symtab", bytes(24) + symbol, type=2, flags=0, link=2, entsize=24),
        ]
    )
