"""Labels on and off: `polywheel relabel` and `polywheel repair`.

Tools that parse wheel names with `packaging` (auditwheel, delocate, cibuildwheel, pip)
reject labelled names. So a wheel can be built with its variant.json but a plain name
(`-C defer-label=true`), go through those tools, and get its label at the end.
"""

from __future__ import annotations

import json
import shlex
import shutil
import subprocess
import tempfile
from collections.abc import Sequence
from pathlib import Path

from polywheel.checker import check_paths
from polywheel.cli import DEFAULT_REPAIR
from polywheel.errors import PolywheelError, WheelFormatError
from polywheel.filename import parse_wheel_name
from polywheel.wheelfile import read_dist_info

__all__ = ["relabel_wheel", "repair_wheel"]


def _label_inside(wheel: Path) -> tuple[str, bytes]:
    raw = read_dist_info(wheel, "variant.json")
    if raw is None:
        raise WheelFormatError(f"{wheel.name}: no .dist-info/variant.json, so no label to apply")
    try:
        labels = list(json.loads(raw)["variants"])
    except (ValueError, KeyError, TypeError):
        raise WheelFormatError(f"{wheel.name}: variant.json has no `variants` object") from None
    if len(labels) != 1:
        raise WheelFormatError(
            f"{wheel.name}: variant.json must name exactly one label, not {labels}"
        )
    return labels[0], raw


def _verified(wheel: Path) -> Path:
    errors = [f for f in check_paths([wheel]) if f.is_error]
    if errors:
        wheel.unlink()
        raise WheelFormatError(f"{wheel.name} would not conform: {errors[0]}")
    return wheel


def relabel_wheel(wheel: Path, out_dir: Path | None = None) -> Path:
    """Give a plainly named wheel that carries variant.json its label (copy or rename)."""
    name = parse_wheel_name(wheel.name)
    label, _raw = _label_inside(wheel)
    if name.label not in (None, label):
        raise WheelFormatError(
            f"{wheel.name}: the filename says {name.label!r}, variant.json {label!r}"
        )
    target = (out_dir or wheel.parent) / name.with_label(label).filename
    if target == wheel:
        return wheel
    target.parent.mkdir(parents=True, exist_ok=True)
    if out_dir is None:
        wheel.rename(target)
    else:
        shutil.copyfile(wheel, target)
    return _verified(target)


def repair_wheel(wheel: Path, out_dir: Path, command: Sequence[str] | str = DEFAULT_REPAIR) -> Path:
    """Strip the label, run the repair tool, and label the repaired wheel.

    The repaired name is taken from what the tool wrote (manylinux tags included),
    never re-derived from the input name.
    """
    name = parse_wheel_name(wheel.name)
    label, raw = _label_inside(wheel)
    if name.label not in (None, label):
        raise WheelFormatError(
            f"{wheel.name}: the filename says {name.label!r}, variant.json {label!r}"
        )
    with tempfile.TemporaryDirectory(prefix="polywheel-repair-") as tmp:
        plain = Path(tmp) / "in" / name.with_label(None).filename
        dest = Path(tmp) / "out"
        plain.parent.mkdir()
        dest.mkdir()
        shutil.copyfile(wheel, plain)
        words = shlex.split(command) if isinstance(command, str) else list(command)
        if not any("{wheel}" in w for w in words):
            words.append("{wheel}")
        argv = [w.replace("{wheel}", str(plain)).replace("{dest_dir}", str(dest)) for w in words]
        try:
            proc = subprocess.run(argv, capture_output=True, text=True, check=False)
        except FileNotFoundError:
            raise PolywheelError(
                f"repair tool {argv[0]!r} not found; install it (e.g. pip install auditwheel)"
            ) from None
        if proc.returncode != 0:
            raise PolywheelError(
                f"`{shlex.join(argv)}` failed (exit status {proc.returncode}):\n"
                + proc.stdout
                + proc.stderr
            )
        produced = sorted(dest.glob("*.whl"))
        if len(produced) != 1:
            raise PolywheelError(
                f"the repair tool wrote {len(produced)} wheels into {{dest_dir}}, expected one"
            )
        repaired = produced[0]
        if read_dist_info(repaired, "variant.json") != raw:
            raise WheelFormatError(
                f"the repair tool changed or dropped {repaired.name}'s variant.json"
            )
        repaired_name = parse_wheel_name(repaired.name)
        out_dir.mkdir(parents=True, exist_ok=True)
        target = out_dir / repaired_name.with_label(label).filename
        shutil.copyfile(repaired, target)
    return _verified(target)
