"""One finding of the conformance rules: its rule number (spec notes §10) and severity.

Rule 0 is polywheel's own: the file is not an archive it can read safely (member
names, sizes, symlinks), so no numbered rule could be checked.
"""

from __future__ import annotations

import dataclasses
from typing import Literal

__all__ = ["Problem"]


@dataclasses.dataclass(frozen=True, order=True)
class Problem:
    rule: int
    severity: Literal["E", "W"]
    message: str

    def __str__(self) -> str:
        return f"{self.severity}{self.rule}: {self.message}"
