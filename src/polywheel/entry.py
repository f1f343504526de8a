"""The `polywheel` command's entry point (`python -m polywheel` and the script).

A first `polywheel build` waits about a quarter of a second for its workers' server,
which imports scikit-build-core before any variant can start configuring; importing the
command line first (argparse, the commands and what they import, about 60 ms) only
delays that. So the arguments of `build` are read here first, with the command's own
definitions (cli_args.py) and nothing else, and the server starts before the command
line is imported. The command line then reads the arguments again, as for any command,
and finds the server running; arguments this first look does not fully understand
start nothing here.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence
from pathlib import Path
from typing import NoReturn

__all__ = ["main", "start_build_workers"]


def start_build_workers(argv: Sequence[str]) -> bool:
    """Start the workers' server if `argv` is a `polywheel build` that will build in
    this interpreter (pipeline/warm.py decides); whether it did."""
    if not argv or argv[0] != "build" or "--" in argv:
        return False
    import argparse

    from polywheel.cli_args import add_build_arguments, no_isolation

    class FirstLook(argparse.ArgumentParser):
        def error(self, message: str) -> NoReturn:
            raise ValueError(message)  # the command line reports it, not this look

    parser = FirstLook(add_help=False)
    add_build_arguments(parser)
    try:
        args, unknown = parser.parse_known_args(argv[1:])
    except (ValueError, argparse.ArgumentError):
        return False
    if unknown:
        return False
    from polywheel.pipeline import warm

    try:
        return warm.start_for_build(Path(args.path), isolated=not no_isolation(args))
    except OSError:
        return False  # the command line starts it again, and reports what fails


def main() -> int:
    start_build_workers(sys.argv[1:])
    from polywheel.cli import main as command_line

    return command_line()
