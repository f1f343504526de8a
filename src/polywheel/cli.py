"""The `polywheel` command line: matrix, build, index."""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Sequence
from pathlib import Path

from polywheel import __version__
from polywheel.cli_args import add_build_arguments
from polywheel.cli_build import cmd_build
from polywheel.cli_files import (
    project_folder,
    report_error,
    stdout_closed,
    wheel_files,
    wheels_folder,
    writing,
)
from polywheel.errors import PolywheelError, os_error
from polywheel.pipeline.faults import Interrupted, interruptible, remove_leftovers
from polywheel.repair import DEFAULT_REPAIR

__all__ = ["main"]


def _cmd_matrix(args: argparse.Namespace) -> int:
    from polywheel.matrix.show import matrix_document, matrix_rows, matrix_text
    from polywheel.project import load_project

    project = load_project(project_folder(args.path, "matrix"))
    rows = matrix_rows(project.matrix)
    if args.labels:
        # For CI: a JSON list to feed a job matrix, one job per variant.
        print(json.dumps([row["label"] for row in rows]))
    elif args.json:
        doc = matrix_document(project.settings.format, project.matrix, rows)
        print(json.dumps(doc, indent=2))
    else:
        print("\n".join(matrix_text(project.matrix, rows)))
    return 0


def _cmd_audit(args: argparse.Namespace) -> int:
    from polywheel.audit.binary import AuditAllow
    from polywheel.audit.report import render
    from polywheel.audit.wheel import audit_paths

    allow = AuditAllow(tuple(args.allow_function or ()), tuple(args.allow_section or ()))
    paths = [Path(p) for p in args.wheels]
    missing = [str(p) for p in paths if not p.exists()]
    if missing:
        raise PolywheelError(f"no such file or folder: {', '.join(missing)}")
    empty = [str(p) for p in paths if p.is_dir() and not any(p.glob("*.whl"))]
    if empty:
        raise PolywheelError(f"no wheels to audit in {', '.join(empty)}")
    results = audit_paths(paths, allow, max(1, args.jobs))
    if args.json:
        print(json.dumps([r.to_json() for r in results], indent=2))
    else:
        print("\n\n".join(render(r) for r in results))
    return 1 if any(r.verdict == "error" for r in results) else 0


def _cmd_index(args: argparse.Namespace) -> int:
    from polywheel.index import write_indexes

    folder = wheels_folder(args.folder)
    with writing(folder):
        remove_leftovers(folder)
        written = write_indexes(folder)
    if not written:
        print(f"no variant wheels in {folder}", file=sys.stderr)
        return 1
    for path in written:
        print(path)
    return 0


def _cmd_check(args: argparse.Namespace) -> int:
    from polywheel.conformance.files import check_paths

    paths = [Path(p) for p in args.paths]
    missing = [str(p) for p in paths if not p.exists()]
    if missing:
        raise PolywheelError(f"no such file or folder: {', '.join(missing)}")
    findings = check_paths(paths)
    for finding in findings:
        if finding.is_error or not args.errors_only:
            print(finding)
    errors = sum(f.is_error for f in findings)
    sys.stdout.flush()  # the findings first, also when stdout is a pipe
    print(f"{errors} error(s), {len(findings) - errors} warning(s)", file=sys.stderr)
    return 1 if errors else 0


def _cmd_relabel(args: argparse.Namespace) -> int:
    from polywheel.cli_files import not_a_file
    from polywheel.relabel import publish, relabel_target

    wheels = wheel_files(args.wheels, "relabel")
    out = Path(args.outdir) if args.outdir else None
    if out is not None:
        not_a_file(out, "-o")
    # Every wheel is checked before the first one is renamed or copied.
    targets = [relabel_target(wheel, out) for wheel in wheels]
    for folder in dict.fromkeys(t.parent for t in targets):
        with writing(folder):
            remove_leftovers(folder)
    for wheel, target in zip(wheels, targets, strict=True):
        with writing(target.parent):
            print(publish(wheel, target, move=out is None))
    return 0


