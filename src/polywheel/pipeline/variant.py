"""One variant from CMake to verified, audited wheels: the one path every wheel takes.

`build_variant` is called by the PEP 517 hooks (`pipeline/pep517.py`) and, inside a
worker process, by `polywheel build` (`pipeline/scheduler.py`) alike, so the plain
wheel of `pip wheel .` is verified and audited exactly like a labelled one.
"""

from __future__ import annotations

import dataclasses
import fnmatch
import json
import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from polywheel.audit.binary import AuditAllow
from polywheel.cmake import lto_cache
from polywheel.cmake.compile_commands import CompileUnit, read_compile_commands
from polywheel.cmake.compiler_cache import CacheStats, read_stats, stats_log
from polywheel.cmake.file_api import artifacts_by_target
from polywheel.cmake.job_slots import JobSlots
from polywheel.cmake.lto_cache import LtoStats
from polywheel.cmake.report import RawBuild, compile_unit_findings, verify_build_report
from polywheel.cmake.runner import build_raw_wheel
from polywheel.cmake.toolchain import toolkit_nvcc
from polywheel.errors import BuildError
from polywheel.matrix.spec import VariantSpec
from polywheel.namespaces.abi_dependency import installed_abi_properties, runtime_requirement
from polywheel.namespaces.cuda_arch import probe_cuda_toolkit
from polywheel.namespaces.nvidia import check_toolkit_architectures
from polywheel.pipeline import written
from polywheel.pipeline.audit_preload import audit_imported_while_waiting
from polywheel.project import Project
from polywheel.properties import VariantProperty
from polywheel.wheel.variant_json import dumps, make_variant_json
from polywheel.wheel.writer import confined, final_name, finalize_wheel

if TYPE_CHECKING:
    from polywheel.audit.result import WheelAudit

__all__ = ["BuiltVariant", "VariantJob", "build_variant", "variant_json_bytes"]


@dataclasses.dataclass(frozen=True)
class VariantJob:
    """What to build for one variant and which wheels to write from that build.

    `spec` None is a project without a matrix: its plain build alone.
    """

    spec: VariantSpec | None
    out_dir: Path
    staging: Path
    config_settings: Mapping[str, str | list[str]]
    labelled: bool = True
    plain: bool = False
    defer_label: bool = False
    editable: bool = False
    # The plain-named wheel stands for this variant (an editable install of a selected
    # variant), so the audit holds it to the variant's claims, not to the baseline.
    plain_is_variant: bool = False
    jobs: int | None = None
    # The matrix's jobserver (pipeline/jobserver.py): each job of the build takes its
    # slot from it (cmake/job_slots.py); `jobs` is then how many ninja starts at once.
    slots: JobSlots | None = None
    fresh: bool = False
    # The isolated build environment (pipeline/buildenv.py) this build runs in: its
    # interpreter and key; None builds in polywheel's own environment.
    build_python: str | None = None
    build_env: str | None = None
    # Other builds read what this one stores in the compiler cache: false for the one
    # wheel of a PEP 517 call (cmake/compiler_cache.launcher).
    cache_shared: bool = True
    # `remember`: make a record of the wheels written (pipeline/written.py), which a
    # later run that reuses this build passes back as `recorded`.
    remember: bool = False
    recorded: written.Record | None = None

    @property
    def label(self) -> str | None:
        return self.spec.label if self.spec else None


@dataclasses.dataclass(frozen=True)
class BuiltVariant:
    """The wheels one build became, each with its audit (None when the audit is off)."""

    label: str | None
    raw: RawBuild
    wheel: Path | None = None
    audit: WheelAudit | None = None
    plain: Path | None = None
    plain_audit: WheelAudit | None = None
    # Findings that do not stop the build (a source compiled below the variant's level).
    warnings: tuple[str, ...] = ()
    # What the compiler cache counted for this build; None when it was reused or
    # compiled nothing through the cache.
    cache_stats: CacheStats | None = None
    # What the LTO code generation cache counted; None where no LTO link ran through it.
    lto_stats: LtoStats | None = None
    # What was written, for a later run (VariantJob.remember); the record recalled, for
    # wheels found already written.
    record: written.Record | None = None

    @property
    def written(self) -> tuple[Path, ...]:
        return tuple(p for p in (self.wheel, self.plain) if p is not None)


