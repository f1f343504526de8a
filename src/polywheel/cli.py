"""The `polywheel` command line: matrix, build, index."""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import sys
from collections.abc import Iterator, Sequence
from pathlib import Path

from polywheel import __version__
from polywheel.cli_args import add_build_arguments, no_isolation
from polywheel.cli_files import (
    project_folder,
    report_error,
    stdout_closed,
    wheel_files,
    wheels_folder,
    writing,
)
from polywheel.errors import PolywheelError, os_error, report
from polywheel.pipeline.faults import Interrupted, interruptible, remove_leftovers
from polywheel.repair import DEFAULT_REPAIR

__all__ = ["main"]


def _config_settings(pairs: Sequence[str]) -> dict[str, str | list[str]]:
    settings: dict[str, str | list[str]] = {}
    for pair in pairs:
        key, _, value = pair.partition("=")
        if key in settings:
            old = settings[key]
            settings[key] = [*(old if isinstance(old, list) else [old]), value]
        else:
            settings[key] = value
    return settings


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


def _size(path: Path | None) -> str:
    if path is None or not path.exists():
        return "-"
    size = float(path.stat().st_size)
    for unit in ("B", "KiB", "MiB", "GiB"):
        if size < 1024 or unit == "GiB":
            return f"{size:.0f} {unit}" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1024
    return "-"


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


@contextlib.contextmanager
def _removed_if_left_empty(folder: Path, created: bool) -> Iterator[None]:
    """A run refused before it wrote anything (an unmet requirement) leaves no empty
    output folder it created."""
    try:
        yield
    except PolywheelError:
        if created and folder.is_dir() and not any(folder.iterdir()):
            folder.rmdir()
        raise


def _cmd_build(args: argparse.Namespace) -> int:
    from polywheel.audit.report import summary
    from polywheel.cli_files import indexable_output, output_folder
    from polywheel.conformance.files import check_paths
    from polywheel.errors import SelectionError
    from polywheel.matrix.selection import OWN_KEYS
    from polywheel.pipeline import scheduler
    from polywheel.pipeline.buildenv import own_scripts_on_path
    from polywheel.project import load_project

    project = load_project(project_folder(args.path, "build"))
    out = Path(args.outdir)
    config = _config_settings(args.config_setting or ())
    own = sorted(set(config) & set(OWN_KEYS))
    if own == ["defer-label"]:
        raise SelectionError(
            "-C defer-label is for PEP 517 builds of one variant (cibuildwheel); "
            "`polywheel build` writes labelled wheels, and `polywheel relabel` does the rest"
        )
    if own:
        raise SelectionError(
            f"-C {own[0]} selects variants in PEP 517 builds; `polywheel build` takes "
            "--variant LABEL instead (and builds every variant by default)"
        )
    for label in args.variant or ():
        project.matrix.get(label)  # an unknown label is refused before -o is created
    created = not out.exists()
    output_folder(out)
    own_scripts_on_path(os.environ)
    if project.matrix.variants:
        indexable_output(out, project.name, args.variant or project.matrix.labels)
    with writing(out), _removed_if_left_empty(out, created):
        result = scheduler.build_matrix(
            project,
            out,
            labels=args.variant or (),
            jobs=args.jobs,
            plain=not args.no_plain,
            config_settings=config,
            emit=lambda line: print(line, flush=True),
            rebuild=args.rebuild,
            isolation=not no_isolation(args),
        )
    rows = [("label", "wheel", "size", "time", "audit")]
    for item in result.variants:
        if item.built is None:
            status = f"FAILED (log: {item.log})"
            rows.append((item.name, status, "-", f"{item.seconds:.1f}s", "-"))
            continue
        done = item.built
        if done.wheel:
            seconds = "unchanged" if item.cached else f"{item.seconds:.1f}s"
            rows.append(
                (item.name, done.wheel.name, _size(done.wheel), seconds, summary(done.audit))
            )
        if done.plain:
            reused = "reused" if done.wheel else f"{item.seconds:.1f}s"
            rows.append(
                (
                    "(plain)",
                    done.plain.name,
                    _size(done.plain),
                    reused,
                    summary(done.plain_audit),
                )
            )
    widths = [max(len(r[i]) for r in rows) for i in range(5)]
    print()
    for i, row in enumerate(rows):
        print("  ".join(cell.ljust(widths[j]) for j, cell in enumerate(row)).rstrip())
        if i == 0:
            print("  ".join("-" * w for w in widths))
    for item in result.variants:
        for message in item.built.warnings if item.built else ():
            print(f"polywheel: warning: variant {item.name!r}: {message}", file=sys.stderr)
    for index in result.indexes:
        print(f"\nindex: {index}")
    built = [p for v in result.variants if v.built for p in v.built.written]
    if built:
        findings = check_paths([*built, *result.indexes])
        errors = [f for f in findings if f.is_error]
        for finding in errors:
            print(f"polywheel: check: {finding}", file=sys.stderr)
        warnings = len(findings) - len(errors)
        print(
            f"check: {len(built)} wheel(s), {len(result.indexes)} index file(s): "
            f"{len(errors)} error(s), {warnings} warning(s) (details: polywheel check {out})"
        )
        if errors:
            return 1
    if result.index_note:
        print(f"\n{result.index_note}")
    if result.index_error:
        print(file=sys.stderr)
        report(result.index_error)
        return 1
    if not result.ok:
        failed = [v for v in result.variants if v.error]
        for failure in failed:
            assert failure.error is not None
            print(file=sys.stderr)
            report(failure.error)
        print(
            f"polywheel: {len(failed)} variant(s) failed; no index file was written",
            file=sys.stderr,
        )
        return 1
    return 0


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
    build.set_defaults(func=_cmd_build)

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
