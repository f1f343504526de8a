"""Every error polywheel raises for bad input or a failed build.

Library code raises these; only the PEP 517 hooks and the command line turn them into
an exit status, so tests can assert on ``key`` and the message.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable

__all__ = [
    "BuildError",
    "ConfigError",
    "IndexMergeError",
    "PolywheelError",
    "SelectionError",
    "WheelFormatError",
    "close_matches_hint",
]


class PolywheelError(Exception):
    """Base class: a message for the user, optionally the offending key and a hint."""

    def __init__(self, message: str, *, key: str | None = None, hint: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.key = key
        self.hint = hint

    def __str__(self) -> str:
        text = f"`{self.key}`: {self.message}" if self.key else self.message
        if self.hint:
            text += f"\n  hint: {self.hint}"
        return text


class ConfigError(PolywheelError):
    """pyproject.toml (`[tool.variants]`, `[variant]`) is invalid."""


class SelectionError(PolywheelError):
    """A config-setting or command-line option asks for something the matrix lacks."""


class BuildError(PolywheelError):
    """One variant's CMake build failed or produced something polywheel must not label."""

    def __init__(
        self,
        message: str,
        *,
        label: str | None = None,
        log: str | None = None,
        hint: str | None = None,
    ) -> None:
        prefix = f"variant {label!r}: " if label else ""
        super().__init__(prefix + message, hint=hint)
        self.reason = message
        self.label = label
        self.log = log


class WheelFormatError(PolywheelError):
    """A wheel or variant.json is malformed."""


class IndexMergeError(PolywheelError):
    """Variant wheels of one release disagree, so no index file can be written."""


def close_matches_hint(word: str, candidates: Iterable[str]) -> str | None:
    """A 'did you mean' hint naming up to three close candidates, or None."""
    matches = difflib.get_close_matches(word, sorted(candidates), n=3, cutoff=0.6)
    if not matches:
        return None
    return "did you mean " + " or ".join(f"`{m}`" for m in matches) + "?"
