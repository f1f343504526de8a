"""The arguments of `polywheel build`, and the environment variables that stand for them."""

from __future__ import annotations

import argparse
import os
from collections.abc import Sequence

__all__ = ["NO_ISOLATION_ENV", "add_build_arguments", "config_settings", "no_isolation"]

# For CI jobs and test suites that prepare the environment themselves, like
# `python -m build --no-isolation`.
NO_ISOLATION_ENV = "POLYWHEEL_NO_ISOLATION"


def no_isolation(args: argparse.Namespace) -> bool:
    if args.isolation is not None:
        return not args.isolation
    return os.environ.get(NO_ISOLATION_ENV, "").strip().lower() in {"1", "true", "yes", "on"}


def config_settings(pairs: Sequence[str]) -> dict[str, str | list[str]]:
    """`-C KEY=VALUE` options as a PEP 517 config_settings dict (a repeated key: a list)."""
    settings: dict[str, str | list[str]] = {}
    for pair in pairs:
        key, _, value = pair.partition("=")
        if key in settings:
            old = settings[key]
            settings[key] = [*(old if isinstance(old, list) else [old]), value]
        else:
            settings[key] = value
    return settings


def add_build_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("path", nargs="?", default=".", help="project folder (default: .)")
    parser.add_argument("-o", "--outdir", default="dist", help="output folder (default: dist)")
    parser.add_argument(
        "--variant", action="append", metavar="LABEL", help="build only this variant (repeatable)"
    )
    parser.add_argument(
        "-j", "--jobs", type=int, default=2, help="total parallel jobs (default: 2)"
    )
    parser.add_argument(
        "--no-plain", action="store_true", help="do not write the plain, non-variant wheel"
    )
    parser.add_argument(
        "--rebuild",
        action="store_true",
        help="run every build even when its inputs are unchanged since the last one",
    )
    parser.add_argument(
        "-C",
        "--config-setting",
        action="append",
        metavar="KEY=VALUE",
        help="passed to scikit-build-core, e.g. -C cmake.build-type=Debug",
    )
    isolation = parser.add_mutually_exclusive_group()
    isolation.add_argument(
        "--no-isolation",
        dest="isolation",
        action="store_false",
        default=None,
        help="build with this interpreter's packages (they must satisfy "
        f"build-system.requires) instead of an isolated build environment; {NO_ISOLATION_ENV}=1 "
        "does the same",
    )
    isolation.add_argument(
        "--isolation",
        dest="isolation",
        action="store_true",
        help=f"build in an isolated build environment (the default), despite {NO_ISOLATION_ENV}",
    )
