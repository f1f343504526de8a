"""The one wheel writer: turn the wheel scikit-build-core wrote into the final one (label,
variant.json, per-variant dependencies, a fresh RECORD, reproducible zip entries) and
write it atomically."""

from __future__ import annotations

import base64
import contextlib
import csv
import datetime
import hashlib
import io
import os
import shutil
import stat
import tempfile
import zlib
from collections.abc import Iterator, Sequence
from pathlib import Path

from polywheel.errors import WheelFormatError
from polywheel.wheel import SCRATCH
from polywheel.wheel.filename import parse_wheel_name
from polywheel.wheel.metadata import add_requires
from polywheel.wheel.reader import WheelReader, open_wheel
from polywheel.wheel.zipout import DEFLATED, ZipOut

__all__ = [
    "SCRATCH",
    "atomic_output",
    "confined",
    "final_name",
    "finalize_wheel",
    "record_hash",
    "reproducible_epoch",
    "scratch_prefix",
    "staging_dir",
]

# The earliest time a zip entry can hold; used when SOURCE_DATE_EPOCH is unset, so
# output is reproducible by default.
_ZIP_MIN = 315532800
_ZIP_MAX = 4354819199


def scratch_prefix() -> str:
    """Scratch names (staging folders, temporary files) carry the pid of their writer,
    so a later run can tell the leftovers of a killed process from the work of a live
    one."""
    return f"{SCRATCH}{os.getpid()}-"


def _read_umask() -> int:
    # The only way to read the umask is to set it; done once, at import, before any
    # worker thread exists.
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


_UMASK = _read_umask()


def reproducible_epoch() -> int:
    raw = os.environ.get("SOURCE_DATE_EPOCH")
    if raw is None:
        return _ZIP_MIN
    try:
        value = int(raw)
    except ValueError:
        raise WheelFormatError(
            f"SOURCE_DATE_EPOCH={raw!r} is not an integer number of seconds since 1970"
        ) from None
    return min(max(value, _ZIP_MIN), _ZIP_MAX)


def _zip_time(epoch: int) -> tuple[int, int, int, int, int, int]:
    moment = datetime.datetime(1970, 1, 1) + datetime.timedelta(seconds=epoch)
    return (moment.year, moment.month, moment.day, moment.hour, moment.minute, moment.second)


def record_hash(data: bytes) -> str:
    """The RECORD hash field of `data`: `sha256=` and unpadded urlsafe base64."""
    return _record_field(hashlib.sha256(data).digest())


def _record_field(sha256: bytes) -> str:
    return "sha256=" + base64.urlsafe_b64encode(sha256).rstrip(b"=").decode()


def confined(folder: Path, name: str) -> Path:
    """`folder / name`, where `name` must be one plain file name.

    Every name polywheel writes passed the filename grammar first; this is the last
    guard that no value read from a wheel or index file can name a path outside
    `folder`.
    """
    if name in ("", ".", "..") or any(c in name for c in ("/", "\\", "\x00", os.sep)):
        raise WheelFormatError(f"refusing to write {name!r}: not a plain file name in {folder}")
    return folder / name


@contextlib.contextmanager
def atomic_output(final: Path) -> Iterator[Path]:
    """A temporary path beside `final`, renamed onto it only if the block succeeds."""
    final.parent.mkdir(parents=True, exist_ok=True)
    # A short temporary name: the final name may be as long as the file system allows.
    fd, tmp = tempfile.mkstemp(prefix=scratch_prefix(), suffix=".tmp", dir=final.parent)
    os.close(fd)
    tmp_path = Path(tmp)
    try:
        yield tmp_path
        # mkstemp creates 0600 files; published artefacts get the usual umask-based mode.
        tmp_path.chmod(0o666 & ~_UMASK)
        tmp_path.replace(final)
    finally:
        tmp_path.unlink(missing_ok=True)


@contextlib.contextmanager
def staging_dir(out_dir: Path) -> Iterator[Path]:
    """A hidden scratch folder inside `out_dir` (same filesystem: renames are atomic)."""
    out_dir.mkdir(parents=True, exist_ok=True)
    path = Path(tempfile.mkdtemp(prefix=scratch_prefix(), dir=out_dir))
    try:
        yield path
    finally:
        shutil.rmtree(path, ignore_errors=True)


_FILE_MODE, _EXECUTABLE_MODE = stat.S_IFREG | 0o644, stat.S_IFREG | 0o755


