"""The one wheel reader (validate first, then read by exact name) and the one writer."""

from __future__ import annotations

import json
import stat
import warnings
import zipfile
from collections.abc import Sequence
from pathlib import Path

import pytest
from wheel.wheelfile import WheelFile

from polywheel.errors import WheelFormatError
from polywheel.properties import VariantProperty
from polywheel.wheel.metadata import add_requires
from polywheel.wheel.reader import (
    WheelLimits,
    inspect_wheel,
    open_wheel,
    read_index_file,
)
from polywheel.wheel.variant_json import MAX_DEPTH, dumps, make_variant_json
from polywheel.wheel.writer import finalize_wheel, record_hash
from polywheel.wheel.zipout import ZipOut

NAME = "pkg-1.0-cp311-cp311-linux_x86_64.whl"
DIST_INFO = "pkg-1.0.dist-info"
METADATA = b"Metadata-Version: 2.1\nName: pkg\nVersion: 1.0\n"
GOOD: list[tuple[str, bytes]] = [
    ("pkg/__init__.py", b"VALUE = 1\n"),
    (f"{DIST_INFO}/METADATA", METADATA),
    (f"{DIST_INFO}/WHEEL", b"Wheel-Version: 1.0\nRoot-Is-Purelib: false\n"),
    (f"{DIST_INFO}/RECORD", b""),
]
Member = tuple[str | zipfile.ZipInfo, bytes]


def make_zip(path: Path, members: list[Member], compression: int = zipfile.ZIP_DEFLATED) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # zipfile warns about duplicate names
        with zipfile.ZipFile(path, "w", compression) as zf:
            for name, data in members:
                zf.writestr(name, data)
    return path


def good_wheel(folder: Path, extra: Sequence[Member] = (), name: str = NAME) -> Path:
    return make_zip(folder / name, [*GOOD, *extra])


def variant_doc(label: str = "x86_64_v3") -> bytes:
    doc = make_variant_json(
        {label: [VariantProperty("x86_64", "level", "v3")]},
        ["x86_64"],
        {"x86_64": {"requires": ["x86-64-variant-provider"]}},
        "variantlib",
    )
    return dumps(doc)


# --- the reader accepts a good wheel ----------------------------------------------------


def test_open_good_wheel(tmp_path: Path) -> None:
    with open_wheel(good_wheel(tmp_path)) as reader:
        assert reader.name.distribution == "pkg"
        assert reader.name.version == "1.0"
        assert reader.name.label is None
        assert reader.dist_info == DIST_INFO
        assert reader.has("pkg/__init__.py")
        assert not reader.has("pkg")
        assert reader.read("pkg/__init__.py") == b"VALUE = 1\n"
        assert reader.dist_info_file("METADATA") == METADATA
        assert reader.dist_info_file("entry_points.txt") is None
        assert reader.variant_json() is None
        assert not reader.is_pure


def test_inspect_good_wheel_with_directory_entries(tmp_path: Path) -> None:
    path = good_wheel(tmp_path, [("pkg/", b""), (f"{DIST_INFO}/", b"")])
    reader, problems = inspect_wheel(path)
    assert problems == []
    assert reader is not None
    with reader:
        assert "pkg/" not in {i.filename for i in reader.files}


def test_pure_wheel(tmp_path: Path) -> None:
    with open_wheel(good_wheel(tmp_path, name="pkg-1.0-py3-none-any.whl")) as reader:
        assert reader.is_pure


# --- the reader refuses bad archives ----------------------------------------------------


def symlink(name: str) -> zipfile.ZipInfo:
    info = zipfile.ZipInfo(name)
    info.external_attr = 0o120777 << 16
    return info


def fifo(name: str) -> zipfile.ZipInfo:
    info = zipfile.ZipInfo(name)
    info.external_attr = (stat.S_IFIFO | 0o644) << 16
    return info


def regular(name: str, mode: int) -> zipfile.ZipInfo:
    info = zipfile.ZipInfo(name)
    info.external_attr = (stat.S_IFREG | mode) << 16
    return info


