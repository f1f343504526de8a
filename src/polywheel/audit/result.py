"""What the audit concluded about one wheel (audit/wheel.py decodes it): what its
variant.json claims, what its binaries need, and the findings that compare them."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from typing import Any

from polywheel.audit.binary import BinaryAudit
from polywheel.namespaces import AuditFinding

__all__ = ["Claims", "WheelAudit"]

Claims = Mapping[str, Mapping[str, Sequence[str]]]


@dataclasses.dataclass
class WheelAudit:
    wheel: str
    label: str | None
    # {namespace: {feature: values}} from variant.json; None for a plain wheel.
    claims: Claims | None
    binaries: list[BinaryAudit]
    findings: list[AuditFinding]

    @property
    def claimed_level(self) -> int | None:
        levels = list((self.claims or {}).get("x86_64", {}).get("level", ()))
        return int(levels[0][1:]) if len(levels) == 1 and levels[0][1:].isdigit() else None

    @property
    def claimed_sm(self) -> frozenset[str]:
        return frozenset((self.claims or {}).get("nvidia", {}).get("sm_arch", ()))

    @property
    def needed_level(self) -> int:
        return max((b.level for b in self.binaries), default=1)

    @property
    def verdict(self) -> str:
        severities = {s for s, _ in self.findings}
        return "error" if "error" in severities else "warning" if severities else "ok"

    def to_json(self) -> dict[str, Any]:
        return {
            "wheel": self.wheel,
            "label": self.label,
            "plain": self.claims is None,
            "claimed_level": f"v{self.claimed_level}" if self.claimed_level else None,
            "claimed_sm_arch": sorted(self.claimed_sm),
            "needed_level": f"v{self.needed_level}",
            "verdict": self.verdict,
            "findings": [{"severity": s, "message": m} for s, m in self.findings],
            "binaries": [b.to_json() for b in self.binaries],
        }
