"""What a PEP 517 `build_wheel` / `build_editable` call builds: the selected variants (or
the plain wheel), each through `build_variant`, published only when all succeeded."""

from __future__ import annotations

import sys
from collections.abc import Mapping
from pathlib import Path

from polywheel.cmake.compiler_cache import sharing
from polywheel.errors import BuildError, SelectionError
from polywheel.matrix.selection import Selection
from polywheel.pipeline.variant import BuiltVariant, VariantJob, build_variant
from polywheel.project import Project
from polywheel.wheel.reader import open_wheel
from polywheel.wheel.writer import staging_dir

__all__ = ["build_selection"]


def _check_prepared(wheel: Path, metadata_directory: str) -> None:
    prepared = next(Path(metadata_directory).glob("*.dist-info"), None)
    if prepared is None:
        return
    with open_wheel(wheel) as reader:
        for name in ("METADATA", "variant.json"):
            before = prepared / name
            if (before.read_bytes() if before.is_file() else None) != reader.dist_info_file(name):
                raise BuildError(
                    f"inconsistent metadata between prepare_metadata_for_build_wheel and "
                    f"build_wheel: {name} differs; pass the same -C options to both"
                )


def _jobs(
    project: Project,
    selection: Selection,
    staging: Path,
    config_settings: Mapping[str, str | list[str]],
    *,
    editable: bool,
) -> list[VariantJob]:
    matrix = project.matrix
    if editable and len(selection.labels) > 1:
        raise SelectionError("an editable install takes at most one -C variant-label")
    if selection.plain or editable:
        spec = matrix.get(selection.labels[0]) if selection.labels else matrix.plain
        return [
            VariantJob(
                spec,
                staging,
                staging / "raw",
                config_settings,
                labelled=False,
                plain=True,
                editable=editable,
                plain_is_variant=editable and bool(selection.labels),
                cache_shared=False,
            )
        ]
    specs = [matrix.get(label) for label in selection.labels]
    shared = sharing(specs, project.settings.apply_flags)
    return [
        VariantJob(
            spec,
            staging,
            staging / spec.label,
            config_settings,
            defer_label=selection.defer_label,
            cache_shared=spec.label in shared,
        )
        for spec in specs
    ]


def _say_audit(built: BuiltVariant) -> None:
    from polywheel.audit.report import summary

    for message in built.warnings:
        print(f"polywheel: warning: {message}", file=sys.stderr, flush=True)
    for wheel, audit in ((built.wheel, built.audit), (built.plain, built.plain_audit)):
        if wheel is not None:
            print(f"polywheel: audit {wheel.name}: {summary(audit)}", flush=True)
            if audit is not None:
                for severity, message in audit.findings:
                    print(f"  {severity}: {message}", file=sys.stderr, flush=True)


def build_selection(
    project: Project,
    selection: Selection,
    wheel_directory: Path,
    config_settings: Mapping[str, str | list[str]],
    *,
    metadata_directory: str | None = None,
    editable: bool = False,
) -> str:
    """Build what a PEP 517 call asked for; return the first wheel's basename.

    Nothing lands in `wheel_directory` unless every requested wheel succeeded.
    """
    wheel_directory = wheel_directory.resolve()
    with staging_dir(wheel_directory) as staging:
        finished: list[Path] = []
        for job in _jobs(project, selection, staging, config_settings, editable=editable):
            built = build_variant(project, job)
            _say_audit(built)
            finished += built.written
        if metadata_directory:
            _check_prepared(finished[0], metadata_directory)
        for wheel in finished:
            wheel.replace(wheel_directory / wheel.name)
    return finished[0].name