ZEROS = b"\0" * (2 << 20)
ELF = b"\x7fELF"
BAD_ARCHIVES: list[tuple[str, list[Member], WheelLimits, int, str]] = [
    ("dotdot", [("../x", b"")], WheelLimits(), 0, "leaves or names"),
    ("dotdot-inside", [("pkg/../../x", b"")], WheelLimits(), 0, "leaves or names"),
    ("dot", [("pkg/./x", b"")], WheelLimits(), 0, "leaves or names"),
    ("empty-part", [("pkg//x", b"")], WheelLimits(), 0, "leaves or names"),
    ("drive", [("c:/x", b"")], WheelLimits(), 0, "leaves or names"),
    ("absolute", [("/abs", b"")], WheelLimits(), 0, "not a relative path"),
    ("backslash", [("a\\b", b"")], WheelLimits(), 0, "not a relative path"),
    ("duplicate", [("pkg/__init__.py", b"again")], WheelLimits(), 0, "appears twice"),
    ("duplicate-dir", [("pkg/__init__.py/", b"")], WheelLimits(), 0, "appears twice"),
    ("symlink", [(symlink("pkg/link"), b"/etc/passwd")], WheelLimits(), 0, "symlink"),
    ("fifo", [(fifo("pkg/pipe"), b"")], WheelLimits(), 0, "not a regular file"),
    (
        "second-dist-info",
        [("other-1.0.dist-info/METADATA", b"")],
        WheelLimits(),
        7,
        "must be pkg-1.0.dist-info",
    ),
    (
        "labelled-dist-info",
        [("pkg-1.0-x86_64_v3.dist-info/METADATA", b"")],
        WheelLimits(),
        7,
        "must be pkg-1.0.dist-info",
    ),
    ("member-size", [("pkg/big.bin", b"x" * 100)], WheelLimits(max_member_size=99), 0, "over 99"),
    ("ratio", [("pkg/zeros.bin", ZEROS)], WheelLimits(max_ratio=10), 0, "compresses more"),
    ("members", [], WheelLimits(max_members=2), 0, "4 members, over the limit of 2"),
    ("total-size", [("pkg/a.bin", b"x" * 200)], WheelLimits(max_total_size=200), 0, "over 200"),
]


@pytest.mark.parametrize(
    ("extra", "limits", "rule", "fragment"),
    [case[1:] for case in BAD_ARCHIVES],
    ids=[case[0] for case in BAD_ARCHIVES],
)
def test_bad_archive(
    tmp_path: Path, extra: list[Member], limits: WheelLimits, rule: int, fragment: str
) -> None:
    path = good_wheel(tmp_path, extra)
    reader, problems = inspect_wheel(path, limits)
    assert reader is None
    assert len(problems) == 1
    assert problems[0].rule == rule
    assert problems[0].severity == "E"
    assert fragment in problems[0].message
    with pytest.raises(WheelFormatError) as exc:
        open_wheel(path, limits)
    assert f"E{rule}:" in exc.value.message
    assert exc.value.message.startswith(NAME)


def test_dist_info_named_differently_from_the_filename(tmp_path: Path) -> None:
    members = [(n.replace(DIST_INFO, "pkg-2.0.dist-info"), d) for n, d in GOOD]
    reader, problems = inspect_wheel(make_zip(tmp_path / NAME, members))
    assert reader is None
    assert [p.rule for p in problems] == [7]
    assert "pkg-2.0.dist-info" in problems[0].message


def test_no_dist_info(tmp_path: Path) -> None:
    reader, problems = inspect_wheel(make_zip(tmp_path / NAME, [("pkg/__init__.py", b"")]))
    assert reader is None
    assert [p.rule for p in problems] == [7]


def test_stored_zeros_are_not_a_ratio_problem(tmp_path: Path) -> None:
    path = make_zip(tmp_path / NAME, [*GOOD, ("pkg/zeros.bin", ZEROS)], zipfile.ZIP_STORED)
    reader, problems = inspect_wheel(path, WheelLimits(max_ratio=10))
    assert problems == []
    assert reader is not None
    reader.close()


def test_limits_are_inclusive(tmp_path: Path) -> None:
    path = good_wheel(tmp_path, [("pkg/big.bin", b"x" * 100)])
    reader, problems = inspect_wheel(path, WheelLimits(max_member_size=100, max_members=5))
    assert problems == []
    assert reader is not None
    reader.close()


