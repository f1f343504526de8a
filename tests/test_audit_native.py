"""The audit's C scanner (audit/x86scan.c via audit/native.py) gives exactly what iced
alone gives: every count, every function, in the same order.

The scanner splits code into instructions in C and asks iced once per distinct
encoding; whatever it cannot vouch for goes to iced. These tests compare the two
paths on real libraries, crafted files and random bytes, check that the C path really
does the work (else the comparison is void), and check the compiled library's cache.
"""

from __future__ import annotations

import hashlib
import os
import random
import shutil
from array import array
from pathlib import Path
from typing import Any

import pytest
from hostile import Section, elf
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from test_audit_speed import LIBRARIES

from polywheel.audit import native, x86
from polywheel.audit.binary import NO_ALLOW, AuditAllow, BinaryAudit
from polywheel.audit.elf import open_elf

HAS_CC = any(shutil.which(c) for c in ("cc", "gcc", "clang"))
needs_cc = pytest.mark.skipif(not HAS_CC, reason="no C compiler to build the scanner")

FUZZ = settings(
    max_examples=int(os.environ.get("POLYWHEEL_FUZZ_EXAMPLES", "150")),
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)


@pytest.fixture(autouse=True)
def _scanner_for_any_size(monkeypatch: pytest.MonkeyPatch) -> None:
    # The audit looks for the scanner only from 1 MB of code on; these files are small.
    monkeypatch.setattr(x86, "_SCANNER_BYTES", 0)


def _audit(data: bytes, allow: AuditAllow = NO_ALLOW, jobs: int = 1) -> BinaryAudit:
    audit = BinaryAudit("lib.so", "x86_64")
    x86.decode_x86(open_elf(data), data, audit, allow, jobs)
    return audit


def _both(
    data: bytes, monkeypatch: pytest.MonkeyPatch, allow: AuditAllow = NO_ALLOW
) -> tuple[BinaryAudit, BinaryAudit]:
    assert native.scanner() is not None
    with_c = _audit(data, allow)
    with monkeypatch.context() as m:
        m.setattr(native, "scanner", lambda build=True: None)
        iced_only = _audit(data, allow)
    return with_c, iced_only


def _assert_identical(with_c: BinaryAudit, iced_only: BinaryAudit) -> None:
    # to_json() holds every count; the functions' order (most_common breaks ties by
    # first appearance) is compared too.
    assert with_c.to_json() == iced_only.to_json()
    for level, functions in with_c.functions.items():
        assert list(functions.items()) == list(iced_only.functions[level].items())
    assert list(with_c.allowed.items()) == list(iced_only.allowed.items())


def _left_to_iced(data: bytes) -> tuple[int, int]:
    """(regions, regions the C scanner left to iced) for the library `data`."""
    scanner = native.scanner()
    assert scanner is not None
    regions, _functions = x86._regions(open_elf(data), data)
    counted = scanner.count(data, regions.spans(), x86._is_noteworthy)
    assert counted is not None
    return len(regions), len(counted[2])


@needs_cc
def test_the_scanner_is_built_where_a_compiler_is() -> None:
    assert native.scanner() is not None


