"""What a variant build's log file says, for the messages of `polywheel build`."""

from __future__ import annotations

import re
from pathlib import Path

__all__ = ["died_of_illegal_instruction", "tail"]

_SIGILL = re.compile(r"Illegal instruction|\bSIGILL\b|\[code=132\]|Error 132\b")


def died_of_illegal_instruction(log: Path) -> bool:
    try:
        return bool(_SIGILL.search(log.read_text(errors="replace")))
    except OSError:
        return False


def tail(log: Path, lines: int = 25) -> str:
    try:
        content = log.read_text(errors="replace").splitlines()
    except OSError:
        return ""
    return "\n".join("    " + line for line in content[-lines:])