@pytest.mark.parametrize(
    ("filename", "rule"),
    [
        ("pkg-1.0.whl", 1),
        ("pkg-1.0-cp311-cp311-linux_x86_64.zip", 1),
        ("pkg-1.0-1-2-cp311-cp311-linux_x86_64-x-y.whl", 1),
        ("pkg-1.0-311-cp311-linux_x86_64.whl", 2),
        ("pkg-1.0-cp311-cp311-linux_x86_64-X86.whl", 3),
        ("pkg-1.0-cp311-cp311-linux_x86_64-v+3.whl", 3),
    ],
)
def test_bad_filename(tmp_path: Path, filename: str, rule: int) -> None:
    path = make_zip(tmp_path / filename, GOOD)
    reader, problems = inspect_wheel(path)
    assert reader is None
    assert [p.rule for p in problems] == [rule]
    with pytest.raises(WheelFormatError, match=f"E{rule}:"):
        open_wheel(path)


def test_not_a_zip(tmp_path: Path) -> None:
    path = tmp_path / NAME
    path.write_bytes(b"not a zip file")
    reader, problems = inspect_wheel(path)
    assert reader is None
    assert [(p.rule, p.severity) for p in problems] == [(0, "E")]
    assert "not a zip archive" in problems[0].message


def test_labelled_wheel_name(tmp_path: Path) -> None:
    name = "pkg-1.0-cp311-cp311-linux_x86_64-x86_64_v3.whl"
    path = good_wheel(tmp_path, [(f"{DIST_INFO}/variant.json", variant_doc())], name=name)
    with open_wheel(path) as reader:
        assert reader.name.label == "x86_64_v3"
        assert reader.dist_info == DIST_INFO


# --- variant.json -----------------------------------------------------------------------


def test_variant_json_read_at_the_dist_info_only(tmp_path: Path) -> None:
    decoy = json.dumps({"decoy": True}).encode()
    path = good_wheel(
        tmp_path,
        [
            ("other/variant.json", decoy),
            ("pkg/variant.json", decoy),
            (f"{DIST_INFO}/sub/variant.json", decoy),
            (f"{DIST_INFO}/variant.json", variant_doc()),
        ],
    )
    with open_wheel(path) as reader:
        assert reader.variant_json() == json.loads(variant_doc())


def test_decoy_variant_json_is_ignored(tmp_path: Path) -> None:
    path = good_wheel(tmp_path, [("other/variant.json", variant_doc())])
    with open_wheel(path) as reader:
        assert reader.variant_json() is None


@pytest.mark.parametrize(
    ("data", "fragment"),
    [
        (b"[" * 10_000 + b"]" * 10_000, "nests deeper than"),
        (b'{"a":' * 10_000 + b"1" + b"}" * 10_000, "nests deeper than"),
        (b"[" * (MAX_DEPTH + 1) + b"]" * (MAX_DEPTH + 1), "nests deeper than"),
        (b'{"x": "\xff\xfe"}', "is not UTF-8"),
        (b"\xef\xbb\xbf{}", "is not JSON"),  # a BOM is not JSON
        (b"{", "is not JSON"),
        (b"", "is not JSON"),
        (b'{"a": NaN', "is not JSON"),
    ],
)
def test_bad_variant_json(tmp_path: Path, data: bytes, fragment: str) -> None:
    path = good_wheel(tmp_path, [(f"{DIST_INFO}/variant.json", data)])
    with open_wheel(path) as reader, pytest.raises(WheelFormatError) as exc:
        reader.variant_json()
    assert fragment in exc.value.message
    assert "variant.json" in exc.value.message


def test_nesting_up_to_the_limit_is_read(tmp_path: Path) -> None:
    data = b"[" * MAX_DEPTH + b"]" * MAX_DEPTH
    path = good_wheel(tmp_path, [(f"{DIST_INFO}/variant.json", data)])
    with open_wheel(path) as reader:
        assert reader.variant_json() is not None


def test_brackets_inside_strings_do_not_count_as_nesting(tmp_path: Path) -> None:
    text = json.dumps({"a": "[" * 100, "b": '\\"[{' * 50})
    path = good_wheel(tmp_path, [(f"{DIST_INFO}/variant.json", text.encode())])
    with open_wheel(path) as reader:
        assert reader.variant_json() == json.loads(text)


def test_variant_json_size_is_bounded(tmp_path: Path) -> None:
    path = good_wheel(tmp_path, [(f"{DIST_INFO}/variant.json", b" " * 101 + b"{}")])
    limits = WheelLimits(max_variant_json_size=100)
    with (
        open_wheel(path, limits) as reader,
        pytest.raises(WheelFormatError, match="over the limit"),
    ):
        reader.variant_json()


