"""What each translation unit of a variant's build was really compiled with.

CMake writes `compile_commands.json` into the build folder (polywheel turns
`CMAKE_EXPORT_COMPILE_COMMANDS` on): one entry per source, with the full command line,
the project's own target options included. Each namespace then judges the flags that
matter to it (for x86_64: the effective micro-architecture level).
"""

from __future__ import annotations

import dataclasses
import json
import re
import shlex
from pathlib import Path

__all__ = ["CompileUnit", "read_compile_commands"]

_TARGET_RE = re.compile(r"CMakeFiles/([^/]+)\.dir/")


@dataclasses.dataclass(frozen=True)
class CompileUnit:
    source: str  # relative to the project when inside it
    target: str | None
    arguments: tuple[str, ...]


def read_compile_commands(build_dir: Path, project_root: Path) -> list[CompileUnit] | None:
    """The build's translation units, or None when CMake wrote no compile commands
    (a generator without them, such as Visual Studio)."""
    try:
        entries = json.loads((build_dir / "compile_commands.json").read_text())
    except (OSError, ValueError):
        return None
    units = []
    for entry in entries if isinstance(entries, list) else []:
        if not isinstance(entry, dict) or "file" not in entry:
            continue
        arguments = entry.get("arguments") or shlex.split(str(entry.get("command", "")))
        output = str(entry.get("output", "")) or " ".join(arguments)
        match = _TARGET_RE.search(output)
        source = Path(str(entry["file"]))
        if not source.is_absolute():
            source = Path(str(entry.get("directory", build_dir))) / source
        shown = str(source)
        if source.is_relative_to(project_root):
            shown = source.relative_to(project_root).as_posix()
        units.append(CompileUnit(shown, match.group(1) if match else None, tuple(arguments)))
    return units
