"""`{name}-{version}-variants.json`: merging the wheels' variant.json and writing the file."""

from __future__ import annotations

import json
import re
import zipfile
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import pytest

from polywheel.conformance.rules import SCHEMA_PEP825, document_problems
from polywheel.errors import IndexMergeError, WheelFormatError
from polywheel.index import merge_variant_jsons, read_wheel_variant_json, write_indexes
from polywheel.properties import VariantProperty, parse_property
from polywheel.wheel.variant_json import dumps, make_variant_json
from polywheel.wheel.writer import finalize_wheel

X86 = {"requires": ["x86-64-variant-provider"]}
NVIDIA = {
    "requires": ["nvidia-variant-provider"],
    "plugin-api": "nvidia_variant_provider.plugin:NvidiaVariantPlugin",
}
PROVIDERS: dict[str, dict[str, Any]] = {"x86_64": X86, "nvidia": NVIDIA}
TAGS = "cp311-cp311-linux_x86_64"


def props(*texts: str) -> list[VariantProperty]:
    return [parse_property(t, key="test") for t in texts]


LABELS = {
    "x86_64_v1": props("x86_64 :: level :: v1"),
    "x86_64_v3": props("x86_64 :: level :: v3"),
    "sm90": props("nvidia :: sm_arch :: 90_real"),
}


def doc(
    label: str,
    properties: Iterable[VariantProperty] | None = None,
    namespaces: Iterable[str] = ("x86_64",),
    fmt: str = "variantlib",
) -> dict[str, Any]:
    chosen = LABELS[label] if properties is None else properties
    return make_variant_json({label: chosen}, namespaces, PROVIDERS, fmt)


def raw_wheel(folder: Path, name: str = "pkg", version: str = "1.0", tags: str = TAGS) -> Path:
    """A wheel as scikit-build-core would write it, before polywheel finishes it."""
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{name}-{version}-{tags}.whl"
    dist_info = f"{name}-{version}.dist-info"
    with zipfile.ZipFile(path, "w") as zf:
        zf.writestr(f"{name}/__init__.py", "VALUE = 1\n")
        zf.writestr(f"{dist_info}/METADATA", f"Metadata-Version: 2.1\nName: {name}\n")
        zf.writestr(f"{dist_info}/WHEEL", "Wheel-Version: 1.0\nRoot-Is-Purelib: false\n")
        zf.writestr(f"{dist_info}/RECORD", "")
    return path


def variant_wheel(
    out: Path,
    label: str | None,
    document: dict[str, Any] | None = None,
    name: str = "pkg",
    version: str = "1.0",
    tags: str = TAGS,
) -> Path:
    raw = raw_wheel(out.parent / f"raw-{out.name}-{label}-{version}-{tags}", name, version, tags)
    if document is None and label is not None:
        document = doc(label)
    body = None if document is None else dumps(document)
    return finalize_wheel(raw, out, label=label, variant_json=body)


# --- merge_variant_jsons ----------------------------------------------------------------


def test_merge_two_labels() -> None:
    merged = merge_variant_jsons([("b.whl", doc("x86_64_v3")), ("a.whl", doc("x86_64_v1"))])
    assert merged == make_variant_json(
        {k: LABELS[k] for k in ("x86_64_v1", "x86_64_v3")}, ["x86_64"], PROVIDERS, "variantlib"
    )
    assert list(merged["variants"]) == ["x86_64_v1", "x86_64_v3"]


def test_merge_is_order_independent() -> None:
    docs = [
        ("a.whl", doc("x86_64_v1", namespaces=["x86_64"])),
        ("b.whl", doc("sm90", namespaces=["x86_64", "nvidia"])),
        ("c.whl", doc("x86_64_v3", namespaces=["x86_64", "nvidia"])),
    ]
    forward = dumps(merge_variant_jsons(docs))
    assert dumps(merge_variant_jsons(reversed(docs))) == forward
    assert dumps(merge_variant_jsons([docs[1], docs[2], docs[0]])) == forward


def test_merge_same_label_in_several_wheels() -> None:
    merged = merge_variant_jsons([("a.whl", doc("x86_64_v3")), ("b.whl", doc("x86_64_v3"))])
    assert list(merged["variants"]) == ["x86_64_v3"]


