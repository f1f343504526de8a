"""The one way polywheel reads a wheel: validate first, then read by exact name.

Every command that opens a wheel (check, audit, index, relabel, repair, and the
finishing of a raw build) goes through `open_wheel` or `inspect_wheel`. Before any
member is read the archive is checked: the filename parses, member names are plain
relative paths (no `..`, no absolute or backslash paths, no duplicates), no member is a
symlink or device, sizes and compression ratios stay within bounds, and there is
exactly one `.dist-info` folder, the one the filename names. `variant.json` is then
read at `{dist-info}/variant.json` and nowhere else.
"""

from __future__ import annotations

import contextlib
import dataclasses
import mmap
import os
import stat
import zipfile
import zlib
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import IO, Any

from polywheel.conformance.problems import Problem
from polywheel.errors import PolywheelError, WheelFormatError, shown
from polywheel.wheel.filename import WheelName, filename_problem, parse_wheel_name
from polywheel.wheel.variant_json import parse_document

__all__ = [
    "DEFAULT_LIMITS",
    "LIMITS_VARIABLE",
    "WheelLimits",
    "WheelReader",
    "configured_limits",
    "inspect_wheel",
    "open_wheel",
    "read_index_file",
]


@dataclasses.dataclass(frozen=True)
class WheelLimits:
    """Bounds on the work one wheel can cause; generous enough for multi-GB CUDA wheels."""

    max_members: int = 100_000
    max_member_size: int = 8 << 30
    max_total_size: int = 32 << 30
    max_ratio: int = 1_000  # uncompressed / compressed, for members over 1 MiB
    max_metadata_size: int = 16 << 20  # RECORD, METADATA, WHEEL
    max_variant_json_size: int = 1 << 20
    max_index_size: int = 16 << 20


DEFAULT_LIMITS = WheelLimits()
_RATIO_FLOOR = 1 << 20
LIMITS_VARIABLE = "POLYWHEEL_WHEEL_LIMITS"
_SUFFIXES = {"": 1, "K": 1 << 10, "M": 1 << 20, "G": 1 << 30, "T": 1 << 40}


def configured_limits(environ: Mapping[str, str] = os.environ) -> WheelLimits:
    """DEFAULT_LIMITS with the overrides in POLYWHEEL_WHEEL_LIMITS, a comma-separated
    list such as `max_member_size=16G,max_ratio=2000` (sizes take K, M, G, T)."""
    raw = environ.get(LIMITS_VARIABLE, "").strip()
    if not raw:
        return DEFAULT_LIMITS
    allowed = [f.name for f in dataclasses.fields(WheelLimits)]
    values: dict[str, int] = {}
    for item in raw.split(","):
        key, _, text = item.strip().partition("=")
        number = text.strip().upper()
        suffix = number[-1:] if number[-1:] in _SUFFIXES else ""
        digits = number[: len(number) - len(suffix)]
        if key.strip() not in allowed or not digits.isdigit() or int(digits) == 0:
            raise PolywheelError(
                f"{LIMITS_VARIABLE}: {item.strip()!r} is not KEY=NUMBER with a known key",
                key=LIMITS_VARIABLE,
                hint=f"keys: {', '.join(allowed)}; sizes may end in K, M, G or T, "
                "e.g. max_member_size=16G,max_ratio=2000",
            )
        values[key.strip()] = int(digits) * _SUFFIXES[suffix]
    return dataclasses.replace(DEFAULT_LIMITS, **values)


def _raise_hint(key: str) -> str:
    return f"(a real wheel this large? set {LIMITS_VARIABLE}={key}=...)"


def _member_problem(info: zipfile.ZipInfo, limits: WheelLimits) -> str | None:
    name = info.filename
    parts = name.rstrip("/").split("/")
    if not name or name.startswith("/") or "\\" in name or "\x00" in name:
        return f"member {name!r} is not a relative path with forward slashes"
    if not name.isprintable():
        # Such names would break RECORD's lines and reach terminals as escape sequences.
        return f"member {name!r} has control or other non-printable characters"
    if any(part in ("", ".", "..") for part in parts) or ":" in parts[0]:
        return f"member {name!r} leaves or names the wheel's root"
    mode = info.external_attr >> 16
    if mode and not info.is_dir() and stat.S_IFMT(mode) not in (0, stat.S_IFREG):
        return f"member {name!r} is not a regular file (a symlink or device)"
    if info.file_size > limits.max_member_size:
        return (
            f"member {name!r} is {info.file_size} bytes, over {limits.max_member_size} "
            + _raise_hint("max_member_size")
        )
    if info.file_size > _RATIO_FLOOR and info.file_size > limits.max_ratio * max(
        info.compress_size, 1
    ):
        return f"member {name!r} compresses more than {limits.max_ratio}:1 (a zip bomb?)"
    return None


