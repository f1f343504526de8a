"""`polywheel audit`: does the machine code in a wheel match the variant it claims?

Every ELF file in the wheel is decoded (x86-64 instructions, CUDA fat binaries), and
each well-known namespace compares what was found with what the wheel's variant.json
claims of it. A wheel without variant.json is a plain wheel: it installs anywhere, so
its CPU code must run on the baseline.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from polywheel.audit.binary import NO_ALLOW, AuditAllow, BinaryAudit
from polywheel.audit.elf import DECODE_ERRORS, open_elf
from polywheel.audit.fatbin import read_fatbins
from polywheel.audit.x86 import decode_x86
from polywheel.errors import WheelFormatError
from polywheel.namespaces import KNOWN, AuditFinding
from polywheel.wheel.reader import open_wheel
from polywheel.wheel.variant_json import check_variant_json

__all__ = ["WheelAudit", "audit_binary", "audit_paths", "audit_wheel", "judge"]

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


def audit_binary(
    name: str, data: bytes | bytearray, allow: AuditAllow = NO_ALLOW, jobs: int = 1
) -> BinaryAudit | None:
    """None for a file that is not ELF. A file that lies about its layout is answered
    with a `problem`, never an exception, after bounded work."""
    if not data.startswith(b"\x7fELF"):
        return None
    try:
        elf = open_elf(data)
        machine = str(elf["e_machine"])
    except DECODE_ERRORS as exc:
        return BinaryAudit(name, "unknown", problem=f"unreadable ELF: {exc}")
    if machine == "EM_X86_64":
        audit = BinaryAudit(name, "x86_64")
    elif machine == "EM_AARCH64":
        audit = BinaryAudit(name, "aarch64", note="aarch64 code is not decoded yet (only CUDA)")
    else:
        audit = BinaryAudit(name, machine, note="this architecture is not decoded")
    try:
        if audit.machine == "x86_64":
            decode_x86(elf, data, audit, allow, jobs)
        read_fatbins(elf, data, audit)
    except DECODE_ERRORS as exc:
        audit.problem = f"{type(exc).__name__}: {exc}"
    finally:
        elf.stream.close()
    return audit


def judge(wheel: str, binaries: list[BinaryAudit], doc: Any | None) -> WheelAudit:
    """Compare decoded binaries with a variant.json (None: judge them as a plain wheel)."""
    label, claims = next(iter(doc["variants"].items())) if doc is not None else (None, None)
    findings: list[AuditFinding] = [
        ("error", f"cannot decode {b.name!r}: {b.problem}; its code was not checked")
        for b in binaries
        if b.problem
    ]
    for namespace in KNOWN.values():
        scope = None if claims is None else claims.get(namespace.name, {})
        findings += namespace.audit(scope, binaries)
    return WheelAudit(wheel, label, claims, binaries, findings)


def audit_wheel(path: Path, allow: AuditAllow = NO_ALLOW, jobs: int = 1) -> WheelAudit:
    """`jobs` > 1 decodes each large library in that many processes (`polywheel audit`
    does; builds do not, their other cores are compiling)."""
    binaries: list[BinaryAudit] = []
    with open_wheel(path) as reader:
        doc = reader.variant_json()
        for info in reader.files:
            if info.file_size < 64:
                continue
            with reader.open_member(info.filename) as f:
                if f.read(4) != b"\x7fELF":
                    continue
            data = reader.read_buffer(info.filename)
            result = audit_binary(info.filename, data, allow.for_binary(info.filename), jobs)
            del data  # one library in memory at a time
            if result is not None:
                binaries.append(result)
    if doc is not None:
        check_variant_json(doc, path.name, expected_label=reader.name.label)
    elif reader.name.label is not None:
        raise WheelFormatError(f"{path.name}: a labelled wheel must contain variant.json")
    return judge(path.name, binaries, doc)


def audit_paths(paths: Sequence[Path], allow: AuditAllow, jobs: int = 1) -> list[WheelAudit]:
    wheels: list[Path] = []
    for path in paths:
        wheels += sorted(path.glob("*.whl")) if path.is_dir() else [path]
    return [audit_wheel(w, allow, jobs) for w in wheels]
