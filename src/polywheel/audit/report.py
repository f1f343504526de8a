"""The human-readable audit report."""

from __future__ import annotations

from collections import Counter

from polywheel.audit.result import WheelAudit
from polywheel.errors import shown
from polywheel.namespaces.x86_64 import LEVEL_FEATURES

__all__ = ["render", "summary"]


def render(audit: WheelAudit) -> str:
    """A human report: per binary, the level, counts per extension, the hot functions."""
    lines = [f"{audit.wheel}"]
    if audit.claims is None:
        lines.append("  claims: nothing (a plain wheel: it must run on every x86-64 CPU)")
    else:
        claim = f"x86-64-v{audit.claimed_level}" if audit.claimed_level else "no x86-64 level"
        sm = ", ".join(sorted(audit.claimed_sm)) or "no GPU architectures"
        lines.append(f"  claims: {claim}; {sm}")
    for binary in audit.binaries:
        lines.append(f"  {shown(binary.name)} [{binary.machine}]")
        if binary.note:
            lines.append(f"    note: {binary.note}")
        if binary.machine == "x86_64":
            lines.append(f"    needs x86-64-v{binary.level} ({binary.instructions} instructions)")
            for level in (4, 3, 2):
                names = sorted(
                    f for f, n in binary.features.items() if n and f in LEVEL_FEATURES[level]
                )
                if names:
                    counts = ", ".join(f"{n} {binary.features[n]}" for n in names)
                    lines.append(f"    v{level}: {counts}")
                    top = binary.functions.get(level, Counter()).most_common(3)
                    if top:
                        lines.append(
                            "      in: " + ", ".join(f"{shown(f, 200)} ({n})" for f, n in top)
                        )
            if binary.other:
                lines.append(
                    "    outside the levels: "
                    + ", ".join(f"{k} {v}" for k, v in binary.other.most_common())
                )
            if binary.allowed:
                lines.append(
                    f"    allowed (runtime dispatch, up to v{binary.allowed_level}): "
                    + ", ".join(f"{shown(f, 200)} ({n})" for f, n in binary.allowed.most_common(5))
                )
        if binary.sass or binary.ptx:
            sass = ", ".join(binary.sass_names()) or "none"
            ptx = ", ".join(f"{a} (PTX {v})" for a, v in binary.ptx_names().items()) or "none"
            lines.append(f"    CUDA SASS: {sass}; PTX: {ptx}")
    for severity, message in audit.findings:
        lines.append(f"  {severity}: {shown(message)}")
    lines.append(f"  verdict: {audit.verdict}")
    return "\n".join(lines)


def _by_number(name: str) -> tuple[int, str]:
    return int(name[3:].rstrip("af")), name


def summary(audit: WheelAudit | None) -> str:
    """One cell of a summary: the verdict and what the code needs, e.g. `ok (v3)`."""
    if audit is None:
        return "off"
    gpu = sorted({a for b in audit.binaries for a in b.sass_names()}, key=_by_number)
    detail = f"v{audit.needed_level}" + (" " + ",".join(gpu) if gpu else "")
    return f"{audit.verdict} ({detail})"