class WheelReader:
    """An opened, validated wheel. Use `open_wheel` or `inspect_wheel` to get one."""

    def __init__(
        self, path: Path, name: WheelName, archive: zipfile.ZipFile, limits: WheelLimits
    ) -> None:
        self.path = path
        self.name = name
        self.limits = limits
        self._zip = archive
        self.dist_info = f"{name.distribution}-{name.version}.dist-info"
        self.files = [i for i in archive.infolist() if not i.is_dir()]
        self._by_name = {i.filename: i for i in self.files}

    def close(self) -> None:
        self._zip.close()

    def __enter__(self) -> WheelReader:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def has(self, arcname: str) -> bool:
        return arcname in self._by_name

    def info(self, arcname: str) -> zipfile.ZipInfo:
        return self._by_name[arcname]

    def stored_chunks(self, arcname: str, chunk: int = 1 << 20) -> Iterator[bytes]:
        """The member's bytes as the archive stores them (compressed), for a copy that
        does not inflate and deflate them again. Nothing here checks them: the caller
        inflates what it copies and compares CRC and size with the directory's."""
        info = self._by_name[arcname]
        with open(self.path, "rb") as f:
            f.seek(info.header_offset)
            header = f.read(30)
            if len(header) < 30 or header[:4] != b"PK\x03\x04":
                raise WheelFormatError(f"{self.path.name}: {arcname} has no local header")
            name_length, extra_length = (
                int.from_bytes(header[26:28], "little"),
                int.from_bytes(header[28:30], "little"),
            )
            if f.read(name_length) != info.orig_filename.encode(
                "utf-8" if info.flag_bits & 0x800 else "cp437"
            ):
                raise WheelFormatError(
                    f"{self.path.name}: {arcname} is named differently in its local header"
                )
            f.seek(extra_length, os.SEEK_CUR)
            left = info.compress_size
            while left:
                data = f.read(min(chunk, left))
                if not data:
                    raise WheelFormatError(f"{self.path.name}: {arcname} is cut short")
                left -= len(data)
                yield data

    @contextlib.contextmanager
    def open_member(self, arcname: str) -> Iterator[IO[bytes]]:
        """The member as a file, for `with`: what it cannot inflate is a WheelFormatError."""
        with self._inflating(arcname), self._zip.open(self._by_name[arcname]) as f:
            yield f

    @contextlib.contextmanager
    def _inflating(self, arcname: str) -> Iterator[None]:
        """Bytes that do not inflate, or inflate to other bytes than their CRC says,
        are the wheel's fault: one error naming the member."""
        try:
            yield
        except (zlib.error, zipfile.BadZipFile, EOFError) as exc:
            raise WheelFormatError(f"{self.path.name}: {arcname} cannot be read: {exc}") from None

    def read(self, arcname: str, *, limit: int | None = None) -> bytes:
        """A member's bytes; `limit` bounds what a small metadata file may cost."""
        info = self._by_name[arcname]
        bound = self.limits.max_member_size if limit is None else limit
        if info.file_size > bound:
            raise WheelFormatError(
                f"{self.path.name}: {arcname} is {info.file_size} bytes, over the limit of {bound}"
            )
        with self._inflating(arcname), self._zip.open(info) as f:
            data = f.read(bound + 1)
        if len(data) > bound:
            raise WheelFormatError(f"{self.path.name}: {arcname} is larger than it claims")
        return data

    def read_buffer(self, arcname: str) -> mmap.mmap | bytearray:
        """A member's bytes in one buffer of exactly its size, filled 1 MiB at a time:
        a library of several hundred MB costs its size once, not twice (reading it
        whole would concatenate the inflated chunks). The buffer is anonymous memory of
        its own (`mmap`), not the allocator's: closing it gives the memory back to the
        system at once, where a freed heap block of tens of MB would raise glibc's
        mmap threshold and leave later libraries fragmenting the heap. Close it when
        done."""
        info = self._by_name[arcname]
        if info.file_size > self.limits.max_member_size:
            raise WheelFormatError(
                f"{self.path.name}: {arcname} is {info.file_size} bytes, over the limit of "
                f"{self.limits.max_member_size}"
            )
        if not info.file_size:
            return bytearray()
        buffer = mmap.mmap(-1, info.file_size)
        try:
            with self._inflating(arcname), memoryview(buffer) as view, self._zip.open(info) as f:
                filled = 0
                while filled < len(buffer):
                    chunk = f.read(min(1 << 20, len(buffer) - filled))
                    if not chunk:
                        raise WheelFormatError(
                            f"{self.path.name}: {arcname} is shorter than it claims"
                        )
                    view[filled : filled + len(chunk)] = chunk
                    filled += len(chunk)
                if f.read(1):
                    raise WheelFormatError(f"{self.path.name}: {arcname} is larger than it claims")
        except BaseException:
            buffer.close()
            raise
        return buffer

    def dist_info_file(self, name: str) -> bytes | None:
        """`{dist-info}/{name}`, or None; metadata files are bounded in size."""
        arcname = f"{self.dist_info}/{name}"
        if not self.has(arcname):
            return None
        limit = (
            self.limits.max_variant_json_size
            if name == "variant.json"
            else self.limits.max_metadata_size
        )
        return self.read(arcname, limit=limit)

    def variant_json(self) -> Any | None:
        """The parsed `{dist-info}/variant.json` (not yet checked against the rules)."""
        raw = self.dist_info_file("variant.json")
        if raw is None:
            return None
        return parse_document(raw, f"{self.path.name}: variant.json")

    @property
    def is_pure(self) -> bool:
        """True for a wheel without compiled payload (`Root-Is-Purelib: true` or `none-any`)."""
        if self.name.tags.endswith("-none-any"):
            return True
        return b"Root-Is-Purelib: true" in (self.dist_info_file("WHEEL") or b"")


