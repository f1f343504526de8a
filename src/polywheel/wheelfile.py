"""Turn the wheel scikit-build-core wrote into the final one: label, variant.json,
per-variant dependencies, a fresh RECORD, reproducible zip entries, atomic write."""

from __future__ import annotations

import base64
import contextlib
import csv
import datetime
import hashlib
import io
import os
import stat
import tempfile
import zipfile
from collections.abc import Iterator, Sequence
from pathlib import Path

from polywheel.errors import WheelFormatError
from polywheel.filename import WheelName, parse_wheel_name

__all__ = [
    "add_requires",
    "atomic_output",
    "finalize_wheel",
    "read_dist_info",
    "reproducible_epoch",
    "wheel_is_pure",
]

# The earliest time a zip entry can hold; used when SOURCE_DATE_EPOCH is unset, so
# output is reproducible by default.
_ZIP_MIN = 315532800
_ZIP_MAX = 4354819199


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


def _record_hash(data: bytes) -> str:
    digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=")
    return "sha256=" + digest.decode()


def _dist_info_dir(names: Sequence[str], where: str) -> str:
    dirs = {n.split("/", 1)[0] for n in names if n.split("/", 1)[0].endswith(".dist-info")}
    if len(dirs) != 1:
        raise WheelFormatError(f"{where}: expected one .dist-info directory, found {sorted(dirs)}")
    return dirs.pop()


def read_dist_info(wheel: Path, name: str) -> bytes | None:
    """One file of the wheel's .dist-info (e.g. 'variant.json'), or None."""
    with zipfile.ZipFile(wheel) as zf:
        dist_info = _dist_info_dir(zf.namelist(), wheel.name)
        try:
            return zf.read(f"{dist_info}/{name}")
        except KeyError:
            return None


def wheel_is_pure(wheel: Path) -> bool:
    """True for a wheel without compiled payload (`Root-Is-Purelib: true` or `none-any`)."""
    if wheel.name.endswith("-none-any.whl"):
        return True
    wheel_meta = read_dist_info(wheel, "WHEEL") or b""
    return b"Root-Is-Purelib: true" in wheel_meta


def add_requires(metadata: bytes, requires: Sequence[str]) -> bytes:
    if not requires:
        return metadata
    text = metadata.decode()
    head, sep, body = text.partition("\n\n")
    existing = {
        line.split(":", 1)[1].strip()
        for line in head.splitlines()
        if line.startswith("Requires-Dist:")
    }
    lines = [f"Requires-Dist: {r}" for r in requires if r not in existing]
    if not lines:
        return metadata
    new_head = head.rstrip("\n") + "\n" + "\n".join(lines)
    return (new_head + (sep + body if sep else "\n")).encode()


@contextlib.contextmanager
def atomic_output(final: Path) -> Iterator[Path]:
    """A temporary path beside `final`, renamed onto it only if the block succeeds."""
    final.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{final.name}.", suffix=".tmp", dir=final.parent)
    os.close(fd)
    tmp_path = Path(tmp)
    try:
        yield tmp_path
        # mkstemp creates 0600 files; published artefacts get the usual umask-based mode.
        tmp_path.chmod(0o666 & ~_UMASK)
        tmp_path.replace(final)
    finally:
        tmp_path.unlink(missing_ok=True)


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
    name: WheelName = parse_wheel_name(raw_wheel.name)
    if name.label is not None:
        raise WheelFormatError(f"{raw_wheel.name}: the raw build is already labelled")
    target = out_dir / name.with_label(label).filename
    date_time = _zip_time(reproducible_epoch())
    with zipfile.ZipFile(raw_wheel) as src:
        infos = [i for i in src.infolist() if not i.is_dir()]
        dist_info = _dist_info_dir([i.filename for i in infos], raw_wheel.name)
        record_name = f"{dist_info}/RECORD"
        entries: dict[str, tuple[bytes, bool]] = {}
        for info in infos:
            if info.filename in (record_name, f"{dist_info}/variant.json"):
                continue
            executable = bool((info.external_attr >> 16) & stat.S_IXUSR)
            entries[info.filename] = (src.read(info), executable)
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
            info = zipfile.ZipInfo(arcname, date_time)
            info.compress_type = zipfile.ZIP_DEFLATED
            info.create_system = 3
            info.external_attr = (stat.S_IFREG | (0o755 if executable else 0o644)) << 16
            dst.writestr(info, data, compresslevel=6)
            writer.writerow((arcname, _record_hash(data), len(data)))
        writer.writerow((record_name, "", ""))
        info = zipfile.ZipInfo(record_name, date_time)
        info.compress_type = zipfile.ZIP_DEFLATED
        info.create_system = 3
        info.external_attr = (stat.S_IFREG | 0o644) << 16
        dst.writestr(info, record.getvalue().encode(), compresslevel=6)
    return target
