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
import zipfile
from collections.abc import Iterator, Sequence
from pathlib import Path

from polywheel.errors import WheelFormatError
from polywheel.wheel.metadata import add_requires
from polywheel.wheel.reader import open_wheel

__all__ = [
    "SCRATCH",
    "atomic_output",
    "confined",
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


# Scratch names (staging folders, temporary files) carry the pid of their writer, so a
# later run can tell the leftovers of a killed process from the work of a live one.
SCRATCH = ".polywheel-"


def scratch_prefix() -> str:
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
    digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=")
    return "sha256=" + digest.decode()


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


def finalize_wheel(
    raw_wheel: Path,
    out_dir: Path,
    *,
    label: str | None,
    variant_json: bytes | None,
    requires: Sequence[str] = (),
) -> Path:
    """Write the final wheel into `out_dir` and return its path.

    Entries are rewritten in a fixed order (payload sorted, then .dist-info with RECORD
    last) with the same timestamp and normalised permissions, so equal inputs give
    byte-identical wheels.
    """
    date_time = _zip_time(reproducible_epoch())
    with open_wheel(raw_wheel) as src:
        if src.name.label is not None:
            raise WheelFormatError(f"{raw_wheel.name}: the raw build is already labelled")
        target = confined(out_dir, src.name.with_label(label).filename)
        dist_info = src.dist_info
        record_name = f"{dist_info}/RECORD"
        entries: dict[str, tuple[bytes, bool]] = {}
        for info in src.files:
            if info.filename in (record_name, f"{dist_info}/variant.json"):
                continue
            executable = bool((info.external_attr >> 16) & stat.S_IXUSR)
            entries[info.filename] = (src.read(info.filename), executable)
    meta_name = f"{dist_info}/METADATA"
    if meta_name not in entries:
        raise WheelFormatError(f"{raw_wheel.name}: no METADATA")
    entries[meta_name] = (add_requires(entries[meta_name][0], requires), False)
    if variant_json is not None:
        entries[f"{dist_info}/variant.json"] = (variant_json, False)

    payload = sorted(n for n in entries if not n.startswith(dist_info + "/"))
    meta = sorted(n for n in entries if n.startswith(dist_info + "/"))
    record = io.StringIO()
    writer = csv.writer(record, lineterminator="\n")
    with atomic_output(target) as tmp, zipfile.ZipFile(tmp, "w") as dst:
        for arcname in [*payload, *meta]:
            data, executable = entries[arcname]
            _write_entry(dst, arcname, data, date_time, 0o755 if executable else 0o644)
            writer.writerow((arcname, record_hash(data), len(data)))
        writer.writerow((record_name, "", ""))
        _write_entry(dst, record_name, record.getvalue().encode(), date_time, 0o644)
    return target


def _write_entry(
    archive: zipfile.ZipFile,
    arcname: str,
    data: bytes,
    date_time: tuple[int, int, int, int, int, int],
    mode: int,
) -> None:
    info = zipfile.ZipInfo(arcname, date_time)
    info.compress_type = zipfile.ZIP_DEFLATED
    info.create_system = 3
    info.external_attr = (stat.S_IFREG | mode) << 16
    archive.writestr(info, data, compresslevel=6)