@needs_cc
@pytest.mark.skipif(not LIBRARIES, reason="no x86-64 system libraries found")
@pytest.mark.parametrize("library", LIBRARIES, ids=[p.name for p in LIBRARIES])
def test_identical_audits_on_real_libraries(library: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    data = library.read_bytes()
    with_c, iced_only = _both(data, monkeypatch)
    assert iced_only.instructions > 1000, "nothing decoded: the test is void"
    _assert_identical(with_c, iced_only)
    regions, left = _left_to_iced(data)
    assert left <= regions // 50, f"the C scanner left {left} of {regions} regions to iced"


@needs_cc
@pytest.mark.skipif(not LIBRARIES, reason="no x86-64 system libraries found")
def test_regions_waiting_for_new_encodings_are_counted_in_rounds(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """With no encoding known yet, a large library's regions wait for theirs to be
    learnt, more of them than the C code holds at once (HELD_MAX items): the scan stops,
    the encodings are learnt, the held regions are counted and the scan goes on, round
    after round, to the same counts as iced's and in the same order."""
    library = max(LIBRARIES, key=lambda p: p.stat().st_size)
    shared = native.scanner()
    assert shared is not None
    fresh = type(shared)(shared._lib)  # no encoding known
    rounds = []
    scan = fresh._scan

    def counted_scan(data: Any, spans: Any, again: bool, max_holes: int) -> int:
        rounds.append(again)
        return scan(data, spans, again, max_holes)

    monkeypatch.setattr(fresh, "_scan", counted_scan)
    monkeypatch.setattr(native, "scanner", lambda build=True: fresh)
    data = library.read_bytes()
    with_c = _audit(data)
    assert rounds.count(True) >= 2, f"{library.name}: {rounds}: the rounds were not tested"
    monkeypatch.setattr(native, "scanner", lambda build=True: None)
    _assert_identical(with_c, _audit(data))


@needs_cc
def test_identical_audits_with_allowed_functions(monkeypatch: pytest.MonkeyPatch) -> None:
    library = next((p for p in LIBRARIES if p.name.startswith("libc.")), None)
    if library is None:
        pytest.skip("no glibc here")
    allow = AuditAllow(functions=("*avx2*", "fn@0x1*"), sections=(".text.hot",))
    with_c, iced_only = _both(library.read_bytes(), monkeypatch, allow)
    assert iced_only.allowed, "nothing was allowed: the test is void"
    _assert_identical(with_c, iced_only)


@needs_cc
def test_identical_audits_in_several_processes(monkeypatch: pytest.MonkeyPatch) -> None:
    library = max(LIBRARIES, key=lambda p: p.stat().st_size, default=None)
    if library is None:
        pytest.skip("no x86-64 system libraries found")
    monkeypatch.setattr(x86, "_PARALLEL_MIN_BYTES", 0)
    data = library.read_bytes()
    one, three = _audit(data), _audit(data, jobs=3)
    _assert_identical(three, one)


# Instructions the C tables treat specially, and ones they leave to iced: moffs, imm64,
# enter, test's immediate, the F6/F7 group without one, branches with and without 66,
# VEX without ModRM (vzeroupper), VEX and EVEX with immediates, is4 registers
# (vpblendvb), gathers (VSIB), 3DNow!, XOP, an invalid LEA, prefixes after REX.
SPECIAL = [
    "48a10000000000000000",
    "67a100000000",
    "48b8efcdab8967452301",
    "66b83412",
    "c8100001",
    "f6c001",
    "f7c078563412",
    "66f7c03412",
    "f6d0",
    "f7d8",
    "e800000000",
    "66e80000",
    "0f8400000000",
    "c5f877",
    "c5fdc6c101",
    "c4e37d4cc530",
    "c4e37d4cc5f0",
    "62f17c4858c1",
    "62f37d4823c101",
    "62f27d49920c85",
    "c4e26990048d00000000",
    "0f0fc1b4",
    "8fe878c0c001",
    "8dc0",
    "4866c3",
    "f3480fb8c1",
    "0f01d0",
    "f30f1efa",
    "c7f800000000",
    "0f1f440000",
    "660f3a0fc108",
    "660f3800c1",
]


@needs_cc
@pytest.mark.parametrize("code", SPECIAL)
def test_identical_audits_on_special_encodings(code: str, monkeypatch: pytest.MonkeyPatch) -> None:
    instruction = bytes.fromhex(code)
    text = b"\x31\xc0" * 8 + instruction + b"\x90" * 4 + instruction + b"\xc3"
    data = elf([Section(".text", text)])
    with_c, iced_only = _both(data, monkeypatch)
    _assert_identical(with_c, iced_only)
    # What the C tables do not know, iced decodes for them, one instruction at a time:
    # the function is still counted in C.
    assert _left_to_iced(data) == (1, 0)


@needs_cc
def test_is4_register_bytes_are_counted_in_c(monkeypatch: pytest.MonkeyPatch) -> None:
    # vpblendvb ymm0, ymm0, ymm5, ymmN: iced calls the last byte a register, not a
    # constant; the C scanner counts it anyway once probes show the opcode ignores it.
    text = b"".join(bytes.fromhex("c4e37d4cc5") + bytes([n << 4]) for n in range(16))
    data = elf([Section(".text", text + b"\xc3")])
    with_c, iced_only = _both(data, monkeypatch)
    _assert_identical(with_c, iced_only)
    assert with_c.level == 3
    assert _left_to_iced(data) == (1, 0)


@needs_cc
def test_random_bytes_go_to_iced() -> None:
    # One encoding per few bytes, or an unknown instruction every few, is not real
    # code: learning or calling back for each would cost more than iced decoding them.
    data = random.Random(7).randbytes(1 << 18)
    scanner = native.scanner()
    assert scanner is not None
    for spans in (
        array("Q", [0, len(data)]),
        array("Q", [n for offset in range(0, len(data), 16) for n in (offset, 16)]),
    ):
        counted = scanner.count(data, spans, x86._is_noteworthy)
        # Either too many encodings (the file goes to iced) or too many calls back
        # (its regions go to iced): never the C path's own cost without bound.
        assert counted is None or counted[2]


@needs_cc
def test_calls_to_iced_are_bounded() -> None:
    # 3DNow! is left to iced: a few calls back are cheap, a file made of them would
    # cost far more through callbacks than iced decoding it, so past the budget its
    # regions go to iced whole.
    scanner = native.scanner()
    assert scanner is not None
    few, many = b"\x0f\x0f\xc1\xb4" * 1000, b"\x0f\x0f\xc1\xb4" * 20_000
    for data, left in ((few, []), (many, [0])):
        counted = scanner.count(data, array("Q", [0, len(data)]), x86._is_noteworthy)
        assert counted is not None
        assert counted[2] == left


@needs_cc
@FUZZ
@given(
    chunks=st.lists(
        st.one_of(st.binary(max_size=24), st.sampled_from([bytes.fromhex(c) for c in SPECIAL])),
        max_size=40,
    ),
    spans=st.lists(st.tuples(st.integers(0, 1200), st.integers(0, 1200)), min_size=1, max_size=6),
)
def test_fuzz_the_scanner_counts_what_iced_counts(
    chunks: list[bytes], spans: list[tuple[int, int]]
) -> None:
    """Any bytes, any regions (also past the end of the data, clamped as slicing
    clamps): the same totals and noteworthy counts as iced."""
    data = b"".join(chunks)
    scanner = native.scanner()
    assert scanner is not None
    regions = x86.Regions(
        [".text"],
        array("I", [0] * len(spans)),
        array("Q", [0x1000 + offset for offset, _size in spans]),
        array("Q", [size for _offset, size in spans]),
        array("Q", [offset for offset, _size in spans]),
    )
    counted = scanner.count(data, regions.spans(), x86._is_noteworthy)
    if counted is None:
        return  # too many encodings for the bytes: iced decodes the file
    total, runs, fallback = counted
    iced_total, _found = x86._iced_counts(data, regions)
    kept = [i for i in range(len(spans)) if i not in set(fallback)]
    kept_total, kept_found = x86._iced_counts(data, regions.pick(kept))
    assert total == kept_total
    assert sorted(t for run in runs for t in run) == sorted(
        (kept[i], code, count) for i, code, count in kept_found
    )
    assert sum(iced_total.values()) >= sum(total.values())


def _cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    source = native._SOURCE.read_bytes()
    name = hashlib.sha256(source + native._machine().encode()).hexdigest()[:16]
    return tmp_path / "polywheel" / "audit-decoder" / name / native._LIBRARY


@needs_cc
def test_a_damaged_cached_scanner_is_built_again(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    library = _cache(tmp_path, monkeypatch)
    assert native._library_path() == library
    good = library.read_bytes()
    library.write_bytes(good[: len(good) // 2])  # as a crash or a full disk would leave it
    assert native._library_path() == library
    assert hashlib.sha256(library.read_bytes()).hexdigest() == (
        library.with_name(native._LIBRARY + ".sha256").read_text().strip()
    )
    assert not [p for p in library.parent.iterdir() if p.name.startswith(".build-")]


def test_without_a_compiler_the_audit_uses_iced(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _cache(tmp_path, monkeypatch)
    monkeypatch.setattr(shutil, "which", lambda _name: None)
    assert native._library_path() is None


def test_iced_can_be_asked_for(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("POLYWHEEL_AUDIT_DECODER", "iced")
    monkeypatch.setattr(native, "_decided", {})
    assert native.scanner() is None


@needs_cc
def test_the_scanner_is_built_only_for_enough_code(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Compiling costs what iced takes for about 8 MB: a small wheel's audit (every
    # build audits its wheels) never waits for the compiler.
    library = _cache(tmp_path, monkeypatch)
    monkeypatch.setattr(native, "_decided", {})
    monkeypatch.setattr(native, "_not_built", [])
    monkeypatch.setattr(x86, "_decoded_by_iced", [0])
    small = elf([Section(".text", b"\x31\xc0" * 1000 + b"\xc3")])
    _audit(small)
    assert not library.exists()
    assert x86._decoded_by_iced == [2001]
    monkeypatch.setattr(x86, "_BUILD_SCANNER_BYTES", 4000)  # so far 2001 bytes, now 4002
    _audit(small)
    assert library.is_file()
    assert native.scanner(build=False) is not None


@needs_cc
@pytest.mark.skipif(not hasattr(os, "getuid"), reason="POSIX ownership")
def test_a_scanner_others_can_write_is_never_loaded(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    library = _cache(tmp_path, monkeypatch)
    assert native._library_path() == library
    library.chmod(0o777)  # as in a shared /tmp folder another user prepared
    assert native._library_path() is None
    library.chmod(0o755)
    library.parent.chmod(0o777)
    assert native._library_path(build=False) is None
    library.parent.chmod(0o755)
    assert native._library_path(build=False) == library