def inspect_wheel(
    path: Path, limits: WheelLimits | None = None
) -> tuple[WheelReader | None, list[Problem]]:
    """A reader, or None with the problems that make the file unreadable as a wheel.

    `limits` defaults to `configured_limits()`."""
    limits = limits or configured_limits()
    problem = filename_problem(path.name)
    if problem is not None:
        return None, [problem]
    name = parse_wheel_name(path.name)
    try:
        archive = zipfile.ZipFile(path)
    except (OSError, zipfile.BadZipFile) as exc:
        return None, [Problem(0, "E", f"not a zip archive: {exc}")]
    problems = _archive_problems(archive, name, limits)
    if problems:
        archive.close()
        return None, problems
    return WheelReader(path, name, archive, limits), []


def _archive_problems(
    archive: zipfile.ZipFile, name: WheelName, limits: WheelLimits
) -> list[Problem]:
    infos = archive.infolist()
    if len(infos) > limits.max_members:
        return [
            Problem(
                0,
                "E",
                f"{len(infos)} members, over the limit of {limits.max_members} "
                + _raise_hint("max_members"),
            )
        ]
    seen: set[str] = set()
    total = 0
    for info in infos:
        problem = _member_problem(info, limits)
        if problem is None and info.filename.rstrip("/") in seen:
            problem = f"member {info.filename!r} appears twice"
        if problem is not None:
            return [Problem(0, "E", problem)]
        seen.add(info.filename.rstrip("/"))
        total += info.file_size
    if total > limits.max_total_size:
        return [
            Problem(
                0,
                "E",
                f"{total} bytes uncompressed, over {limits.max_total_size} "
                + _raise_hint("max_total_size"),
            )
        ]
    expected = f"{name.distribution}-{name.version}.dist-info"
    dirs = sorted({n.split("/", 1)[0] for n in seen if n.split("/", 1)[0].endswith(".dist-info")})
    if dirs != [expected]:
        return [Problem(7, "E", f"the .dist-info folder must be {expected}, found {dirs}")]
    return []


def open_wheel(path: Path, limits: WheelLimits | None = None) -> WheelReader:
    """A validated reader; WheelFormatError names the first problem found."""
    reader, problems = inspect_wheel(path, limits)
    if reader is None:
        raise WheelFormatError(f"{shown(path.name)}: {problems[0]}")
    return reader


def read_index_file(path: Path, limits: WheelLimits | None = None) -> Any:
    """The parsed `{name}-{version}-variants.json` (not yet checked against the rules)."""
    limits = limits or configured_limits()
    with path.open("rb") as f:
        raw = f.read(limits.max_index_size + 1)
    if len(raw) > limits.max_index_size:
        raise WheelFormatError(
            f"{shown(path.name)} is larger than {limits.max_index_size} bytes "
            + _raise_hint("max_index_size")
        )
    return parse_document(raw, path.name)