def variant_json_bytes(
    project: Project, label: str, properties: Sequence[VariantProperty]
) -> bytes:
    metadata = project.matrix.metadata
    doc = make_variant_json(
        {label: properties}, metadata.namespaces, metadata.providers, project.settings.format
    )
    return dumps(doc)


def _allow(project: Project, raw: RawBuild, units: Sequence[CompileUnit]) -> AuditAllow | None:
    """What the audit allows (None: the audit is off)."""
    settings = project.settings.audit
    if settings.mode == "off":
        return None
    binaries = _allowed_binaries(project, raw, units)
    return AuditAllow(settings.allow_functions, settings.allow_sections, binaries)


def _audit(
    job: VariantJob, built: BuiltVariant, allow: AuditAllow, plain_claims: bytes | None
) -> BuiltVariant:
    """Audit what was written (`plain_claims`: what the plain wheel is held to, None for
    the baseline)."""
    from polywheel.audit.wheel import audit_wheel, judge

    first = built.wheel or built.plain
    assert first is not None
    decoded = audit_wheel(first, allow)
    # The plain wheel holds the same binaries: judged again, not decoded again.
    audit = decoded if built.wheel else None
    plain_audit = None
    if built.plain is not None:
        claims = json.loads(plain_claims) if plain_claims is not None else None
        plain_audit = judge(built.plain.name, decoded.binaries, claims)
    return dataclasses.replace(built, audit=audit, plain_audit=plain_audit)


def _refuse_lies(project: Project, job: VariantJob, built: BuiltVariant) -> None:
    """In audit mode "error", a wheel whose code does not match its claims is a
    BuildError."""
    if project.settings.audit.mode != "error":
        return
    for result, what in ((built.audit, "variant"), (built.plain_audit, "plain")):
        if result is None or result.verdict != "error":
            continue
        problems = "; ".join(m for s, m in result.findings if s == "error")
        if what == "plain" and not job.plain_is_variant:
            raise BuildError(
                f"the plain wheel {result.wheel} installs on every machine, but its machine "
                f"code does not: {problems}",
                label=built.label,
                hint=_plain_hint(job.spec),
            )
        raise BuildError(
            f"the machine code does not match the variant: {problems}",
            label=built.label,
            hint=f"see `polywheel audit` and docs/audit.md; {_ALLOW_HINT}",
        )


def _plain_hint(spec: VariantSpec | None) -> str:
    if spec is not None and spec.compatibility_rank[:2] != (0, 0):
        return (
            f"the plain wheel is built as variant {spec.label!r}; make `[tool.variants] "
            "plain-wheel` name a variant that runs everywhere (x86_64 v1 or null), or "
            "skip the plain wheel (polywheel build --no-plain)"
        )
    return (
        "the project's own code adds wider instructions (target attributes, "
        f"intrinsics, prebuilt libraries?); {_ALLOW_HINT}"
    )


_ALLOW_HINT = (
    "runtime-dispatched code can be allowed with [tool.variants.audit] allow-sources, "
    "allow-targets, allow-functions or allow-sections"
)


def _compile_units(project: Project, raw: RawBuild) -> list[CompileUnit]:
    build_dir = raw.report.values.get("binary_dir") if raw.report else None
    return (read_compile_commands(Path(build_dir), project.root) or []) if build_dir else []


