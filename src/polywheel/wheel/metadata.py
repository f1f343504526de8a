"""Core metadata edits a variant needs: its own `Requires-Dist` entries."""

from __future__ import annotations

from collections.abc import Sequence

__all__ = ["add_requires"]


def add_requires(metadata: bytes, requires: Sequence[str]) -> bytes:
    """METADATA with `Requires-Dist` lines added for requirements it does not list yet."""
    if not requires:
        return metadata
    text = metadata.decode()
    head, sep, body = text.partition("\n\n")
    existing = {
        line.split(":", 1)[1].strip()
        for line in head.splitlines()
        if line.startswith("Requires-Dist:")
    }
    lines = [f"Requires-Dist: {r}" for r in dict.fromkeys(requires) if r not in existing]
    if not lines:
        return metadata
    new_head = head.rstrip("\n") + "\n" + "\n".join(lines)
    return (new_head + (sep + body if sep else "\n")).encode()
