"""The fast x86 decoder gives the same verdicts as the reference decoder it replaced.

The reference (tests/audit_reference.py) sweeps every executable section one Python
step per instruction; the fast one decodes function by function with C loops. They
must agree on what a verdict is made of: the level, the features of every level above
v1, the features outside the levels, and which functions hold them. Speed itself is
measured in benchmarks/, not here.
"""

from __future__ import annotations

import io
import sys
from pathlib import Path

import pytest
from audit_reference import decode_x86_reference
from hostile import V1_CODE, V3_CODE, Section, elf

from polywheel.audit.binary import NO_ALLOW, AuditAllow, BinaryAudit
from polywheel.audit.elf import open_elf
from polywheel.audit.x86 import decode_x86
from polywheel.namespaces.x86_64 import LEVEL_FEATURES

ABOVE_V1 = set().union(*(LEVEL_FEATURES[level] for level in (2, 3, 4)))


def _system_libraries() -> list[Path]:
    """Real libraries of this machine: glibc, libstdc++, the interpreter, iced itself."""
    import iced_x86

    candidates = [
        Path("/usr/lib/x86_64-linux-gnu/libc.so.6"),
        Path("/usr/lib/x86_64-linux-gnu/libstdc++.so.6"),
        Path("/usr/lib/x86_64-linux-gnu/libm.so.6"),
        *Path(iced_x86.__file__).parent.glob("*.so"),
        *Path(sys.base_prefix, "lib").glob("libpython3*.so*"),
    ]
    return [
        p
        for p in candidates
        if p.is_file() and p.stat().st_size > 100_000 and p.read_bytes()[:4] == b"\x7fELF"
    ]


def _pyelftools(data: bytes) -> object:
    """The reference reads the file with pyelftools, as it did when it was the audit."""
    from elftools.elf.elffile import ELFFile

    return ELFFile(io.BytesIO(data))


def _both(data: bytes, allow: AuditAllow = NO_ALLOW) -> tuple[BinaryAudit, BinaryAudit]:
    fast, reference = BinaryAudit("lib.so", "x86_64"), BinaryAudit("lib.so", "x86_64")
    decode_x86(open_elf(data), data, fast, allow)
    decode_x86_reference(_pyelftools(data), reference, allow)
    return fast, reference


def _assert_same_verdict(fast: BinaryAudit, reference: BinaryAudit) -> None:
    assert fast.level == reference.level
    assert fast.allowed_level == reference.allowed_level
    assert dict(fast.other) == dict(reference.other)
    for feature in ABOVE_V1:
        assert fast.features[feature] == reference.features[feature], feature
    assert {k: dict(v) for k, v in fast.functions.items()} == {
        k: dict(v) for k, v in reference.functions.items()
    }
    assert dict(fast.allowed) == dict(reference.allowed)
    # Function-by-function decoding may resynchronise differently in padding between
    # functions; the total may differ by a few baseline instructions, never more.
    assert abs(fast.instructions - reference.instructions) <= max(
        10, reference.instructions // 10_000
    )


LIBRARIES = _system_libraries()


@pytest.mark.skipif(not LIBRARIES, reason="no x86-64 system libraries found")
@pytest.mark.parametrize("library", LIBRARIES, ids=[p.name for p in LIBRARIES])
def test_same_verdict_on_real_libraries(library: Path) -> None:
    fast, reference = _both(library.read_bytes())
    assert reference.instructions > 1000, "the reference decoded nothing: the test is void"
    _assert_same_verdict(fast, reference)


def test_same_verdict_with_allowed_functions() -> None:
    library = next((p for p in LIBRARIES if p.name.startswith("libc.")), None)
    if library is None:
        pytest.skip("no glibc here")
    # glibc's AVX2 string functions are local symbols, stripped: they are named by
    # address, and half of the address space is allowed here.
    allow = AuditAllow(functions=("*avx2*", "fn@0x1*"), sections=(".text.hot",))
    fast, reference = _both(library.read_bytes(), allow)
    assert reference.allowed, "nothing was allowed: the test is void"
    _assert_same_verdict(fast, reference)


