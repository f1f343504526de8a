"""`polywheel build`: the command line around pipeline/scheduler.py, and its table."""

from __future__ import annotations

import argparse
import contextlib
import os
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

from polywheel.cli_args import config_settings, no_isolation
from polywheel.cli_files import project_folder, writing
from polywheel.errors import PolywheelError, report

if TYPE_CHECKING:
    from polywheel.pipeline.warm import Workers
    from polywheel.project import Project

__all__ = ["cmd_build"]


def _size(path: Path | None) -> str:
    if path is None or not path.exists():
        return "-"
    size = float(path.stat().st_size)
    for unit in ("B", "KiB", "MiB", "GiB"):
        if size < 1024 or unit == "GiB":
            return f"{size:.0f} {unit}" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1024
    return "-"


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


def cmd_build(args: argparse.Namespace) -> int:
    from polywheel.pipeline import warm

    workers = None
    try:
        root = project_folder(args.path, "build")
        # A first build: the workers' server starts before the project is read (their
        # imports take longer than reading it), unless the entry point started it
        # already (polywheel/entry.py). An isolated build runs each build in its
        # environment's interpreter instead (pipeline/envpool.py).
        warm.start_for_build(root, isolated=not no_isolation(args))
        from polywheel.project import load_project  # after the server's start: ~70 ms

        project = load_project(root)
        config = _checked_config(args, project)
        names = list(args.variant or project.matrix.labels) or ["plain"]
        if no_isolation(args) and warm.likely_to_build(project.root, names, args.rebuild):
            # Their start overlaps this process's own. As many as the lanes may be (the
            # scheduler decides; a forked worker left idle is cheap).
            count = warm.lane_count(len(names), args.jobs, shared=True)
            workers = warm.Workers(count)
        return _build(args, project, config, workers)
    finally:
        if workers is not None:
            workers.close(stop=True)  # after a failure or a signal: what still runs
        else:
            warm.stop_forkserver()  # started early and not needed; none: nothing to do


def _checked_config(args: argparse.Namespace, project: Project) -> dict[str, str | list[str]]:
    from polywheel.errors import SelectionError
    from polywheel.matrix.requests import OWN_KEYS

    config = config_settings(args.config_setting or ())
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
    return config


def _build(
    args: argparse.Namespace,
    project: Project,
    config: dict[str, str | list[str]],
    workers: Workers | None,
) -> int:
    from polywheel.audit.report import summary
    from polywheel.cli_files import indexable_output, output_folder
    from polywheel.conformance.files import check_paths
    from polywheel.pipeline import scheduler
    from polywheel.pipeline.buildenv import own_scripts_on_path

    out = Path(args.outdir)
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
            workers=workers,
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