def final_name(raw_wheel: Path, label: str | None) -> str:
    """The name `finalize_wheel` gives the wheel it writes from `raw_wheel`."""
    return parse_wheel_name(raw_wheel.name).with_label(label).filename


def finalize_wheel(
    raw_wheel: Path,
    out_dir: Path,
    *,
    label: str | None,
    variant_json: bytes | None,
    requires: Sequence[str] = (),
) -> Path:
    """Write the final wheel into `out_dir` and return its path.

    Entries are written in a fixed order (payload sorted, then .dist-info with RECORD
    last) with the same timestamp and normalised permissions, so equal inputs give
    byte-identical wheels. The payload keeps the raw build's compressed bytes
    (wheel/zipout.py), each verified on the way.
    """
    date_time = _zip_time(reproducible_epoch())
    with open_wheel(raw_wheel) as src:
        if src.name.label is not None:
            raise WheelFormatError(f"{raw_wheel.name}: the raw build is already labelled")
        target = confined(out_dir, src.name.with_label(label).filename)
        dist_info = src.dist_info
        record_name = f"{dist_info}/RECORD"
        meta_name = f"{dist_info}/METADATA"
        if not src.has(meta_name):
            raise WheelFormatError(f"{raw_wheel.name}: no METADATA")
        # name -> the member's new bytes, or None to copy it from the raw wheel.
        entries: dict[str, bytes | None] = {
            info.filename: None
            for info in src.files
            if info.filename not in (record_name, f"{dist_info}/variant.json")
        }
        entries[meta_name] = add_requires(src.read(meta_name), requires)
        if variant_json is not None:
            entries[f"{dist_info}/variant.json"] = variant_json
        payload = sorted(n for n in entries if not n.startswith(dist_info + "/"))
        meta = sorted(n for n in entries if n.startswith(dist_info + "/"))
        record = io.StringIO()
        writer = csv.writer(record, lineterminator="\n")
        with atomic_output(target) as tmp, tmp.open("wb") as stream:
            archive = ZipOut(stream, date_time)
            for arcname in [*payload, *meta]:
                data = entries[arcname]
                if data is None:
                    writer.writerow((arcname, *_copy_member(src, archive, arcname)))
                else:
                    archive.add(arcname, data, mode=_FILE_MODE)
                    writer.writerow((arcname, record_hash(data), len(data)))
            writer.writerow((record_name, "", ""))
            archive.add(record_name, record.getvalue().encode(), mode=_FILE_MODE)
            archive.finish()
    return target


def _copy_member(src: WheelReader, archive: ZipOut, arcname: str) -> tuple[str, int]:
    """Copy one member's stored bytes into `archive`, inflating them on the way to
    check CRC and size against the raw wheel's directory: RECORD's hash and size."""
    info = src.info(arcname)
    mode = _EXECUTABLE_MODE if (info.external_attr >> 16) & stat.S_IXUSR else _FILE_MODE
    if info.compress_type != DEFLATED or info.flag_bits & 0x1:
        # Stored (deflated here, like every member), another method, or encrypted
        # (zipfile says what is wrong).
        data = src.read(arcname)
        archive.add(arcname, data, mode=mode)
        return record_hash(data), len(data)
    archive.begin(
        arcname,
        method=info.compress_type,
        crc=info.CRC,
        compressed_size=info.compress_size,
        size=info.file_size,
        mode=mode,
    )
    digest, crc, size = hashlib.sha256(), 0, 0
    inflater = zlib.decompressobj(-zlib.MAX_WBITS)
    try:
        for chunk in src.stored_chunks(arcname):
            archive.write(chunk)
            pending = chunk
            while pending and size <= info.file_size:
                # Bounded output per call: a member's declared ratio was checked, but
                # the stream itself is only trusted once it has inflated to its CRC.
                data = inflater.decompress(pending, 1 << 20)
                pending = inflater.unconsumed_tail
                digest.update(data)
                crc, size = zlib.crc32(data, crc), size + len(data)
        complete = inflater.eof and not inflater.unused_data
    except zlib.error as exc:
        raise WheelFormatError(f"{src.path.name}: {arcname} cannot be read: {exc}") from None
    if not complete or crc != info.CRC or size != info.file_size:
        raise WheelFormatError(
            f"{src.path.name}: {arcname} cannot be read: it does not inflate to the "
            f"{info.file_size} bytes with CRC {info.CRC:08x} its directory entry names"
        )
    archive.end()
    return _record_field(digest.digest()), size