def test_merge_providers_and_prefix_compatible_namespaces() -> None:
    docs = [
        ("a.whl", doc("x86_64_v3", namespaces=["x86_64"])),
        ("b.whl", doc("sm90", namespaces=["x86_64", "nvidia"])),
    ]
    merged = merge_variant_jsons(docs)
    assert merged["default-priorities"]["namespace"] == ["x86_64", "nvidia"]
    assert merged["providers"] == {"x86_64": X86, "nvidia": NVIDIA}
    assert [p for p in document_problems(merged) if p.severity == "E"] == []


def test_merge_pep825_documents_have_no_providers() -> None:
    docs = [
        ("a.whl", doc("x86_64_v3", fmt="pep825")),
        ("b.whl", doc("x86_64_v1", fmt="pep825")),
    ]
    merged = merge_variant_jsons(docs)
    assert merged["$schema"] == SCHEMA_PEP825
    assert "providers" not in merged


@pytest.mark.parametrize(
    ("docs", "fragment"),
    [
        (
            [("a.whl", doc("x86_64_v3")), ("b.whl", doc("x86_64_v3", LABELS["x86_64_v1"]))],
            "E23",
        ),
        (
            [
                ("a.whl", doc("x86_64_v3")),
                ("b.whl", {**doc("x86_64_v1"), "providers": {"x86_64": {"requires": ["other"]}}}),
            ],
            "E23",
        ),
        (
            [
                ("a.whl", doc("x86_64_v3", namespaces=["x86_64", "nvidia"])),
                ("b.whl", doc("sm90", namespaces=["nvidia", "x86_64"])),
            ],
            "E24",
        ),
        # Two formats cannot share one index file: the warning is an error here.
        ([("a.whl", doc("x86_64_v3")), ("b.whl", doc("x86_64_v1", fmt="pep825"))], "W26"),
        ([], "no variant wheels"),
    ],
)
def test_merge_conflicts(docs: list[tuple[str, dict[str, Any]]], fragment: str) -> None:
    with pytest.raises(IndexMergeError) as exc:
        merge_variant_jsons(docs)
    assert fragment in str(exc.value)


def test_merge_allows_duplicate_property_sets() -> None:
    """Rule 25 is only a warning: the index is still written."""
    merged = merge_variant_jsons(
        [("a.whl", doc("x86_64_v3")), ("b.whl", doc("x86_64_v1", LABELS["x86_64_v3"]))]
    )
    assert set(merged["variants"]) == {"x86_64_v1", "x86_64_v3"}


# --- write_indexes ----------------------------------------------------------------------


def test_write_index_for_a_release(tmp_path: Path) -> None:
    dist = tmp_path / "dist"
    variant_wheel(dist, None)
    variant_wheel(dist, "x86_64_v1")
    variant_wheel(dist, "x86_64_v3")
    variant_wheel(dist, "x86_64_v3", tags="cp312-cp312-linux_x86_64")
    written = write_indexes(dist)
    assert written == [dist / "pkg-1.0-variants.json"]
    expected = make_variant_json(
        {k: LABELS[k] for k in ("x86_64_v1", "x86_64_v3")}, ["x86_64"], PROVIDERS, "variantlib"
    )
    assert written[0].read_bytes() == dumps(expected)
    parsed = json.loads(written[0].read_text())
    assert [p for p in document_problems(parsed) if p.severity == "E"] == []
    # Nothing else is left in the folder (no temporary files).
    assert sorted(p.name for p in dist.iterdir() if not p.name.endswith(".whl")) == [
        "pkg-1.0-variants.json"
    ]


def test_index_name_is_normalised(tmp_path: Path) -> None:
    dist = tmp_path / "dist"
    variant_wheel(dist, "x86_64_v3", name="My_Pkg")
    assert [p.name for p in write_indexes(dist)] == ["my_pkg-1.0-variants.json"]


