"""One variant from raw build to final wheel, and the PEP 517 flows built on that."""

from __future__ import annotations

import contextlib
import shutil
import tempfile
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from polywheel.checks import verified_properties
from polywheel.errors import BuildError
from polywheel.matrix import VariantSpec
from polywheel.project import Project
from polywheel.properties import VariantProperty
from polywheel.selection import Selection
from polywheel.stage import ConfigSettings, RawBuild, build_raw_wheel
from polywheel.variant_json import dumps, make_variant_json
from polywheel.wheelfile import finalize_wheel, read_dist_info

if TYPE_CHECKING:
    from polywheel.audit import WheelAudit

__all__ = [
    "build_selection",
    "finish_plain",
    "finish_variant",
    "staging_dir",
    "variant_json_bytes",
]


def variant_json_bytes(
    project: Project, label: str, properties: Sequence[VariantProperty]
) -> bytes:
    doc = make_variant_json({label: properties}, project.matrix.metadata, project.settings.format)
    return dumps(doc)


def finish_variant(
    project: Project, spec: VariantSpec, raw: RawBuild, out_dir: Path, *, defer_label: bool = False
) -> Path:
    props = verified_properties(spec, raw, apply_flags=project.settings.apply_flags)
    return finalize_wheel(
        raw.wheel,
        out_dir,
        label=None if defer_label else spec.label,
        variant_json=variant_json_bytes(project, spec.label, props),
        requires=spec.dependencies,
    )


def audit_variant_wheel(project: Project, wheel: Path) -> WheelAudit | None:
    """Audit a finished variant wheel; in "error" mode a lie is a BuildError."""
    from polywheel.audit import AuditAllow, audit_wheel

    settings = project.settings
    if settings.audit_mode == "off":
        return None
    allow = AuditAllow(settings.audit_allow_functions, settings.audit_allow_sections)
    result = audit_wheel(wheel, allow)
    if result.verdict == "error" and settings.audit_mode == "error":
        wheel.unlink()
        problems = "; ".join(m for s, m in result.findings if s == "error")
        raise BuildError(
            f"the machine code does not match the variant: {problems}",
            label=result.label,
            hint="see `polywheel audit` and docs/audit.md; runtime-dispatched code can be "
            "allowed with [tool.variants.audit] allow-functions / allow-sections",
        )
    return result


def finish_plain(spec: VariantSpec | None, raw: RawBuild, out_dir: Path) -> Path:
    """The non-variant wheel: no label, no variant.json, for pip and old installers."""
    return finalize_wheel(
        raw.wheel,
        out_dir,
        label=None,
        variant_json=None,
        requires=spec.dependencies if spec else (),
    )


@contextlib.contextmanager
def staging_dir(out_dir: Path) -> Iterator[Path]:
    """A hidden scratch folder inside `out_dir` (same filesystem: renames are atomic)."""
    out_dir.mkdir(parents=True, exist_ok=True)
    path = Path(tempfile.mkdtemp(prefix=".polywheel-", dir=out_dir))
    try:
        yield path
    finally:
        shutil.rmtree(path, ignore_errors=True)


def _check_prepared(wheel: Path, metadata_directory: str) -> None:
    prepared = next(Path(metadata_directory).glob("*.dist-info"), None)
    if prepared is None:
        return
    for name in ("METADATA", "variant.json"):
        before = prepared / name
        after = read_dist_info(wheel, name)
        if (before.read_bytes() if before.is_file() else None) != after:
            raise BuildError(
                f"inconsistent metadata between prepare_metadata_for_build_wheel and "
                f"build_wheel: {name} differs; pass the same -C options to both"
            )


def build_selection(
    project: Project,
    selection: Selection,
    wheel_directory: Path,
    config_settings: ConfigSettings,
    *,
    metadata_directory: str | None = None,
    editable: bool = False,
) -> str:
    """Build what a PEP 517 call asked for.

    Nothing lands in `wheel_directory` unless every requested wheel succeeded.
    """
    matrix = project.matrix
    wheel_directory = wheel_directory.resolve()
    with staging_dir(wheel_directory) as staging:
        finished: list[Path] = []
        if selection.plain or editable:
            spec = matrix.get(selection.labels[0]) if selection.labels else matrix.plain
            raw = build_raw_wheel(
                project, spec, staging / "raw", config_settings=config_settings, editable=editable
            )
            finished.append(finish_plain(spec, raw, staging))
        else:
            for label in selection.labels:
                spec = matrix.get(label)
                raw = build_raw_wheel(
                    project, spec, staging / label, config_settings=config_settings
                )
                wheel = finish_variant(
                    project, spec, raw, staging, defer_label=selection.defer_label
                )
                audit_variant_wheel(project, wheel)
                finished.append(wheel)
        if metadata_directory:
            _check_prepared(finished[0], metadata_directory)
        for wheel in finished:
            wheel.replace(wheel_directory / wheel.name)
    return finished[0].name
