"""`polywheel repair`: strip the label, run auditwheel (or another repair tool) on the
plain-named wheel, and label what the tool wrote."""

from __future__ import annotations

import shlex
import shutil
import subprocess
import tempfile
from collections.abc import Sequence
from pathlib import Path

from polywheel.errors import PolywheelError, WheelFormatError
from polywheel.relabel import label_inside, publish, refuse_nonconforming
from polywheel.wheel.filename import parse_wheel_name
from polywheel.wheel.reader import open_wheel

__all__ = ["DEFAULT_REPAIR", "repair_wheel"]

DEFAULT_REPAIR = "auditwheel repair -w {dest_dir} {wheel}"


def _variant_json_bytes(wheel: Path) -> bytes | None:
    with open_wheel(wheel) as reader:
        return reader.dist_info_file("variant.json")


def repair_wheel(wheel: Path, out_dir: Path, command: Sequence[str] | str = DEFAULT_REPAIR) -> Path:
    """Strip the label, run the repair tool, and label the repaired wheel.

    The repaired name is taken from what the tool wrote (manylinux tags included),
    never re-derived from the input name.
    """
    name = parse_wheel_name(wheel.name)
    label, raw = label_inside(wheel)
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
        if _variant_json_bytes(repaired) != raw:
            raise WheelFormatError(
                f"the repair tool changed or dropped {repaired.name}'s variant.json"
            )
        # Checked under its final name, before anything reaches out_dir: a refused
        # wheel never replaces one already there.
        labelled = dest / parse_wheel_name(repaired.name).with_label(label).filename
        repaired.rename(labelled)
        refuse_nonconforming(labelled, "written")
        return publish(labelled, out_dir / labelled.name, move=False)
