"""What the audit found in one ELF file of a wheel, and what a maintainer allows."""

from __future__ import annotations

import dataclasses
import fnmatch
from collections import Counter
from collections.abc import Iterable
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
    # Every fat-binary entry by target name ('sm_90a', 'sm_100f', 'compute_90'): the
    # numbers above cannot say which code is arch- or family-specific.
    cuda_targets: set[str] = dataclasses.field(default_factory=set)
    note: str | None = None
    # Why (part of) the file could not be decoded: its code was not checked, which the
    # audit reports as an error rather than vouching for it.
    problem: str | None = None

    def _targets(self, prefix: str, numbers: Iterable[int]) -> list[str]:
        """The target names of one kind in architecture order ('sm_90', 'sm_90a'); a
        number without a named target is a plain one."""
        named: set[tuple[int, str]] = set()
        for name in self.cuda_targets:
            rest = name.removeprefix(prefix + "_")
            suffix = rest[-1:] if rest[-1:] in ("a", "f") else ""
            if rest != name and rest[: len(rest) - len(suffix)].isdigit():
                named.add((int(rest[: len(rest) - len(suffix)]), suffix))
        wanted = set(numbers)
        plain = {(n, "") for n in wanted if all(m != n for m, _ in named)}
        return [f"{prefix}_{n}{s}" for n, s in sorted(named | plain) if n in wanted]

    def sass_names(self) -> list[str]:
        return self._targets("sm", self.sass)

    def ptx_names(self) -> dict[str, str]:
        """PTX target name → PTX ISA version."""
        return {
            name: self.ptx[int(name[8:].rstrip("af"))]
            for name in self._targets("compute", self.ptx)
        }

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
                "sass": self.sass_names(),
                "ptx": self.ptx_names(),
            },
            "note": self.note,
            "problem": self.problem,
        }
