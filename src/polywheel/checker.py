"""`polywheel check`: the file-level conformance rules for wheels, folders and index files."""

from __future__ import annotations

import base64
import csv
import dataclasses
import hashlib
import io
import json
import zipfile
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from packaging.utils import canonicalize_name
from packaging.version import InvalidVersion, Version

from polywheel.errors import WheelFormatError
from polywheel.filename import WheelName, parse_wheel_name
from polywheel.index import index_filename
from polywheel.rules import Problem, document_problems, merge_problems, release_problems

__all__ = ["Finding", "check_paths"]

INDEX_SUFFIX = "-variants.json"


@dataclasses.dataclass(frozen=True, order=True)
class Finding:
    path: str
    problem: Problem

    def __str__(self) -> str:
        return f"{self.problem.severity}{self.problem.rule} {self.path}: {self.problem.message}"

    @property
    def is_error(self) -> bool:
        return self.problem.severity == "E"


@dataclasses.dataclass
class _Wheel:
    path: Path
    name: WheelName
    doc: dict[str, Any] | None


def _record_problems(zf: zipfile.ZipFile, dist_info: str) -> list[Problem]:
    try:
        record = zf.read(f"{dist_info}/RECORD").decode()
    except KeyError:
        return [Problem(8, "E", "the wheel has no RECORD")]
    listed: dict[str, tuple[str, str]] = {}
    for row in csv.reader(io.StringIO(record)):
        if row:
            listed[row[0]] = (row[1] if len(row) > 1 else "", row[2] if len(row) > 2 else "")
    problems = []
    for name in zf.namelist():
        if name.endswith("/") or name == f"{dist_info}/RECORD":
            continue
        if name not in listed:
            problems.append(Problem(8, "E", f"{name} is not listed in RECORD"))
            continue
        data = zf.read(name)
        digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
        hash_, size = listed.pop(name)
        if hash_ != f"sha256={digest}" or size != str(len(data)):
            problems.append(Problem(8, "E", f"RECORD has a wrong hash or size for {name}"))
    listed.pop(f"{dist_info}/RECORD", None)
    problems += [Problem(8, "E", f"RECORD lists {name}, which is missing") for name in listed]
    return problems


def _check_wheel(path: Path) -> tuple[_Wheel | None, list[Problem]]:
    try:
        name = parse_wheel_name(path.name)
    except WheelFormatError as exc:
        text = str(exc)
        rule = 2 if "python tag" in text else 3 if "variant label" in text else 1
        return None, [Problem(rule, "E", text.split(": ", 1)[-1])]
    problems: list[Problem] = []
    if name.label and len(name.label) > 16:
        problems.append(Problem(4, "W", f"label {name.label!r} is longer than 16 characters"))
    doc: dict[str, Any] | None = None
    try:
        zf = zipfile.ZipFile(path)
    except (OSError, zipfile.BadZipFile) as exc:
        return None, [Problem(1, "E", f"not a zip file: {exc}")]
    with zf:
        expected = f"{name.distribution}-{name.version}.dist-info"
        dirs = {n.split("/", 1)[0] for n in zf.namelist() if ".dist-info/" in n}
        if dirs != {expected}:
            problems.append(
                Problem(7, "E", f"the .dist-info folder must be {expected}, found {sorted(dirs)}")
            )
        dist_info = expected if expected in dirs else (sorted(dirs) or [expected])[0]
        problems += _record_problems(zf, dist_info)
        try:
            raw = zf.read(f"{dist_info}/variant.json")
        except KeyError:
            raw = None
    if name.label is None:
        if raw is not None:
            problems.append(Problem(6, "W", "a wheel without label carries variant.json"))
        return _Wheel(path, name, None), problems
    if raw is None:
        return None, [*problems, Problem(5, "E", "a labelled wheel must contain variant.json")]
    try:
        parsed = json.loads(raw)
    except ValueError as exc:
        return None, [*problems, Problem(9, "E", f"variant.json is not JSON: {exc}")]
    found = document_problems(parsed, expected_label=name.label)
    problems += found
    if not any(p.severity == "E" for p in found):
        doc = parsed
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
            doc = json.loads(path.read_text())
        except ValueError as exc:
            findings.append(Finding(str(path), Problem(29, "E", f"not JSON: {exc}")))
            continue
        found = document_problems(doc)
        findings += [Finding(str(path), p) for p in found]
        if key is None or any(p.severity == "E" for p in found):
            continue
        docs = [(w.path.name, w.doc) for w in releases.get(key, []) if w.doc is not None]
        findings += [Finding(str(path), p) for p in release_problems(doc, docs)]
    return sorted(set(findings))
