"""Wheel filenames with an optional variant label (PEP 825 §1).

`packaging.utils.parse_wheel_filename` rejects every labelled name on purpose, so
labelled names are split here and only the stripped name is given to packaging.
"""

from __future__ import annotations

import dataclasses
import re

from packaging.utils import InvalidWheelFilename, canonicalize_name, parse_wheel_filename

from polywheel.conformance.problems import Problem
from polywheel.errors import WheelFormatError, shown
from polywheel.properties import label_problem

__all__ = ["WheelName", "filename_problem", "index_filename", "parse_wheel_name"]


@dataclasses.dataclass(frozen=True)
class WheelName:
    distribution: str
    version: str
    build: str | None
    tags: str  # "{python}-{abi}-{platform}"
    label: str | None

    @property
    def plain_stem(self) -> str:
        build = f"-{self.build}" if self.build else ""
        return f"{self.distribution}-{self.version}{build}-{self.tags}"

    @property
    def filename(self) -> str:
        suffix = f"-{self.label}" if self.label else ""
        return f"{self.plain_stem}{suffix}.whl"

    def with_label(self, label: str | None) -> WheelName:
        return dataclasses.replace(self, label=label)


# Compressed tag sets (`py2.py3`, `manylinux_2_28_x86_64`): nothing a shell, a
# terminal or a path could interpret.
_TAG = re.compile(r"[A-Za-z0-9_.]+")


def _parse(filename: str) -> WheelName | Problem:
    if not filename.endswith(".whl"):
        return Problem(1, "E", "not a wheel filename (no .whl)")
    parts = filename[:-4].split("-")
    label: str | None = None
    if len(parts) == 7 or (len(parts) == 6 and not parts[2][:1].isdigit()):
        label = parts.pop()
        problem = label_problem(label)
        if problem:
            return Problem(3, "E", f"variant label {problem}")
    if len(parts) not in (5, 6):
        return Problem(1, "E", "a wheel filename has 5 to 7 dash-separated parts")
    for tag in parts[-3:]:
        if not _TAG.fullmatch(tag):
            return Problem(1, "E", f"tag {tag!r} is not letters, digits, '_' and '.'")
    if parts[-3][:1].isdigit():
        return Problem(2, "E", "the python tag must not start with a digit (PEP 825)")
    try:
        parse_wheel_filename("-".join(parts) + ".whl")
    except InvalidWheelFilename as exc:
        return Problem(1, "E", str(exc))
    build = parts[2] if len(parts) == 6 else None
    return WheelName(parts[0], parts[1], build, "-".join(parts[-3:]), label)


def filename_problem(filename: str) -> Problem | None:
    """The filename rule (1-3) this name breaks, or None."""
    parsed = _parse(filename)
    return parsed if isinstance(parsed, Problem) else None


def parse_wheel_name(filename: str) -> WheelName:
    parsed = _parse(filename)
    if isinstance(parsed, Problem):
        raise WheelFormatError(f"{shown(filename)}: {parsed.message}")
    return parsed


def index_filename(distribution: str, version: str) -> str:
    """`{name}-{version}-variants.json`, normalised exactly as in wheel filenames."""
    return f"{canonicalize_name(distribution).replace('-', '_')}-{version}-variants.json"