def test_metadata_size_is_bounded(tmp_path: Path) -> None:
    with open_wheel(good_wheel(tmp_path), WheelLimits(max_metadata_size=10)) as reader:
        with pytest.raises(WheelFormatError, match="METADATA is"):
            reader.dist_info_file("METADATA")
        assert reader.read("pkg/__init__.py") == b"VALUE = 1\n"


def test_read_index_file(tmp_path: Path) -> None:
    path = tmp_path / "pkg-1.0-variants.json"
    path.write_bytes(b'{"variants": {}}')
    assert read_index_file(path) == {"variants": {}}
    assert read_index_file(path, WheelLimits(max_index_size=16)) == {"variants": {}}
    with pytest.raises(WheelFormatError, match="larger than 15 bytes"):
        read_index_file(path, WheelLimits(max_index_size=15))


@pytest.mark.parametrize(
    ("data", "fragment"),
    [(b"[" * 10_000, "nests deeper"), (b"\xff", "not UTF-8"), (b"nope", "not JSON")],
)
def test_bad_index_file(tmp_path: Path, data: bytes, fragment: str) -> None:
    path = tmp_path / "pkg-1.0-variants.json"
    path.write_bytes(data)
    with pytest.raises(WheelFormatError, match=fragment):
        read_index_file(path)


# --- the writer -------------------------------------------------------------------------


def raw_wheel(folder: Path, extra: Sequence[Member] = (), name: str = NAME) -> Path:
    """What scikit-build-core writes: shuffled order, odd modes, a stale RECORD."""
    members: list[Member] = [
        (f"{DIST_INFO}/WHEEL", b"Wheel-Version: 1.0\nRoot-Is-Purelib: false\n"),
        (regular("pkg/tool", 0o775), b"#!/bin/sh\n"),
        (f"{DIST_INFO}/RECORD", b"stale,,\n"),
        (regular("pkg/__init__.py", 0o600), b"VALUE = 1\n"),
        (f"{DIST_INFO}/METADATA", METADATA + b"Requires-Dist: numpy\n\nDescription.\n"),
        ("pkg/_core.so", ELF),
        (f"{DIST_INFO}/licenses/LICENSE", b"MIT\n"),
        *extra,
    ]
    return make_zip(folder / name, members)


def finalize(
    tmp_path: Path, out: str = "out", label: str | None = "x86_64_v3", requires: Sequence[str] = ()
) -> Path:
    raw = raw_wheel(tmp_path / "raw")
    body = variant_doc(label) if label else None
    return finalize_wheel(raw, tmp_path / out, label=label, variant_json=body, requires=requires)


def test_finalized_wheel_passes_record_verification(tmp_path: Path) -> None:
    wheel = finalize(tmp_path, requires=["scipy>=1"])
    assert wheel.name == "pkg-1.0-cp311-cp311-linux_x86_64-x86_64_v3.whl"
    with WheelFile(wheel) as wf:
        contents = {name: wf.read(name) for name in wf.namelist()}
    assert contents[f"{DIST_INFO}/variant.json"] == variant_doc()
    record = contents[f"{DIST_INFO}/RECORD"].decode().splitlines()
    assert record[-1] == f"{DIST_INFO}/RECORD,,"
    assert "stale,," not in record
    assert f"pkg/_core.so,{record_hash(ELF)},4" in record
    assert len(record) == len(contents)
    # Our own reader accepts it too.
    with open_wheel(wheel) as reader:
        assert reader.variant_json() == json.loads(variant_doc())


def test_entry_order_payload_then_dist_info_then_record(tmp_path: Path) -> None:
    with zipfile.ZipFile(finalize(tmp_path)) as zf:
        names = zf.namelist()
    assert names == [
        "pkg/__init__.py",
        "pkg/_core.so",
        "pkg/tool",
        f"{DIST_INFO}/METADATA",
        f"{DIST_INFO}/WHEEL",
        f"{DIST_INFO}/licenses/LICENSE",
        f"{DIST_INFO}/variant.json",
        f"{DIST_INFO}/RECORD",
    ]


def test_entry_permissions_and_times(tmp_path: Path) -> None:
    with zipfile.ZipFile(finalize(tmp_path)) as zf:
        infos = zf.infolist()
    modes = {i.filename: i.external_attr >> 16 for i in infos}
    assert modes["pkg/tool"] == stat.S_IFREG | 0o755
    for name, mode in modes.items():
        if name != "pkg/tool":
            assert mode == stat.S_IFREG | 0o644, name
    assert {i.date_time for i in infos} == {(1980, 1, 1, 0, 0, 0)}
    assert {i.compress_type for i in infos} == {zipfile.ZIP_DEFLATED}


