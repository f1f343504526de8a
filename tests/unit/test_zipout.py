"""The zip writer that copies compressed members (wheel/zipout.py) and the wheel writer's
verified copy of the raw build's payload (wheel/writer.py)."""

from __future__ import annotations

import io
import stat
import zipfile
from pathlib import Path

import pytest

from polywheel.errors import WheelFormatError
from polywheel.wheel.writer import finalize_wheel, record_hash
from polywheel.wheel.zipout import ZipOut, deflate

TIME = (2023, 11, 14, 22, 13, 20)
DIST_INFO = "pkg-1.0.dist-info"
METADATA = b"Metadata-Version: 2.1\nName: pkg\nVersion: 1.0\n"
LIBRARY = bytes(range(256)) * 4096  # 1 MiB that deflates, in more than one read chunk
MODE = stat.S_IFREG | 0o644


def written(build: object, **options: int) -> zipfile.ZipFile:
    stream = io.BytesIO()
    archive = ZipOut(stream, TIME, **options)
    build(archive)  # type: ignore[operator]
    archive.finish()
    return zipfile.ZipFile(io.BytesIO(stream.getvalue()))


def test_members_read_back_with_their_names_modes_and_time() -> None:
    def build(archive: ZipOut) -> None:
        archive.add("pkg/data.bin", LIBRARY, mode=MODE)
        archive.add("pkg/ünïcode.txt", b"text", mode=stat.S_IFREG | 0o755)
        archive.add("pkg/empty", b"", mode=MODE)

    with written(build) as zf:
        assert zf.testzip() is None
        assert zf.read("pkg/data.bin") == LIBRARY
        assert zf.read("pkg/ünïcode.txt") == b"text"
        assert zf.read("pkg/empty") == b""
        info = zf.getinfo("pkg/ünïcode.txt")
        assert info.flag_bits & 0x800 and info.external_attr >> 16 == stat.S_IFREG | 0o755
        assert {i.date_time for i in zf.infolist()} == {(2023, 11, 14, 22, 13, 20)}
        assert {i.compress_type for i in zf.infolist()} == {zipfile.ZIP_DEFLATED}


def test_zip64_records_where_sizes_offsets_and_counts_need_them() -> None:
    def build(archive: ZipOut) -> None:
        archive.add("a", LIBRARY, mode=MODE)
        archive.add("b", b"small", mode=MODE)

    # Every size and offset over the threshold takes the ZIP64 form, as past 4 GiB.
    with written(build, zip64_from=3) as zf:
        assert zf.testzip() is None
        assert [(i.filename, i.file_size) for i in zf.infolist()] == [("a", len(LIBRARY)), ("b", 5)]
        assert zf.read("a") == LIBRARY
    many = 0x10000 + 5

    def build_many(archive: ZipOut) -> None:
        for i in range(many):
            archive.add(f"f{i}", b"", mode=MODE)

    with written(build_many) as zf:
        assert len(zf.infolist()) == many


def test_a_member_must_get_the_bytes_it_announced() -> None:
    archive = ZipOut(io.BytesIO(), TIME)
    archive.begin("x", method=8, crc=0, compressed_size=10, size=3, mode=MODE)
    archive.write(b"12345")
    with pytest.raises(ValueError, match="5 compressed bytes written, 10 announced"):
        archive.end()


def raw_wheel(path: Path, library: bytes = LIBRARY) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as zf:
        # Level 1, not the writer's 6: a copy keeps these bytes, deflating again would not.
        zf.writestr("pkg/_core.so", library, compresslevel=1)
        zf.writestr("pkg/__init__.py", b"")
        zf.writestr(f"{DIST_INFO}/METADATA", METADATA)
        zf.writestr(f"{DIST_INFO}/WHEEL", b"Wheel-Version: 1.0\nRoot-Is-Purelib: false\n")
        zf.writestr(f"{DIST_INFO}/RECORD", b"")
    return path


def stored_bytes(wheel: Path, name: str) -> bytes:
    """A member's compressed bytes, as the archive holds them."""
    with zipfile.ZipFile(wheel) as zf:
        info = zf.getinfo(name)
    data = wheel.read_bytes()
    start = info.header_offset + 30
    start += int.from_bytes(data[info.header_offset + 26 : info.header_offset + 28], "little")
    start += int.from_bytes(data[info.header_offset + 28 : info.header_offset + 30], "little")
    return data[start : start + info.compress_size]


def test_the_payload_keeps_the_raw_builds_compressed_bytes(tmp_path: Path) -> None:
    raw = raw_wheel(tmp_path / "raw" / "pkg-1.0-cp311-cp311-linux_x86_64.whl")
    wheel = finalize_wheel(raw, tmp_path / "out", label="x86_64_v3", variant_json=b"{}")
    assert stored_bytes(wheel, "pkg/_core.so") == stored_bytes(raw, "pkg/_core.so")
    with zipfile.ZipFile(wheel) as zf:
        assert zf.testzip() is None
        record = zf.read(f"{DIST_INFO}/RECORD").decode()
    assert f"pkg/_core.so,{record_hash(LIBRARY)},{len(LIBRARY)}" in record.splitlines()


def corrupt(raw: Path, *, stream: bool) -> None:
    """Break pkg/_core.so: a byte of its deflate stream, or the CRC its headers name."""
    with zipfile.ZipFile(raw) as zf:
        info = zf.getinfo("pkg/_core.so")
    data = bytearray(raw.read_bytes())
    if stream:
        data[info.header_offset + 30 + len(info.filename) + len(info.extra) + 200] ^= 0xFF
    else:
        wrong = (info.CRC ^ 0xFFFF).to_bytes(4, "little")
        data[info.header_offset + 14 : info.header_offset + 18] = wrong
        at = int.from_bytes(data[-6:-2], "little")  # the central directory (no comment)
        while data[at : at + 4] == b"PK\x01\x02":
            lengths = [int.from_bytes(data[at + i : at + i + 2], "little") for i in (28, 30, 32)]
            if data[at + 46 : at + 46 + lengths[0]] == b"pkg/_core.so":
                data[at + 16 : at + 20] = wrong
            at += 46 + sum(lengths)
    raw.write_bytes(bytes(data))


@pytest.mark.parametrize("stream", [True, False], ids=["stream", "crc"])
def test_a_corrupt_member_is_refused_and_nothing_is_written(tmp_path: Path, stream: bool) -> None:
    raw = raw_wheel(tmp_path / "raw" / "pkg-1.0-cp311-cp311-linux_x86_64.whl")
    corrupt(raw, stream=stream)
    out = tmp_path / "out"
    with pytest.raises(WheelFormatError, match=r"pkg/_core\.so cannot be read"):
        finalize_wheel(raw, out, label="x86_64_v3", variant_json=b"{}")
    assert list(out.iterdir()) == []


def test_deflate_is_a_raw_stream() -> None:
    import zlib

    assert zlib.decompress(deflate(LIBRARY), -zlib.MAX_WBITS) == LIBRARY