def _allowed_unit(project: Project, unit: CompileUnit) -> bool:
    audit = project.settings.audit
    return any(fnmatch.fnmatchcase(unit.source, g) for g in audit.allow_sources) or any(
        fnmatch.fnmatchcase(unit.target or "", g) for g in audit.allow_targets
    )


def _allowed_binaries(
    project: Project, raw: RawBuild, units: Sequence[CompileUnit]
) -> frozenset[str]:
    """The binaries built from allowed sources or targets, by file name."""
    audit = project.settings.audit
    build_dir = raw.report.values.get("binary_dir") if raw.report else None
    if not build_dir or not (audit.allow_sources or audit.allow_targets):
        return frozenset()
    targets = {u.target for u in units if u.target and _allowed_unit(project, u)}
    artifacts = artifacts_by_target(Path(build_dir))
    targets |= {t for t in artifacts if any(fnmatch.fnmatchcase(t, g) for g in audit.allow_targets)}
    return frozenset(name for t in targets for name in artifacts.get(t, ()))


def _check_sources(
    project: Project, spec: VariantSpec, units: Sequence[CompileUnit]
) -> tuple[str, ...]:
    """Each source's effective flags against the variant: errors stop the build (in
    audit mode "error"), the rest come back as warnings. Allowed sources and targets
    (runtime dispatch) are left out."""
    mode = project.settings.audit.mode
    if mode == "off":
        return ()
    findings = [
        found
        for found in compile_unit_findings(spec, units)
        if not _allowed_unit(project, found[1])
    ]
    errors = [m for (severity, m), _ in findings if severity == "error"]
    if errors and mode == "error":
        more = f" (and {len(errors) - 1} more)" if len(errors) > 1 else ""
        raise BuildError(
            errors[0] + more,
            label=spec.label,
            hint="remove -march/-m flags from the project's own targets (compile options, "
            "CMAKE_C_FLAGS, CFLAGS), or, for runtime-dispatched code, allow those sources "
            "or targets with [tool.variants.audit]",
        )
    return tuple(m for (_severity, m), _ in findings)


def _write(project: Project, job: VariantJob, raw: RawBuild) -> BuiltVariant:
    spec = job.spec
    abi = (
        installed_abi_properties(spec.abi_dependencies, label=spec.label, key=spec.key)
        if spec
        else ()
    )
    # A build tied to a dependency's ABI requires that release range, also in the plain
    # wheel: installers without variant support must still get a matching dependency.
    requires = (*(spec.dependencies if spec else ()), *map(runtime_requirement, abi))
    built = BuiltVariant(job.label, raw)
    units = _compile_units(project, raw)
    try:
        variant_json = plain_claims = None
        if spec is not None:
            built = dataclasses.replace(built, warnings=_check_sources(project, spec, units))
            if job.plain_is_variant:
                plain_claims = variant_json_bytes(project, spec.label, spec.properties)
        if spec is not None and job.labelled:
            props = verify_build_report(spec, raw, apply_flags=project.settings.apply_flags)
            props = tuple(sorted({*props, *abi}))
            variant_json = variant_json_bytes(project, spec.label, props)
        label = spec.label if spec is not None and not job.defer_label else None
        wheels = (
            confined(job.out_dir, final_name(raw.wheel, label)) if variant_json else None,
            confined(job.out_dir, final_name(raw.wheel, None)) if job.plain else None,
        )
        allow = _allow(project, raw, units)
        # Only where a record is read or kept: not for a PEP 517 hook's one wheel.
        plan = None
        if job.remember or job.recorded is not None:
            plan = written.plan_digest(
                raw.wheel, wheels, variant_json, requires, (allow, plain_claims)
            )
        kept = written.recall(job.recorded, plan, raw.wheel, *wheels) if plan else None
        if kept is not None:
            # Written from the same raw wheel by the same plan, and unchanged since.
            built = dataclasses.replace(
                built,
                wheel=wheels[0],
                audit=kept.wheel.audit if kept.wheel else None,
                plain=wheels[1],
                plain_audit=kept.plain.audit if kept.plain else None,
                record=kept,
            )
            _refuse_lies(project, job, built)
            return built
        if variant_json is not None:
            wheel = finalize_wheel(
                raw.wheel, job.out_dir, label=label, variant_json=variant_json, requires=requires
            )
            built = dataclasses.replace(built, wheel=wheel)
        if job.plain:
            plain = finalize_wheel(
                raw.wheel, job.out_dir, label=None, variant_json=None, requires=requires
            )
            built = dataclasses.replace(built, plain=plain)
        if allow is not None:
            built = _audit(job, built, allow, plain_claims)
            _refuse_lies(project, job, built)
        if plan is not None and job.remember:
            kept = written.Record(
                plan,
                written.written(built.wheel, built.audit),
                written.written(built.plain, built.plain_audit),
            )
            built = dataclasses.replace(built, record=kept)
        return built
    except BaseException:
        # Nothing half-done stays behind: a refused wheel is never published.
        for path in built.written:
            path.unlink(missing_ok=True)
        raise