@pytest.mark.parametrize(
    ("epoch", "date_time"),
    [
        ("1700000000", (2023, 11, 14, 22, 13, 20)),
        ("0", (1980, 1, 1, 0, 0, 0)),  # clamped to what a zip entry can hold
        ("-5", (1980, 1, 1, 0, 0, 0)),
        ("99999999999", (2107, 12, 31, 23, 59, 58)),
    ],
)
def test_source_date_epoch(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, epoch: str, date_time: tuple[int, ...]
) -> None:
    monkeypatch.setenv("SOURCE_DATE_EPOCH", epoch)
    with zipfile.ZipFile(finalize(tmp_path)) as zf:
        assert {i.date_time for i in zf.infolist()} == {date_time}


def test_same_epoch_gives_byte_identical_wheels(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SOURCE_DATE_EPOCH", "1700000000")
    first = finalize(tmp_path, "a", requires=["scipy"]).read_bytes()
    # Another raw wheel with the same content in another order and with other times.
    with zipfile.ZipFile(tmp_path / "raw" / NAME) as zf:
        members = [(i.filename, zf.read(i)) for i in reversed(zf.infolist())]
        modes = {i.filename: i.external_attr for i in zf.infolist()}
    shuffled = []
    for name, data in members:
        info = zipfile.ZipInfo(name, (2001, 2, 3, 4, 5, 6))
        info.external_attr = modes[name]
        shuffled.append((info, data))
    raw2 = make_zip(tmp_path / "raw2" / NAME, shuffled, zipfile.ZIP_STORED)
    second = finalize_wheel(
        raw2, tmp_path / "b", label="x86_64_v3", variant_json=variant_doc(), requires=["scipy"]
    ).read_bytes()
    assert first == second
    assert finalize(tmp_path, "c", requires=["scipy"]).read_bytes() == first
    monkeypatch.setenv("SOURCE_DATE_EPOCH", "1700000002")
    assert finalize(tmp_path, "d", requires=["scipy"]).read_bytes() != first


@pytest.mark.parametrize("epoch", ["yesterday", "1.5", "0x10"])
def test_bad_source_date_epoch(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, epoch: str) -> None:
    monkeypatch.setenv("SOURCE_DATE_EPOCH", epoch)
    with pytest.raises(WheelFormatError, match="SOURCE_DATE_EPOCH"):
        finalize(tmp_path)
    assert not (tmp_path / "out").exists() or not list((tmp_path / "out").iterdir())


def test_plain_wheel_has_no_label_and_no_variant_json(tmp_path: Path) -> None:
    stale = [(f"{DIST_INFO}/variant.json", variant_doc())]
    raw = raw_wheel(tmp_path / "raw", stale)
    wheel = finalize_wheel(raw, tmp_path / "out", label=None, variant_json=None)
    assert wheel.name == NAME
    with zipfile.ZipFile(wheel) as zf:
        assert f"{DIST_INFO}/variant.json" not in zf.namelist()


def test_requires_dist_added_once(tmp_path: Path) -> None:
    wheel = finalize(tmp_path, requires=["numpy", "scipy>=1", "numpy"])
    with zipfile.ZipFile(wheel) as zf:
        metadata = zf.read(f"{DIST_INFO}/METADATA").decode()
    lines = metadata.splitlines()
    assert lines.count("Requires-Dist: numpy") == 1
    assert lines.count("Requires-Dist: scipy>=1") == 1
    # The headers stay before the body.
    assert metadata.endswith("\n\nDescription.\n")
    assert metadata.index("Requires-Dist: scipy>=1") < metadata.index("Description.")


def test_add_requires_without_a_body() -> None:
    assert add_requires(METADATA, ["a", "b"]) == METADATA + b"Requires-Dist: a\nRequires-Dist: b\n"


def test_add_requires_keeps_the_body() -> None:
    raw = METADATA + b"\nLong description.\n\nMore.\n"
    assert add_requires(raw, ["a"]) == (
        METADATA + b"Requires-Dist: a\n\nLong description.\n\nMore.\n"
    )


@pytest.mark.parametrize("requires", [[], ["numpy"]])
def test_add_requires_unchanged(requires: list[str]) -> None:
    raw = METADATA + b"Requires-Dist: numpy\n"
    assert add_requires(raw, requires) is raw


def test_add_requires_ignores_repeats_in_its_input() -> None:
    added = add_requires(METADATA, ["numpy", "numpy"])
    assert added.decode().splitlines().count("Requires-Dist: numpy") == 1


def test_already_labelled_raw_wheel_is_refused(tmp_path: Path) -> None:
    name = "pkg-1.0-cp311-cp311-linux_x86_64-x86_64_v3.whl"
    raw = raw_wheel(tmp_path / "raw", [(f"{DIST_INFO}/variant.json", variant_doc())], name)
    with pytest.raises(WheelFormatError, match="already labelled"):
        finalize_wheel(raw, tmp_path / "out", label="x86_64_v3", variant_json=variant_doc())
    assert not list((tmp_path / "out").glob("*"))


def test_raw_wheel_without_metadata_is_refused(tmp_path: Path) -> None:
    raw = make_zip(tmp_path / "raw" / NAME, [m for m in GOOD if not m[0].endswith("METADATA")])
    with pytest.raises(WheelFormatError, match="no METADATA"):
        finalize_wheel(raw, tmp_path / "out", label=None, variant_json=None)


def test_unsafe_raw_wheel_is_refused(tmp_path: Path) -> None:
    raw = raw_wheel(tmp_path / "raw", [("../evil", b"")])
    with pytest.raises(WheelFormatError, match="E0:"):
        finalize_wheel(raw, tmp_path / "out", label=None, variant_json=None)


def test_failed_write_leaves_no_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    out = tmp_path / "out"
    calls = []

    real = ZipOut._write

    def failing(self: ZipOut, data: bytes) -> None:
        calls.append(data)
        if len(calls) == 3:
            raise OSError("disk full")
        real(self, data)

    monkeypatch.setattr(ZipOut, "_write", failing)
    with pytest.raises(OSError, match="disk full"):
        finalize(tmp_path)
    assert len(calls) == 3
    assert list(out.iterdir()) == []


def test_failed_write_keeps_the_previous_wheel(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    wheel = finalize(tmp_path)
    before = wheel.read_bytes()

    def failing(*args: object) -> None:
        raise OSError("disk full")

    monkeypatch.setattr(ZipOut, "_write", failing)
    with pytest.raises(OSError):
        finalize(tmp_path)
    assert wheel.read_bytes() == before
    assert [p.name for p in wheel.parent.iterdir()] == [wheel.name]


# --- limits from POLYWHEEL_WHEEL_LIMITS -------------------------------------------------


def test_limits_from_the_environment() -> None:
    from polywheel.wheel.reader import DEFAULT_LIMITS, configured_limits

    assert configured_limits({}) == DEFAULT_LIMITS
    limits = configured_limits({"POLYWHEEL_WHEEL_LIMITS": "max_member_size=16G, max_ratio=2000"})
    assert limits.max_member_size == 16 << 30
    assert limits.max_ratio == 2000
    assert limits.max_total_size == DEFAULT_LIMITS.max_total_size
    assert configured_limits({"POLYWHEEL_WHEEL_LIMITS": "max_index_size=512k"}).max_index_size == (
        512 << 10
    )


@pytest.mark.parametrize("value", ["max_size=1G", "max_ratio=", "max_ratio=0", "max_ratio=-1", "x"])
def test_bad_limits_name_the_variable_and_the_keys(value: str) -> None:
    from polywheel.errors import PolywheelError
    from polywheel.wheel.reader import configured_limits

    with pytest.raises(PolywheelError) as caught:
        configured_limits({"POLYWHEEL_WHEEL_LIMITS": value})
    assert caught.value.message.startswith("POLYWHEEL_WHEEL_LIMITS: ")
    assert "max_member_size" in (caught.value.hint or "")


def test_a_raised_limit_admits_what_the_default_refuses(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = good_wheel(tmp_path, [("pkg/zeros.bin", bytes(4 << 20))])
    _reader, problems = inspect_wheel(path)
    assert "compresses more than 1000:1" in problems[0].message
    monkeypatch.setenv("POLYWHEEL_WHEEL_LIMITS", "max_ratio=5000")
    reader, problems = inspect_wheel(path)
    assert reader is not None and problems == []
    reader.close()
