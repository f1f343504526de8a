"""What the audit found in one ELF file of a wheel, and what a maintainer allows."""

from __future__ import annotations

import dataclasses
import fnmatch
from collections import Counter
from typing import Any

__all__ = ["NO_ALLOW", "AuditAllow", "BinaryAudit"]


@dataclasses.dataclass(frozen=True)
class AuditAllow:
    """Runtime-dispatched code the maintainer vouches for (NumPy-style CPU dispatch)."""

    functions: tuple[str, ...] = ()
    sections: tuple[str, ...] = ()
    # File names of whole binaries built from allowed sources or targets (the build's
    # compile commands and CMake's file API tell which): their code needs no symbols.
    binaries: frozenset[str] = frozenset()

    def allows(self, function: str, section: str) -> bool:
        return any(fnmatch.fnmatchcase(function, g) for g in self.functions) or any(
            fnmatch.fnmatchcase(section, g) for g in self.sections
        )

    def for_binary(self, name: str) -> AuditAllow:
        """What is allowed in the binary `name` (its path in the wheel)."""
        if name.rsplit("/", 1)[-1] in self.binaries:
            return AuditAllow(self.functions, ("*",))
        return self


NO_ALLOW = AuditAllow()


@dataclasses.dataclass
class BinaryAudit:
    """What one ELF file of the wheel needs."""

    name: str
    machine: str
    instructions: int = 0
    level: int = 1
    features: Counter[str] = dataclasses.field(default_factory=Counter)
    other: Counter[str] = dataclasses.field(default_factory=Counter)
    # level -> function -> instruction count, for the levels above v1
    functions: dict[int, Counter[str]] = dataclasses.field(default_factory=dict)
    allowed: Counter[str] = dataclasses.field(default_factory=Counter)
    allowed_level: int = 1
    sass: set[int] = dataclasses.field(default_factory=set)
    ptx: dict[int, str] = dataclasses.field(default_factory=dict)
    note: str | None = None
    # Why (part of) the file could not be decoded: its code was not checked, which the
    # audit reports as an error rather than vouching for it.
    problem: str | None = None

    def to_json(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "machine": self.machine,
            "instructions": self.instructions,
            "level": f"v{self.level}",
            "features": dict(sorted(self.features.items())),
            "outside_levels": dict(sorted(self.other.items())),
            "functions": {
                f"v{k}": dict(v.most_common(20)) for k, v in sorted(self.functions.items())
            },
            "allowed": {
                "level": f"v{self.allowed_level}",
                "functions": dict(self.allowed.most_common()),
            },
            "cuda": {
                "sass": [f"sm_{a}" for a in sorted(self.sass)],
                "ptx": {f"compute_{a}": v for a, v in sorted(self.ptx.items())},
            },
            "note": self.note,
            "problem": self.problem,
        }
