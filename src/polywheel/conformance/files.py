"""`polywheel check`: the file-level conformance rules for wheels, folders and index files."""

from __future__ import annotations

import base64
import csv
import dataclasses
import hashlib
import io
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from packaging.utils import canonicalize_name
from packaging.version import InvalidVersion, Version

from polywheel.conformance.problems import Problem
from polywheel.conformance.rules import document_problems, merge_problems, release_problems
from polywheel.errors import WheelFormatError, shown
from polywheel.wheel.filename import WheelName, index_filename
from polywheel.wheel.reader import WheelReader, inspect_wheel, read_index_file

__all__ = ["Finding", "check_paths"]

INDEX_SUFFIX = "-variants.json"


@dataclasses.dataclass(frozen=True, order=True)
class Finding:
    path: str
    problem: Problem

    def __str__(self) -> str:
        problem = self.problem
        return shown(f"{problem.severity}{problem.rule} {self.path}: {problem.message}")

    @property
    def is_error(self) -> bool:
        return self.problem.severity == "E"


@dataclasses.dataclass
class _Wheel:
    path: Path
    name: WheelName
    doc: dict[str, Any] | None


def _streamed_hash(reader: WheelReader, arcname: str) -> tuple[str, int]:
    digest, size = hashlib.sha256(), 0
    with reader.open_member(arcname) as f:
        while chunk := f.read(1 << 20):
            digest.update(chunk)
            size += len(chunk)
    encoded = base64.urlsafe_b64encode(digest.digest()).rstrip(b"=").decode()
    return f"sha256={encoded}", size


def _record_problems(reader: WheelReader) -> list[Problem]:
    record_name = f"{reader.dist_info}/RECORD"
    raw = reader.dist_info_file("RECORD")
    if raw is None:
        return [Problem(8, "E", "the wheel has no RECORD")]
    try:
        rows = list(csv.reader(io.StringIO(raw.decode("utf-8"))))
    except (UnicodeDecodeError, csv.Error) as exc:
        return [Problem(8, "E", f"RECORD is not a UTF-8 CSV file: {exc}")]
    listed: dict[str, tuple[str, str]] = {}
    for row in rows:
        if row:
            listed[row[0]] = (row[1] if len(row) > 1 else "", row[2] if len(row) > 2 else "")
    problems = []
    for info in reader.files:
        name = info.filename
        if name == record_name:
            continue
        if name not in listed:
            problems.append(Problem(8, "E", f"{name} is not listed in RECORD"))
            continue
        hash_, size = listed.pop(name)
        if (hash_, size) != tuple(map(str, _streamed_hash(reader, name))):
            problems.append(Problem(8, "E", f"RECORD has a wrong hash or size for {name}"))
    listed.pop(record_name, None)
    problems += [Problem(8, "E", f"RECORD lists {name}, which is missing") for name in listed]
    return problems


def _check_wheel(path: Path) -> tuple[_Wheel | None, list[Problem]]:
    reader, problems = inspect_wheel(path)
    if reader is None:
        return None, problems
    with reader:
        name = reader.name
        if name.label and len(name.label) > 16:
            problems.append(Problem(4, "W", f"label {name.label!r} is longer than 16 characters"))
        problems += _record_problems(reader)
        try:
            parsed = reader.variant_json()
        except WheelFormatError as exc:
            return None, [*problems, Problem(9, "E", exc.message.split(": ", 1)[-1])]
    if name.label is None:
        if parsed is not None:
            problems.append(Problem(6, "W", "a wheel without label carries variant.json"))
        return _Wheel(path, name, None), problems
    if parsed is None:
        return None, [*problems, Problem(5, "E", "a labelled wheel must contain variant.json")]
    found = document_problems(parsed, expected_label=name.label)
    problems += found
    doc = None if any(p.severity == "E" for p in found) else parsed
    return _Wheel(path, name, doc), problems


def _index_key(path: Path) -> tuple[tuple[str, str] | None, list[Problem]]:
    stem = path.name[: -len(INDEX_SUFFIX)]
    distribution, _, version = stem.partition("-")
    try:
        normal = index_filename(distribution, str(Version(version)))
    except InvalidVersion:
        return None, [Problem(28, "E", f"{version!r} is not a version")]
    if not version or normal != path.name:
        return None, [Problem(28, "E", f"the index file must be named {normal}")]
    return (str(canonicalize_name(distribution)), version), []


def check_paths(paths: Iterable[Path]) -> list[Finding]:
    """Every problem found in the given wheels, index files and folders."""
    wheel_paths: list[Path] = []
    index_paths: list[Path] = []
    for path in paths:
        if path.is_dir():
            wheel_paths += sorted(path.glob("*.whl"))
            index_paths += sorted(path.glob(f"*{INDEX_SUFFIX}"))
        elif path.name.endswith(INDEX_SUFFIX):
            index_paths.append(path)
            wheel_paths += [p for p in sorted(path.parent.glob("*.whl")) if p not in wheel_paths]
        else:
            wheel_paths.append(path)
    findings: list[Finding] = []
    releases: dict[tuple[str, str], list[_Wheel]] = {}
    key: tuple[str, str] | None
    for path in dict.fromkeys(wheel_paths):
        wheel, problems = _check_wheel(path)
        findings += [Finding(str(path), p) for p in problems]
        if wheel is not None:
            release = (str(canonicalize_name(wheel.name.distribution)), wheel.name.version)
            releases.setdefault(release, []).append(wheel)
    for (distribution, version), wheels in sorted(releases.items()):
        docs = [(w.path.name, w.doc) for w in wheels if w.doc is not None]
        if not docs:
            continue
        where = str(wheels[0].path.parent)
        _merged, problems = merge_problems(docs)
        findings += [Finding(where, p) for p in problems]
        if all(w.name.label for w in wheels):
            findings.append(
                Finding(
                    where,
                    Problem(
                        27,
                        "W",
                        f"no plain wheel of {distribution} {version} for older installers",
                    ),
                )
            )
    for path in dict.fromkeys(index_paths):
        key, problems = _index_key(path)
        findings += [Finding(str(path), p) for p in problems]
        try:
            doc = read_index_file(path)
        except WheelFormatError as exc:
            findings.append(Finding(str(path), Problem(29, "E", exc.message)))
            continue
        found = document_problems(doc)
        if isinstance(doc, dict) and isinstance(doc.get("variants"), dict):
            found += [
                Problem(4, "W", f"label {label!r} is longer than 16 characters")
                for label in doc["variants"]
                if len(label) > 16
            ]
        findings += [Finding(str(path), p) for p in found]
        if key is None or any(p.severity == "E" for p in found):
            continue
        docs = [(w.path.name, w.doc) for w in releases.get(key, []) if w.doc is not None]
        findings += [Finding(str(path), p) for p in release_problems(doc, docs)]
    return sorted(set(findings))
