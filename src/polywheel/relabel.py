"""`polywheel relabel`: give a wheel built with `-C defer-label=true` its label.

Tools that parse wheel names with `packaging` (auditwheel, delocate, cibuildwheel, pip)
reject labelled names. So a wheel can be built with its variant.json but a plain name,
go through those tools, and get its label at the end.
"""

from __future__ import annotations

import shutil
from pathlib import Path

from polywheel.conformance.files import check_paths
from polywheel.errors import WheelFormatError
from polywheel.wheel.filename import parse_wheel_name
from polywheel.wheel.reader import open_wheel
from polywheel.wheel.variant_json import check_variant_json

__all__ = ["label_inside", "relabel_wheel", "verified_output"]


def label_inside(wheel: Path) -> tuple[str, bytes]:
    """The one label the wheel's variant.json names (validated, and agreeing with the
    filename's label if it has one), and the raw bytes of variant.json."""
    with open_wheel(wheel) as reader:
        raw = reader.dist_info_file("variant.json")
        doc = reader.variant_json()
        filename_label = reader.name.label
    if raw is None or doc is None:
        raise WheelFormatError(f"{wheel.name}: no .dist-info/variant.json, so no label to apply")
    # Every label passes the full-match label rule here, before it can name a file.
    check_variant_json(doc, f"{wheel.name}: variant.json")
    labels = list(doc["variants"])
    if len(labels) != 1:
        raise WheelFormatError(
            f"{wheel.name}: variant.json must name exactly one label, not {labels}"
        )
    if filename_label not in (None, labels[0]):
        raise WheelFormatError(
            f"{wheel.name}: the filename says {filename_label!r}, variant.json {labels[0]!r}"
        )
    return labels[0], raw


def verified_output(wheel: Path) -> Path:
    """`wheel` if it passes `polywheel check`; otherwise it is removed and refused."""
    errors = [f for f in check_paths([wheel]) if f.is_error]
    if errors:
        wheel.unlink()
        raise WheelFormatError(f"{wheel.name} would not conform: {errors[0]}")
    return wheel


def relabel_wheel(wheel: Path, out_dir: Path | None = None) -> Path:
    """Give a plainly named wheel that carries variant.json its label (copy or rename)."""
    name = parse_wheel_name(wheel.name)
    label, _raw = label_inside(wheel)
    target = (out_dir or wheel.parent) / name.with_label(label).filename
    if target == wheel:
        return wheel
    target.parent.mkdir(parents=True, exist_ok=True)
    if out_dir is None:
        wheel.rename(target)
    else:
        shutil.copyfile(wheel, target)
    return verified_output(target)
