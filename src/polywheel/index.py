"""`{name}-{version}-variants.json`: merge the variant.json of every wheel of a release."""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import Any

from packaging.utils import canonicalize_name

from polywheel.conformance.rules import merge_problems
from polywheel.errors import IndexMergeError, WheelFormatError
from polywheel.wheel.filename import index_filename, parse_wheel_name
from polywheel.wheel.reader import open_wheel
from polywheel.wheel.variant_json import check_variant_json, dumps
from polywheel.wheel.writer import atomic_output, confined

__all__ = [
    "labels_in_folder",
    "merge_variant_jsons",
    "read_wheel_variant_json",
    "release_of",
    "remove_index",
    "write_indexes",
]

Release = tuple[str, str]  # (canonical name, version)


def release_of(wheel: Path) -> Release:
    name = parse_wheel_name(wheel.name)
    return (str(canonicalize_name(name.distribution)), name.version)


def labels_in_folder(folder: Path, distribution: str, version: str) -> set[str]:
    """The labels of this release's wheels in `folder`, read from the filenames."""
    labels = set()
    for wheel in folder.glob("*.whl"):
        try:
            name = parse_wheel_name(wheel.name)
        except WheelFormatError:
            continue
        if name.label and release_of(wheel) == (canonicalize_name(distribution), version):
            labels.add(name.label)
    return labels


def remove_index(folder: Path, distribution: str, version: str) -> None:
    confined(folder, index_filename(distribution, version)).unlink(missing_ok=True)


def read_wheel_variant_json(wheel: Path) -> dict[str, Any]:
    """A labelled wheel's variant.json, read through the validating reader and checked."""
    with open_wheel(wheel) as reader:
        doc = reader.variant_json()
        label = reader.name.label
    if doc is None:
        raise WheelFormatError(
            f"{wheel.name}: a labelled wheel must contain .dist-info/variant.json"
        )
    check_variant_json(doc, wheel.name, expected_label=label)
    return dict(doc)


def merge_variant_jsons(docs: Iterable[tuple[str, dict[str, Any]]]) -> dict[str, Any]:
    """Apply PEP 825's merge rules; the result does not depend on the input order."""
    merged, problems = merge_problems(docs)
    # Wheels of two formats cannot share one index file, whose schema is one of them.
    errors = [p for p in problems if p.severity == "E" or p.rule == 26]
    if errors:
        raise IndexMergeError(str(errors[0]))
    if merged is None:
        raise IndexMergeError("no variant wheels to index")
    return merged


def write_indexes(folder: Path, wheels: Iterable[Path] | None = None) -> list[Path]:
    """Write one index file per name-version found among the variant wheels in `folder`."""
    groups: dict[tuple[str, str], list[Path]] = {}
    for wheel in sorted(wheels if wheels is not None else folder.glob("*.whl")):
        name = parse_wheel_name(wheel.name)
        if name.label is None:
            continue
        key = (canonicalize_name(name.distribution), name.version)
        groups.setdefault(key, []).append(wheel)
    written = []
    for (distribution, version), members in sorted(groups.items()):
        merged = merge_variant_jsons((w.name, read_wheel_variant_json(w)) for w in members)
        check_variant_json(merged, index_filename(distribution, version))
        target = confined(folder, index_filename(distribution, version))
        with atomic_output(target) as tmp:
            tmp.write_bytes(dumps(merged))
        written.append(target)
    return written