@pytest.mark.parametrize(
    "binary",
    [
        elf([Section(".text", V1_CODE * 50 + V3_CODE + V1_CODE * 50)]),
        elf([Section(".text", V3_CODE), Section(".text.b", V1_CODE, addr=0x9000)]),
        elf([Section("", V3_CODE if i % 7 else V1_CODE, addr=0x1000 + 16 * i) for i in range(200)]),
    ],
    ids=["one section", "two sections", "200 sections"],
)
def test_same_verdict_on_crafted_files(binary: bytes) -> None:
    fast, reference = _both(binary)
    _assert_same_verdict(fast, reference)
    assert fast.instructions == reference.instructions


def test_decoding_in_several_processes_gives_the_same_counts(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from polywheel.audit import x86

    library = max(LIBRARIES, key=lambda p: p.stat().st_size, default=None)
    if library is None:
        pytest.skip("no x86-64 system libraries found")
    monkeypatch.setattr(x86, "_PARALLEL_MIN_BYTES", 0)  # split even a small library
    data = library.read_bytes()
    one, three = BinaryAudit("lib.so", "x86_64"), BinaryAudit("lib.so", "x86_64")
    decode_x86(open_elf(data), data, one, NO_ALLOW, jobs=1)
    decode_x86(open_elf(data), data, three, NO_ALLOW, jobs=3)
    assert one.instructions > 1000
    assert (one.instructions, one.level, dict(one.features), dict(one.other)) == (
        three.instructions,
        three.level,
        dict(three.features),
        dict(three.other),
    )
    assert {k: dict(v) for k, v in one.functions.items()} == {
        k: dict(v) for k, v in three.functions.items()
    }


def test_a_wheel_of_many_libraries_audited_in_several_processes(tmp_path: Path) -> None:
    """With -j, the libraries of a wheel are shared out between processes (the
    largest decoded in all of them): the report is the same, in the wheel's order."""
    from hostile import wheel

    from polywheel.audit.wheel import audit_wheel

    libraries = [(f"demo/lib{i}.so", p.read_bytes()) for i, p in enumerate(LIBRARIES)]
    crafted = [
        (f"demo/small{i}.so", elf([Section(".text", V3_CODE if i % 2 else V1_CODE)]))
        for i in range(5)
    ]
    payload = [("demo/__init__.py", b""), *crafted[:2], *libraries, *crafted[2:]]
    if len(libraries) < 2:
        pytest.skip("fewer than two x86-64 system libraries found")
    path = wheel(tmp_path, payload=payload)
    one = audit_wheel(path, jobs=1).to_json()
    for jobs in (2, 3):
        assert audit_wheel(path, jobs=jobs).to_json() == one
    names = [b["name"] for b in one["binaries"]]
    assert names == [name for name, _data in payload[1:]]


def test_a_wheel_cut_short_is_refused_by_the_process_that_reads_it(tmp_path: Path) -> None:
    from hostile import wheel

    from polywheel.audit.wheel import audit_wheel
    from polywheel.errors import WheelFormatError

    payload = [(f"demo/small{i}.so", elf([Section(".text", V1_CODE * 400)])) for i in range(4)]
    path = wheel(tmp_path, payload=payload)
    audit_wheel(path, jobs=2)
    raw = bytearray(path.read_bytes())
    # The last library's compressed bytes lie: it inflates to less than it claims.
    at = raw.find(b"demo/small3.so") + len("demo/small3.so")
    raw[at : at + 40] = bytes(40)
    path.write_bytes(bytes(raw))
    for jobs in (1, 2):
        with pytest.raises(WheelFormatError, match=r"small3\.so cannot be read"):
            audit_wheel(path, jobs=jobs)


def test_the_audit_lets_go_of_a_library_when_done() -> None:
    """pyelftools' objects form reference cycles; the audit must not keep the library's
    buffer exported after it returns, or every library of a wheel stays in memory until
    a garbage collection (a bytearray with an exported view cannot be resized)."""
    from polywheel.audit.wheel import audit_binary

    data = bytearray(elf([Section(".text", V3_CODE), Section(".eh_frame", bytes(24), flags=2)]))
    assert audit_binary("lib.so", data) is not None
    data.extend(b"\x00")  # BufferError while a view of it is still alive
    refused = bytearray(elf([Section(".text", V3_CODE, offset=1 << 40)]))
    result = audit_binary("bad.so", refused)
    assert result is not None and result.problem
    refused.extend(b"\x00")
