"""Ask an external tool about itself (`ccache --print-version`, `make --version`,
`nvcc --list-gpu-code`): its standard output, or None when it cannot answer."""

from __future__ import annotations

import subprocess
from collections.abc import Sequence

__all__ = ["tool_output"]


def tool_output(argv: Sequence[str], *, timeout: float, check: bool = True) -> str | None:
    """The text `argv` prints; None when it cannot be started, times out, or (with
    `check`) exits with an error."""
    try:
        return subprocess.run(
            list(argv), capture_output=True, text=True, timeout=timeout, check=check
        ).stdout
    except (OSError, subprocess.SubprocessError):
        return None