def _check_filename_fits(project: Project, job: VariantJob) -> None:
    """Refuse, before CMake runs, a label whose wheel filename the output folder cannot hold."""
    if job.spec is None:
        return
    from packaging.tags import sys_tags
    from packaging.utils import canonicalize_name

    name = canonicalize_name(project.name).replace("-", "_")
    version = str(project.pyproject.get("project", {}).get("version", "0"))
    tag = str(next(iter(sys_tags())))
    length = len(f"{name}-{version}-{tag}-{job.spec.label}.whl")
    job.out_dir.mkdir(parents=True, exist_ok=True)
    limit = os.pathconf(job.out_dir, "PC_NAME_MAX") if hasattr(os, "pathconf") else 255
    if length > limit:
        raise BuildError(
            f"its wheel filename would be about {length} characters long, over the limit "
            f"of {limit} of the file system of {job.out_dir}",
            label=job.spec.label,
            hint="shorten the label (and keep `tool.variants.max-label-length` at 16, "
            "which installers expect)",
        )


def _check_cuda_toolkit(job: VariantJob) -> None:
    """A CUDA variant whose architectures its toolkit cannot compile fails here, in one
    line naming both, not in CMake's compiler test (CUDA 13 has nothing below sm_75)."""
    spec = job.spec
    if spec is None or not spec.cuda:
        return
    chosen = (
        spec.cmake_define.get("CMAKE_CUDA_COMPILER")
        or toolkit_nvcc(spec.cuda_toolkit, key=spec.key, label=spec.label)
        or spec.env.get("CUDACXX")
    )
    setting = job.config_settings.get("cmake.define.CMAKE_CUDA_COMPILER")
    nvcc = setting if isinstance(setting, str) else chosen
    toolkit = probe_cuda_toolkit(nvcc) if nvcc else None
    check_toolkit_architectures(spec.cuda_architectures, label=spec.label, toolkit=toolkit)


def build_variant(
    project: Project, job: VariantJob, *, reuse: RawBuild | None = None
) -> BuiltVariant:
    """Build one variant (or reuse an unchanged raw build), verify, write and audit it."""
    _check_filename_fits(project, job)
    if reuse is not None:
        return _write(project, job, reuse)
    _check_cuda_toolkit(job)
    with audit_imported_while_waiting(project.settings.audit.mode != "off"):
        raw = build_raw_wheel(
            project,
            job.spec,
            job.staging,
            config_settings=job.config_settings,
            editable=job.editable,
            jobs=job.jobs,
            slots=job.slots,
            fresh=job.fresh,
            cache_shared=job.cache_shared,
        )
    built = _write(project, job, raw)
    return dataclasses.replace(
        built,
        cache_stats=read_stats(stats_log(job.staging)),
        lto_stats=lto_cache.read_stats(lto_cache.stats_log(job.staging)),
    )
