"""The paths the command line is given, checked before any work starts, and the file
system's errors (a full disk, a folder that cannot be written, a closed pipe) turned
into one `polywheel: error: ...` line."""

from __future__ import annotations

import contextlib
import os
import sys
import tempfile
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path

from polywheel.errors import (
    PolywheelError,
    WheelFormatError,
    os_error,
    report,
)

__all__ = [
    "CLOSED_PIPE_STATUS",
    "indexable_output",
    "not_a_file",
    "output_folder",
    "project_folder",
    "report_error",
    "stdout_closed",
    "wheel_files",
    "wheels_folder",
    "writing",
]

# What a shell reports for a process that SIGPIPE ended (128 + 13), like cat or git
# whose reader went away: `set -o pipefail` sees it, and nothing is printed.
CLOSED_PIPE_STATUS = 141


def project_folder(path: str, command: str) -> Path:
    """The project folder of `polywheel build` / `matrix`; a file there is refused."""
    folder = Path(path)
    if folder.is_file():
        raise PolywheelError(
            f"polywheel {command} takes the project folder; got a file: {path}; use {folder.parent}"
        )
    if not folder.exists():
        raise PolywheelError(f"polywheel {command} takes the project folder; {path} does not exist")
    return folder


def wheels_folder(path: str) -> Path:
    """The folder `polywheel index` reads the wheels from and writes the index into."""
    folder = Path(path)
    if folder.is_file():
        raise PolywheelError(
            f"polywheel index takes the folder of the wheels; got a file: {path}; "
            f"use {folder.parent}"
        )
    if not folder.is_dir():
        raise PolywheelError(f"no such folder: {path}")
    return folder


def wheel_files(paths: Sequence[str], command: str) -> list[Path]:
    """Every argument exists and is a file, checked before the first one is touched; a
    wheel given twice is handled once."""
    for path in paths:
        if Path(path).is_dir():
            raise PolywheelError(f"polywheel {command} takes wheel files; {path} is a folder")
        if not Path(path).exists():
            raise PolywheelError(f"no such file: {path}")
    unique = {Path(p).resolve(): Path(p) for p in reversed(paths)}
    return list(reversed(unique.values()))


def not_a_file(folder: Path, option: str) -> None:
    if folder.exists() and not folder.is_dir():
        raise PolywheelError(
            f"{option} {folder} is a file; the output must be a folder (it is created if missing)"
        )


def output_folder(folder: Path, option: str = "-o") -> None:
    """Create the output folder and write into it once, before anything is built: a
    folder that cannot be written fails now, not after the builds."""
    not_a_file(folder, option)
    with writing(folder):
        folder.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryFile(dir=folder):
            pass


def indexable_output(folder: Path, distribution: str, labels: Iterable[str]) -> None:
    """`polywheel build` writes the index from every variant wheel in its output folder:
    one it cannot read (or a `.whl` not named like a wheel) is refused before the builds,
    not after them, unless it is a wheel of `distribution` this build will replace."""
    from packaging.utils import canonicalize_name

    from polywheel.index import read_wheel_variant_json
    from polywheel.wheel.filename import parse_wheel_name

    rebuilt = set(labels)
    for path in sorted(folder.glob("*.whl")):
        try:
            name = parse_wheel_name(path.name)
            if name.label is None or (
                name.label in rebuilt
                and canonicalize_name(name.distribution) == canonicalize_name(distribution)
            ):
                continue
            read_wheel_variant_json(path)
        except WheelFormatError as exc:
            raise PolywheelError(
                f"cannot index the output folder {folder}: {exc.message}",
                hint="polywheel build writes the index file from every variant wheel in the "
                "output folder; remove that file, or build into another folder (-o)",
            ) from None


@contextlib.contextmanager
def writing(folder: Path) -> Iterator[None]:
    """An OSError while writing into `folder` becomes a PolywheelError (`os_error`).

    A closed standard output (BrokenPipeError) is not a write into `folder`; it passes.
    """
    try:
        yield
    except BrokenPipeError:
        raise
    except OSError as exc:
        raise os_error(exc, folder) from None


def _silence_stdout() -> None:
    """Point stdout at the null device, so that what is still buffered for a closed pipe
    is dropped instead of failing again when Python exits."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        os.close(devnull)
    except (OSError, ValueError):
        pass


def stdout_closed() -> int:
    """The reader of our output went away (`polywheel matrix | head -1`): stop quietly."""
    _silence_stdout()
    return CLOSED_PIPE_STATUS


def report_error(error: PolywheelError) -> None:
    """`errors.report`, also when stdout is a closed pipe (it flushes stdout first)."""
    try:
        sys.stdout.flush()
    except BrokenPipeError:
        _silence_stdout()
    report(error)