def _cmd_repair(args: argparse.Namespace) -> int:
    from polywheel.cli_files import not_a_file
    from polywheel.repair import repair_wheel

    command = args.command_args or DEFAULT_REPAIR
    wheels = wheel_files(args.wheels, "repair")
    out = Path(args.wheel_dir)
    not_a_file(out, "-w")
    with writing(out):
        remove_leftovers(out)
    for wheel in wheels:
        with writing(out):
            print(repair_wheel(wheel, out, command))
    return 0


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="polywheel", description="Build variant wheels of CMake projects."
    )
    parser.add_argument("--version", action="version", version=f"polywheel {__version__}")
    sub = parser.add_subparsers(
        dest="command", required=True, metavar="{matrix,build,index,check,audit,relabel,repair}"
    )

    matrix = sub.add_parser("matrix", help="print the expanded variant matrix")
    matrix.add_argument("path", nargs="?", default=".", help="project folder (default: .)")
    matrix.add_argument("--json", action="store_true", help="machine-readable output")
    matrix.add_argument("--labels", action="store_true", help="only the labels, as a JSON list")
    matrix.set_defaults(func=_cmd_matrix)

    build = sub.add_parser("build", help="build every variant, the plain wheel and the index file")
    add_build_arguments(build)
    build.set_defaults(func=cmd_build)

    index = sub.add_parser(
        "index", help="write {name}-{version}-variants.json for the wheels in a folder"
    )
    index.add_argument("folder")
    index.set_defaults(func=_cmd_index)

    check = sub.add_parser(
        "check", help="check wheels, folders and index files against the PEP 825 rules"
    )
    check.add_argument("paths", nargs="+", metavar="PATH")
    check.add_argument("--errors-only", action="store_true", help="do not print warnings")
    check.set_defaults(func=_cmd_check)

    relabel = sub.add_parser(
        "relabel", help="rename wheels built with -C defer-label=true to their labelled names"
    )
    relabel.add_argument("wheels", nargs="+", metavar="WHEEL")
    relabel.add_argument("-o", "--outdir", help="copy into this folder (default: rename in place)")
    relabel.set_defaults(func=_cmd_relabel)

    repair = sub.add_parser(
        "repair",
        help="strip the label, run auditwheel (or another repair tool), relabel",
        description="Everything after -- is the repair command, with {wheel} and {dest_dir} "
        f"placeholders (default: {DEFAULT_REPAIR}).",
    )
    repair.add_argument("wheels", nargs="+", metavar="WHEEL")
    repair.add_argument(
        "-w", "--wheel-dir", default="wheelhouse", help="output (default: wheelhouse)"
    )
    repair.set_defaults(func=_cmd_repair, command_args=None)

    audit = sub.add_parser(
        "audit", help="check that the machine code in wheels matches their variant"
    )
    audit.add_argument("wheels", nargs="+", metavar="WHEEL", help="wheels or folders")
    audit.add_argument(
        "--allow-function",
        action="append",
        metavar="GLOB",
        help="runtime-dispatched functions to report separately (repeatable)",
    )
    audit.add_argument(
        "--allow-section",
        action="append",
        metavar="GLOB",
        help="ELF sections of runtime-dispatched code (repeatable)",
    )
    audit.add_argument("--json", action="store_true", help="machine-readable output")
    cpus = os.cpu_count() or 1
    jobs_help = "processes that decode one large library (default: the number of CPUs)"
    audit.add_argument("-j", "--jobs", type=int, default=cpus, help=jobs_help)
    audit.set_defaults(func=_cmd_audit)

    return parser


def main(argv: Sequence[str] | None = None) -> int:
    arguments = list(sys.argv[1:] if argv is None else argv)
    tool: list[str] | None = None
    if "--" in arguments:
        cut = arguments.index("--")
        arguments, tool = arguments[:cut], arguments[cut + 1 :]
    args = _parser().parse_args(arguments)
    if tool is not None:
        if args.command != "repair":
            print(
                "polywheel: error: only `polywheel repair` takes a command after --",
                file=sys.stderr,
            )
            return 2
        args.command_args = tool
    try:
        with interruptible():
            status = int(args.func(args))
            sys.stdout.flush()  # a closed pipe shows here when the output was buffered
        return status
    except BrokenPipeError:
        return stdout_closed()
    except PolywheelError as exc:
        report_error(exc)
        return 1
    except OSError as exc:
        # The file system's refusal (unreadable, full, read-only), not a bug in polywheel.
        report_error(os_error(exc))
        return 1
    except Interrupted as stop:
        done = (
            "stopped the builds and removed their scratch files; no index file was written"
            if args.command == "build"
            else "removed its scratch files; nothing was left half-written"
        )
        print(f"polywheel: {args.command} interrupted by {stop.name}: {done}", file=sys.stderr)
        return stop.exit_status
    except KeyboardInterrupt:
        print("polywheel: interrupted", file=sys.stderr)
        return 130
