"""Property-based fuzzing of the readers that take untrusted bytes: the wheel reader,
the JSON parser and variant.json rules, and the ELF and fat-binary decoders.

The property is the same everywhere: any input is answered with a result or a
polywheel error, never another exception, and in bounded time. Example counts are
fixed so the suite stays fast on CI; no example database is written.
"""

from __future__ import annotations

import contextlib
import io
import os
import struct
import sys
import time
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from polywheel.audit.wheel import audit_binary, judge
from polywheel.conformance.files import check_paths
from polywheel.conformance.rules import document_problems
from polywheel.errors import PolywheelError
from polywheel.wheel.reader import WheelLimits, inspect_wheel
from polywheel.wheel.variant_json import check_variant_json, parse_document

sys.path.insert(0, str(Path(__file__).parent.parent))
import hostile

# Raise for a long local run: POLYWHEEL_FUZZ_EXAMPLES=20000 python -m pytest tests/unit/test_fuzz.py
FUZZ = settings(
    max_examples=int(os.environ.get("POLYWHEEL_FUZZ_EXAMPLES", "300")),
    deadline=None,  # each example's time is bounded below, by what the issue asks
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
# The bound is one second for a hostile wheel; CI machines are shared, so the
# bound per example is twice that (the first example imports the decoders first).
SECONDS_PER_EXAMPLE = 2.0


class _Timed:
    def __enter__(self) -> None:
        self.start = time.process_time()

    def __exit__(self, *exc: object) -> None:
        spent = time.process_time() - self.start
        assert spent < SECONDS_PER_EXAMPLE, f"{spent:.2f} s of CPU for one input"


# --- JSON and the variant.json rules --------------------------------------------------------

_names = st.sampled_from(
    ["variants", "default-priorities", "providers", "namespace", "feature", "property",
     "$schema", "x86_64", "level", "nvidia", "sm_arch", "requires", "static-properties",
     "enable-if", "null", "x86_64_v3", "", "../x", "a\x00b", "\x1b[2J"]
)  # fmt: skip
_scalars = st.one_of(
    st.none(), st.booleans(), st.integers(), st.floats(allow_nan=False), st.text(max_size=20),
    _names,
)  # fmt: skip
_json = st.recursive(
    _scalars,
    lambda inner: st.one_of(
        st.lists(inner, max_size=4),
        st.dictionaries(_names | st.text(max_size=8), inner, max_size=5),
    ),
    max_leaves=40,
)


@FUZZ
@given(_json, st.one_of(st.none(), _names))
def test_document_rules_answer_any_json(doc: Any, label: str | None) -> None:
    with _Timed():
        problems = document_problems(doc, expected_label=label)
        assert all(p.severity in ("E", "W") for p in problems)
        with contextlib.suppress(PolywheelError):
            check_variant_json(doc, "fuzz", expected_label=label)


@FUZZ
@given(st.binary(max_size=400) | _json.map(lambda d: repr(d).encode()))
def test_parse_document_answers_any_bytes(raw: bytes) -> None:
    with _Timed(), contextlib.suppress(PolywheelError):
        parse_document(raw, "fuzz")


@FUZZ
@given(st.integers(min_value=1, max_value=200_000), st.sampled_from(["[", '{"a":']))
def test_parse_document_bounds_nesting(depth: int, opener: str) -> None:
    closer = "]" if opener == "[" else "}"
    with _Timed():
        try:
            parse_document((opener * depth + "1" + closer * depth).encode(), "fuzz")
        except PolywheelError as exc:
            assert "deeper than" in exc.message or "over the limit" in exc.message
        else:
            assert depth <= 16


# --- the wheel reader -----------------------------------------------------------------------

DIST_INFO = "demo-1.0.dist-info"
_member_names = st.one_of(
    st.sampled_from(
        [
            f"{DIST_INFO}/METADATA",
            f"{DIST_INFO}/WHEEL",
            f"{DIST_INFO}/RECORD",
            f"{DIST_INFO}/variant.json",
            "demo/__init__.py",
            "demo/_core.so",
            "../x",
            "/abs",
            "a\\b",
            "a//b",
            "./a",
            "other-1.0.dist-info/RECORD",
            "demo/\x1b[31m",
            "C:/x",
            f"{DIST_INFO}/",
            "demo/",
        ]
    ),
    st.text(max_size=12),
)
_contents = st.one_of(
    st.binary(max_size=200),
    st.just(b"Metadata-Version: 2.1\nName: demo\nVersion: 1.0\n"),
    _json.map(lambda d: repr(d).encode()),
    st.just(b"\x7fELF" + bytes(60)),
)


@FUZZ
@given(st.lists(st.tuples(_member_names, _contents), max_size=8), st.booleans())
def test_reader_and_check_answer_any_archive(
    tmp_path_factory: pytest.TempPathFactory, members: list[tuple[str, bytes]], labelled: bool
) -> None:
    folder = tmp_path_factory.mktemp("fuzz")
    name = "demo-1.0-cp312-cp312-linux_x86_64" + ("-x86_64_v3" if labelled else "") + ".whl"
    path = folder / name
    hostile.raw_zip(path, members, [])  # by hand: any name, NUL and duplicates included
    limits = WheelLimits(max_member_size=1 << 16, max_total_size=1 << 18)
    with _Timed():
        reader, problems = inspect_wheel(path, limits)
        if reader is None:
            assert problems
        else:
            with reader, contextlib.suppress(PolywheelError):
                reader.variant_json()
        for finding in check_paths([path]):
            assert finding.problem.severity in ("E", "W")
            assert str(finding).isprintable()


@FUZZ
@given(st.binary(max_size=300))
def test_reader_answers_any_bytes(tmp_path_factory: pytest.TempPathFactory, data: bytes) -> None:
    path = tmp_path_factory.mktemp("fuzz") / "demo-1.0-cp312-cp312-linux_x86_64.whl"
    path.write_bytes(b"PK\x03\x04" + data if data[:1] == b"P" else data)
    with _Timed():
        reader, _problems = inspect_wheel(path)
        if reader is not None:
            reader.close()


# --- the ELF and fat-binary decoders ---------------------------------------------------------

_BASE_ELF = hostile.elf(
    [
        hostile.Section(".text", hostile.V3_CODE + hostile.V1_CODE),
        hostile.Section(
            ".nv_fatbin",
            hostile.fatbin([hostile.fatbin_entry(2, 90, b"x" * 16), hostile.fatbin_entry(1, 90)]),
            flags=2,
        ),
        hostile.Section(".eh_frame", bytes(24), flags=2),
    ]
)


def _audit_any(data: bytes) -> None:
    with _Timed():
        result = audit_binary("fuzz.so", data)
        if result is not None:
            judge("fuzz.whl", [result], None)


@FUZZ
@given(st.lists(st.tuples(st.integers(0, len(_BASE_ELF) - 1), st.integers(0, 255)), max_size=12))
def test_audit_answers_any_corrupted_elf(edits: list[tuple[int, int]]) -> None:
    data = bytearray(_BASE_ELF)
    for offset, value in edits:
        data[offset] = value
    _audit_any(bytes(data))


_HEADER_FIELDS = [(0x20, "<Q"), (0x28, "<Q"), (0x3A, "<H"), (0x3C, "<H"), (0x3E, "<H")]


@FUZZ
@given(st.lists(st.tuples(st.sampled_from(_HEADER_FIELDS), st.integers(0, 2**64 - 1)), max_size=4))
def test_audit_answers_any_section_table(fields: list[tuple[tuple[int, str], int]]) -> None:
    """The header fields that place the section table: offset, count, entry size, names."""
    data = bytearray(_BASE_ELF)
    for (offset, fmt), value in fields:
        struct.pack_into(fmt, data, offset, value % (1 << (8 * struct.calcsize(fmt))))
    _audit_any(bytes(data))


@FUZZ
@given(st.binary(max_size=600), st.sampled_from([2, 2 | 0x800]), st.sampled_from([1, 8]))
def test_audit_answers_any_fatbin(payload: bytes, flags: int, kind: int) -> None:
    section = hostile.Section(".nv_fatbin", payload, flags=flags, type=kind)
    _audit_any(hostile.elf([hostile.Section(".text", hostile.V1_CODE), section]))


@FUZZ
@given(st.lists(st.tuples(st.sampled_from([1, 2, 3]), st.integers(0, 200), st.integers(0, 1 << 63),
                          st.integers(0, 200)), max_size=6))  # fmt: skip
def test_fatbin_reader_answers_any_entry_sizes(entries: list[tuple[int, int, int, int]]) -> None:
    parts = [
        hostile.fatbin_entry(kind, arch, b"\x00" * 8, header=header, size=size)
        for kind, header, size, arch in entries
    ]
    blob = hostile.fatbin(parts) * 2
    _audit_any(hostile.elf([hostile.Section(".nv_fatbin", blob, flags=2)]))


def test_the_base_elf_decodes() -> None:
    """The fuzzers start from a file the decoders read whole (else they test nothing)."""
    result = audit_binary("base.so", _BASE_ELF)
    assert result is not None and result.problem is None
    assert result.level == 3 and result.sass == {90} and 90 in result.ptx
    assert io.BytesIO(_BASE_ELF).read(4) == b"\x7fELF"