def test_one_index_per_release(tmp_path: Path) -> None:
    dist = tmp_path / "dist"
    variant_wheel(dist, "x86_64_v3", version="1.0")
    variant_wheel(dist, "x86_64_v1", version="2.0")
    variant_wheel(dist, "x86_64_v1", name="other")
    written = write_indexes(dist)
    assert [p.name for p in written] == [
        "other-1.0-variants.json",
        "pkg-1.0-variants.json",
        "pkg-2.0-variants.json",
    ]
    second = json.loads((dist / "pkg-2.0-variants.json").read_text())
    assert list(second["variants"]) == ["x86_64_v1"]


def test_index_is_rewritten_the_same(tmp_path: Path) -> None:
    dist = tmp_path / "dist"
    variant_wheel(dist, "x86_64_v3")
    variant_wheel(dist, "x86_64_v1")
    first = write_indexes(dist)[0].read_bytes()
    second = write_indexes(dist)[0].read_bytes()
    assert first == second


def test_index_is_replaced_not_rewritten_in_place(tmp_path: Path) -> None:
    """A reader of the old file never sees a half-written one: the new file is renamed
    over it, so a hard link to the old file keeps the old content."""
    dist = tmp_path / "dist"
    variant_wheel(dist, "x86_64_v3")
    [index] = write_indexes(dist)
    old = index.read_bytes()
    (tmp_path / "old.json").hardlink_to(index)
    variant_wheel(dist, "x86_64_v1")
    write_indexes(dist)
    assert (tmp_path / "old.json").read_bytes() == old
    assert index.read_bytes() != old


def test_explicit_wheel_list(tmp_path: Path) -> None:
    dist = tmp_path / "dist"
    v1 = variant_wheel(dist, "x86_64_v1")
    variant_wheel(dist, "x86_64_v3")
    [index] = write_indexes(dist, [v1])
    assert list(json.loads(index.read_text())["variants"]) == ["x86_64_v1"]


@pytest.mark.parametrize("plain_wheels", [0, 1, 2])
def test_folder_without_labelled_wheels_writes_nothing(tmp_path: Path, plain_wheels: int) -> None:
    dist = tmp_path / "dist"
    dist.mkdir()
    for i in range(plain_wheels):
        variant_wheel(dist, None, version=f"1.{i}")
    before = sorted(dist.iterdir())
    assert write_indexes(dist) == []
    assert sorted(dist.iterdir()) == before


def test_conflicting_wheels_write_no_index(tmp_path: Path) -> None:
    dist = tmp_path / "dist"
    variant_wheel(dist, "x86_64_v3")
    variant_wheel(dist, "x86_64_v3", doc("x86_64_v3", LABELS["x86_64_v1"]), tags="py3-none-any")
    with pytest.raises(IndexMergeError, match="E23"):
        write_indexes(dist)
    assert sorted(p.suffix for p in dist.iterdir()) == [".whl", ".whl"]


def test_labelled_wheel_without_variant_json(tmp_path: Path) -> None:
    dist = tmp_path / "dist"
    raw = raw_wheel(tmp_path / "raw")
    wheel = finalize_wheel(raw, dist, label="x86_64_v3", variant_json=None)
    with pytest.raises(WheelFormatError, match=re.escape("must contain .dist-info/variant.json")):
        write_indexes(dist)
    with pytest.raises(WheelFormatError):
        read_wheel_variant_json(wheel)


@pytest.mark.parametrize(
    ("label", "document", "fragment"),
    [
        # variant.json names another label than the filename.
        ("x86_64_v3", doc("x86_64_v1"), "E19"),
        # variant.json is not a valid document.
        (
            "x86_64_v3",
            {**doc("x86_64_v3", fmt="pep825"), "default-priorities": {"namespace": []}},
            "E17",
        ),
    ],
)
def test_wheel_with_a_bad_variant_json(
    tmp_path: Path, label: str, document: dict[str, Any], fragment: str
) -> None:
    dist = tmp_path / "dist"
    variant_wheel(dist, label, document)
    with pytest.raises(WheelFormatError, match=fragment):
        write_indexes(dist)
    assert not list(dist.glob("*.json"))


def test_read_wheel_variant_json(tmp_path: Path) -> None:
    wheel = variant_wheel(tmp_path / "dist", "sm90", doc("sm90", namespaces=["nvidia"]))
    assert read_wheel_variant_json(wheel) == doc("sm90", namespaces=["nvidia"])
