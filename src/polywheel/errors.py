"""Every error polywheel raises for bad input or a failed build, and the one boundary
that turns them into messages.

Library code raises these and carries them as objects (worker processes return them
whole, hint and log included); only `boundary` and `report` turn them into text and an
exit status, for the PEP 517 hooks and the command line alike.
"""

from __future__ import annotations

import contextlib
import difflib
import sys
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any, TextIO

__all__ = [
    "BuildError",
    "ConfigError",
    "IndexMergeError",
    "PolywheelError",
    "SelectionError",
    "WheelFormatError",
    "boundary",
    "close_matches_hint",
    "os_error",
    "report",
    "shown",
]


class PolywheelError(Exception):
    """Base class: a message for the user, and where known the key, variant, hint and log."""

    def __init__(
        self,
        message: str,
        *,
        key: str | None = None,
        hint: str | None = None,
        label: str | None = None,
        log: str | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.key = key
        self.hint = hint
        self.label = label
        self.log = log

    def __reduce__(self) -> tuple[Any, ...]:
        # Keyword-only fields do not survive the default pickling of exceptions, and
        # worker processes send these objects back whole.
        fields = {"key": self.key, "hint": self.hint, "label": self.label, "log": self.log}
        return (_rebuild, (type(self), self.message, fields))

    @property
    def headline(self) -> str:
        """The one-line message: variant and key first, without the hint."""
        text = f"`{self.key}`: {self.message}" if self.key else self.message
        return f"variant {self.label!r}: {text}" if self.label else text

    def __str__(self) -> str:
        return self.headline + (f"\n  hint: {self.hint}" if self.hint else "")


def _rebuild(cls: type[PolywheelError], message: str, fields: dict[str, Any]) -> PolywheelError:
    error = cls.__new__(cls)
    PolywheelError.__init__(error, message, **fields)
    return error


class ConfigError(PolywheelError):
    """pyproject.toml (`[tool.variants]`, `[variant]`) is invalid."""


class SelectionError(PolywheelError):
    """A config-setting or command-line option asks for something the matrix lacks."""


class BuildError(PolywheelError):
    """One variant's CMake build failed or produced something polywheel must not label."""


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


def _within(path: Path, folder: Path) -> bool:
    return path.absolute().is_relative_to(folder.absolute())


def os_error(exc: OSError, folder: Path | None = None) -> PolywheelError:
    """`cannot write PATH: reason` for a failure inside `folder` (the folder itself when
    the file is a hidden scratch file or unnamed, as for a full disk); `PATH: reason`
    for anything else."""
    reason = exc.strerror or str(exc)
    named = [Path(p) for p in (exc.filename2, exc.filename) if isinstance(p, (str, Path))]
    if folder is not None:
        inside = [p for p in named if _within(p, folder)]
        if inside or not named:
            shown = next((p for p in inside if not p.name.startswith(".")), folder)
            return PolywheelError(f"cannot write {shown}: {reason}")
    return PolywheelError(f"{named[0]}: {reason}" if named else reason)


# The longest line polywheel prints of what it was given: a 10 MB label in an index
# file is named, not echoed.
MAX_SHOWN = 1000


def shown(text: str, limit: int = MAX_SHOWN, *, keep_newlines: bool = False) -> str:
    """`text` as it may reach a terminal or CI log: every non-printable character (escape
    sequences, newlines that would forge a line, NUL, bidi overrides) written as its
    Python escape, and cut to `limit` characters."""
    if keep_newlines:
        return "\n".join(shown(line, limit) for line in text.split("\n"))
    if len(text) > limit:
        text = f"{text[:limit]}... ({len(text) - limit} more characters)"
    if text.isprintable():
        return text
    return "".join(c if c.isprintable() else repr(c)[1:-1] for c in text)


def report(error: PolywheelError, stream: TextIO | None = None) -> None:
    """Print one error the way every entry point does: `polywheel: error: ...`."""
    out = stream or sys.stderr
    sys.stdout.flush()
    print(f"polywheel: error: {shown(str(error), keep_newlines=True)}", file=out, flush=True)
    if error.log:
        print(f"  log: {shown(str(error.log))}", file=out, flush=True)


@contextlib.contextmanager
def boundary() -> Iterator[None]:
    """The PEP 517 hooks' boundary: a polywheel error becomes a message and exit status 1.

    Anything else is a bug in polywheel and keeps its traceback.
    """
    try:
        yield
    except PolywheelError as exc:
        report(exc)
        raise SystemExit(1) from None
    except OSError as exc:
        # The file system's refusal (unreadable, full, read-only), not a bug.
        report(os_error(exc))
        raise SystemExit(1) from None
