"""`polywheel repair`: strip the label, run auditwheel (or another repair tool) on the
plain-named wheel, and label what the tool wrote."""

from __future__ import annotations

import shlex
import shutil
import stat
import subprocess
from collections.abc import Sequence
from pathlib import Path

from polywheel.errors import PolywheelError, WheelFormatError
from polywheel.pipeline.faults import die_with_parent

__all__ = ["DEFAULT_REPAIR", "PLACEHOLDERS", "repair_argv", "repair_wheel"]

DEFAULT_REPAIR = "auditwheel repair -w {dest_dir} {wheel}"


PLACEHOLDERS = ("{wheel}", "{dest_dir}")


def repair_argv(command: Sequence[str] | str, wheel: Path, dest_dir: Path) -> list[str]:
    """The repair tool's argv: each placeholder is replaced once, and only where it is a
    whole argument. No shell runs, so nothing in a path is ever interpreted."""
    words = shlex.split(command) if isinstance(command, str) else list(command)
    if not words:
        raise PolywheelError("the repair command after -- is empty")
    for word in words:
        if word not in PLACEHOLDERS and any(p in word for p in PLACEHOLDERS):
            raise PolywheelError(
                f"repair command: {word!r} holds a placeholder inside a longer argument",
                hint="put {wheel} and {dest_dir} each in an argument of its own "
                "(e.g. `-w {dest_dir}`, not `--wheel-dir={dest_dir}`); no shell runs",
            )
    if "{wheel}" not in words:
        words.append("{wheel}")
    paths = {"{wheel}": str(wheel), "{dest_dir}": str(dest_dir)}
    return [paths.get(word, word) for word in words]


def _variant_json_bytes(wheel: Path) -> bytes | None:
    from polywheel.wheel.reader import open_wheel

    with open_wheel(wheel) as reader:
        return reader.dist_info_file("variant.json")


def repair_wheel(wheel: Path, out_dir: Path, command: Sequence[str] | str = DEFAULT_REPAIR) -> Path:
    """Strip the label, run the repair tool, and label the repaired wheel.

    The repaired name is taken from what the tool wrote (manylinux tags included),
    never re-derived from the input name. The tool works in a scratch folder inside
    `out_dir` (named for this process, so a later run removes it if this one is
    killed); the input is only read.
    """
    # Imported here: the command line reads DEFAULT_REPAIR for every command's help.
    from polywheel.relabel import label_inside, publish, refuse_nonconforming
    from polywheel.wheel.filename import parse_wheel_name
    from polywheel.wheel.writer import confined, staging_dir

    repair_argv(command, wheel, out_dir)  # a malformed command is refused before any work
    name = parse_wheel_name(wheel.name)
    label, raw = label_inside(wheel)
    with staging_dir(out_dir) as scratch:
        plain = scratch / "in" / name.with_label(None).filename
        dest = scratch / "out"
        plain.parent.mkdir()
        dest.mkdir()
        shutil.copyfile(wheel, plain)
        argv = repair_argv(command, plain, dest)
        try:
            proc = subprocess.run(
                argv, capture_output=True, text=True, check=False, preexec_fn=die_with_parent
            )
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
        produced = [p for p in dest.iterdir() if p.name.endswith(".whl")]
        if len(produced) != 1 or not stat.S_ISREG(produced[0].lstat().st_mode):
            raise PolywheelError(
                f"the repair tool wrote {len(produced)} wheel files into {{dest_dir}}, "
                "expected one regular file"
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
        return publish(labelled, confined(out_dir, labelled.name), move=True)
