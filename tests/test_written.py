"""A no-change rebuild neither writes nor audits again the wheels it would write byte
for byte (pipeline/written.py), and only then.

Each test builds the v1 variant and the plain wheel of a small project, in a user
cache of its own (where the key that signs the records lives), and checks by the
wheels' files (inode and change time) whether the second build wrote them again.
"""

from __future__ import annotations

import json
import os
import zipfile
from collections.abc import Callable
from pathlib import Path

import pytest
from conftest import polywheel

pytestmark = pytest.mark.compile

V1 = ("build", "--variant", "x86_64_v1", "-o", "dist")


def build(project: Path, cache: Path) -> str:
    return polywheel(*V1, cwd=project, env={"XDG_CACHE_HOME": str(cache)}).stdout


def inodes(dist: Path) -> dict[str, tuple[int, int]]:
    """Each wheel's file: a file written again is another file (a freed inode number
    may come back, its change time does not)."""
    return {p.name: (p.stat().st_ino, p.stat().st_ctime_ns) for p in sorted(dist.glob("*.whl"))}


def contents(dist: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(dist.glob("*.whl"))}


def audit_column(output: str) -> list[str]:
    return [
        line.split()[-2] + " " + line.split()[-1] for line in output.splitlines() if ".whl" in line
    ]


@pytest.fixture
def built(copy_project: Callable[[str], Path], tmp_path: Path) -> tuple[Path, Path, str]:
    """The project, its user cache, and what the first build printed."""
    project, cache = copy_project("simple_c"), tmp_path / "cache"
    return project, cache, build(project, cache)


def record_of(project: Path) -> Path:
    return project / "build" / "polywheel-cache" / "x86_64_v1" / "written.json"


def test_wheels_written_before_are_neither_written_nor_audited_again(
    built: tuple[Path, Path, str],
) -> None:
    project, cache, first = built
    dist = project / "dist"
    before, data = inodes(dist), contents(dist)
    assert len(before) == 2  # the v1 wheel and the plain wheel
    again = build(project, cache)
    assert "unchanged since the last build, reusing it" in again
    assert inodes(dist) == before
    assert contents(dist) == data
    # The audit recalled is the audit made: the same verdicts and levels.
    assert audit_column(again) == audit_column(first)
    assert audit_column(again) == ["ok (v1)", "ok (v1)"]


def test_a_changed_wheel_is_written_again(built: tuple[Path, Path, str]) -> None:
    project, cache, _first = built
    dist = project / "dist"
    data = contents(dist)
    (wheel,) = dist.glob("*-x86_64_v1.whl")
    # Same size and mtime, other bytes: found by content.
    stat = wheel.stat()
    raw = bytearray(wheel.read_bytes())
    raw[-30] ^= 0xFF
    wheel.write_bytes(bytes(raw))
    os.utime(wheel, ns=(stat.st_atime_ns, stat.st_mtime_ns))
    before = inodes(dist)
    build(project, cache)
    # The variant's wheels are recalled together or written again together.
    assert set(inodes(dist).values()).isdisjoint(before.values())
    assert contents(dist) == data


def test_a_removed_wheel_is_written_again(built: tuple[Path, Path, str]) -> None:
    project, cache, _first = built
    dist = project / "dist"
    data = contents(dist)
    (wheel,) = dist.glob("*-x86_64_v1.whl")
    wheel.unlink()
    build(project, cache)
    assert contents(dist) == data


def test_an_altered_record_is_not_believed(built: tuple[Path, Path, str]) -> None:
    """A record vouches for audits: one changed by anybody without the user's key (here
    its audit, so that it would claim other instructions) is no record."""
    project, cache, _first = built
    dist = project / "dist"
    path = record_of(project)
    signature, _, body = path.read_bytes().partition(b"\n")
    doc = json.loads(body)
    doc["wheel"]["audit"]["binaries"][0]["instructions"] += 1
    path.write_bytes(signature + b"\n" + json.dumps(doc, separators=(",", ":")).encode())
    before = inodes(dist)
    build(project, cache)
    assert set(inodes(dist).values()).isdisjoint(before.values())


def test_a_record_signed_with_another_key_is_not_believed(
    built: tuple[Path, Path, str], tmp_path: Path
) -> None:
    """Another user's cache (another key): the records are not theirs to read."""
    project, _cache, _first = built
    dist = project / "dist"
    before = inodes(dist)
    build(project, tmp_path / "other-cache")
    assert set(inodes(dist).values()).isdisjoint(before.values())


def test_a_key_others_can_read_signs_nothing(built: tuple[Path, Path, str]) -> None:
    project, cache, _first = built
    dist = project / "dist"
    key = cache / "polywheel" / "keys" / "written-records"
    assert key.stat().st_mode & 0o777 == 0o600
    key.chmod(0o644)
    before = inodes(dist)
    build(project, cache)
    assert set(inodes(dist).values()).isdisjoint(before.values())
    assert not record_of(project).exists()  # and none is written with it


def test_the_wheels_of_a_recalled_build_are_checked(built: tuple[Path, Path, str]) -> None:
    """What the command checks at the end (conformance, RECORD hashes) still reads the
    wheels in the folder: a recalled wheel is verified like a written one."""
    project, cache, _first = built
    again = build(project, cache)
    check = next(line for line in again.splitlines() if line.startswith("check:"))
    assert check.startswith("check: 2 wheel(s)") and " 0 error(s)" in check
    for wheel in (project / "dist").glob("*.whl"):
        with zipfile.ZipFile(wheel) as zf:
            assert zf.testzip() is None
