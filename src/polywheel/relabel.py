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
from polywheel.wheel.writer import atomic_output, confined

__all__ = [
    "label_inside",
    "publish",
    "refuse_nonconforming",
    "relabel_target",
    "relabel_wheel",
]


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


def refuse_nonconforming(wheel: Path, what: str) -> None:
    """Raise unless `wheel` passes `polywheel check`; nothing is written or removed."""
    errors = [f for f in check_paths([wheel]) if f.is_error]
    if errors:
        raise WheelFormatError(f"{wheel.name} does not conform, so it is not {what}: {errors[0]}")


def relabel_target(wheel: Path, out_dir: Path | None = None) -> Path:
    """Where `relabel_wheel` puts `wheel`, once the wheel is known to conform.

    The wheel is checked under its own name: its bytes do not change, and what its new
    name adds (the label, and its agreement with variant.json) `label_inside` checks.
    """
    name = parse_wheel_name(wheel.name)
    label, _raw = label_inside(wheel)
    refuse_nonconforming(wheel, "relabelled")
    return confined(out_dir or wheel.parent, name.with_label(label).filename)


def publish(wheel: Path, target: Path, *, move: bool) -> Path:
    """Rename (`move`) or copy `wheel` to `target`; a copy appears there only whole."""
    if target == wheel:
        return wheel
    if move:
        wheel.replace(target)
    else:
        with atomic_output(target) as tmp:
            shutil.copyfile(wheel, tmp)
    return target


def relabel_wheel(wheel: Path, out_dir: Path | None = None) -> Path:
    """Give a plainly named wheel that carries variant.json its label (copy or rename).

    A wheel that does not conform is refused before anything is renamed or written.
    """
    return publish(wheel, relabel_target(wheel, out_dir), move=out_dir is None)
