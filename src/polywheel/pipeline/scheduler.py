"""`polywheel build`: the whole matrix in one process, variants in parallel.

This module only schedules: each variant is one `build_variant` call, run in a worker
process (its own environment, cwd and scikit-build-core state) or, for an unchanged
build, in this process from the reused raw wheel. Then comes the index file.
"""

from __future__ import annotations

import contextlib
import dataclasses
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import Future, ThreadPoolExecutor, wait
from pathlib import Path
from typing import TYPE_CHECKING

from packaging.utils import canonicalize_name
from packaging.version import InvalidVersion, Version

import polywheel
from polywheel.cmake import compiler_cache, lto_cache
from polywheel.cmake.compiler_cache import CacheStats
from polywheel.cmake.job_slots import JobSlots, jobserver_support
from polywheel.cmake.lto_cache import LtoStats
from polywheel.errors import BuildError, PolywheelError
from polywheel.index import (
    labels_in_folder,
    release_of,
    remove_index,
    write_indexes,
)
from polywheel.matrix.spec import VariantSpec
from polywheel.pipeline import buildenv
from polywheel.pipeline.envpool import EnvPool
from polywheel.pipeline.faults import (
    exclusive,
    interruptible,
    output_lock,
    remove_leftovers,
    stop_process_groups,
)
from polywheel.pipeline.jobserver import Slots, jobserver, remove_stale
from polywheel.pipeline.lanes import Lanes, gate_others, primer
from polywheel.pipeline.logs import died_of_illegal_instruction, tail
from polywheel.pipeline.reuse import BuildCache
from polywheel.pipeline.variant import BuiltVariant, VariantJob, build_variant
from polywheel.pipeline.warm import Workers, lane_count
from polywheel.pipeline.worker import build_in_worker
from polywheel.project import Project
from polywheel.wheel.writer import staging_dir

if TYPE_CHECKING:
    from concurrent.futures import ProcessPoolExecutor

__all__ = ["MatrixResult", "VariantResult", "build_matrix", "plan_jobs"]

_PHASES = {
    "*** Configuring CMake": "configure",
    "*** Building project": "compile",
    "*** Installing project": "install",
    "*** Making wheel": "wheel",
}


@dataclasses.dataclass
class VariantResult:
    name: str
    log: Path
    built: BuiltVariant | None = None
    error: PolywheelError | None = None
    seconds: float = 0.0
    cached: bool = False


@dataclasses.dataclass
class MatrixResult:
    variants: list[VariantResult]
    indexes: list[Path]
    index_error: PolywheelError | None = None
    index_note: str | None = None

    @property
    def ok(self) -> bool:
        return self.index_error is None and all(v.error is None for v in self.variants)


def plan_jobs(variant_count: int, jobs: int, *, shared: bool = False) -> tuple[int, int]:
    """(variants built at once, compile jobs each) within a budget of `jobs` cores.

    Configure steps are serial, so running variants side by side keeps the cores busier
    than one variant at a time with all of them. With a jobserver (`shared`) every
    build may use the whole budget, which caps their compiles together; without one,
    each gets a fixed share (warm.lane_count).
    """
    jobs = max(1, jobs)
    concurrent = lane_count(variant_count, jobs, shared=shared)
    return concurrent, jobs if shared else max(1, jobs // concurrent)


class _Progress:
    def __init__(self, names: Sequence[str], emit: Callable[[str], None]) -> None:
        self.number = {name: i + 1 for i, name in enumerate(names)}
        self.lock = threading.Lock()
        self.emit = emit

    def say(self, name: str, text: str) -> None:
        with self.lock:
            self.emit(f"[{self.number[name]}/{len(self.number)}] {name}: {text}")


def _follow(log: Path, future: Future[object], name: str, progress: _Progress) -> None:
    """Report the phases a worker's log shows until its build is done."""
    position, pending = 0, ""
    while True:
        finished = bool(wait([future], timeout=0.05).done)
        try:
            with log.open(errors="replace") as f:
                f.seek(position)
                chunk = f.read()
                position = f.tell()
        except FileNotFoundError:
            chunk = ""
        *lines, pending = (pending + chunk).split("\n")
        for line in lines:
            for marker, phase in _PHASES.items():
                if line.startswith(marker):
                    progress.say(name, phase)
        if finished:
            return


def _in_worker(
    pool: ProcessPoolExecutor | EnvPool,
    project: Project,
    job: VariantJob,
    log: Path,
    progress: _Progress,
) -> BuiltVariant:
    from concurrent.futures.process import BrokenProcessPool  # only where a build runs

    log.parent.mkdir(parents=True, exist_ok=True)
    log.unlink(missing_ok=True)  # never report phases of an earlier build
    name = job.label or "plain"
    future = pool.submit(build_in_worker, str(project.root), job, str(log))
    _follow(log, future, name, progress)  # type: ignore[arg-type]
    try:
        outcome = future.result()
    except BrokenProcessPool:
        raise BuildError(
            "the build process died (killed, or out of memory?)", label=job.label
        ) from None
    if isinstance(outcome, PolywheelError):
        if outcome.hint is None and died_of_illegal_instruction(log):
            outcome.hint = (
                "a program built during the build (a stub generator, a test) died of an "
                "illegal instruction: it was compiled for this variant, and this machine's "
                "CPU cannot run that code. Build this variant on a machine that can (one "
                "CI job per variant), or keep build-time tools off the variant's flags "
                '(`apply-flags = "targets"`)'
            )
        raise outcome
    return outcome


def build_matrix(
    project: Project,
    out_dir: Path,
    *,
    labels: Sequence[str] = (),
    jobs: int = 2,
    plain: bool = True,
    config_settings: Mapping[str, str | list[str]] | None = None,
    emit: Callable[[str], None] = print,
    rebuild: bool = False,
    isolation: bool = False,
    workers: Workers | None = None,
) -> MatrixResult:
    """Build the selected variants (default: all), the plain wheel and the index;
    `isolation` builds each in an environment made from its build requirements.
    `workers` (pipeline/warm.py), started by the caller (which closes them), are used
    or stopped here."""
    matrix = project.matrix
    # Workers run in the project folder, so every path handed to them is absolute.
    out_dir = out_dir.resolve()
    chosen = list(dict.fromkeys(labels))
    specs: list[VariantSpec | None] = (
        [matrix.get(label) for label in chosen] if chosen else list(matrix.variants)
    )
    if not matrix.variants:
        specs = [None]  # no matrix: just the plain wheel, through the same machinery
    config = dict(config_settings or {})
    log_dir = project.root / "build" / "polywheel-logs"
    out_dir.mkdir(parents=True, exist_ok=True)
    unsupported = jobserver_support(project, specs, config)
    concurrent, per_build = plan_jobs(len(specs), jobs, shared=unsupported is None)
    if matrix.variants:
        what = f"{len(specs)} variant(s) of {project.name}"
    else:
        what = f"the plain wheel of {project.name} (no variants declared)"
    if unsupported is None:
        how = f"sharing {per_build} compile job(s) through a jobserver"
    else:
        how = f"with {per_build} compile job(s) each"
    emit(f"*** polywheel {polywheel.__version__}: {what}, {concurrent} at a time {how}")
    if unsupported is not None and len(specs) > 1:
        emit(f"*** no jobserver: {unsupported}; each variant gets a fixed share of the jobs")
    names = [spec.label if spec else "plain" for spec in specs]
    progress = _Progress(names, emit)
    cache = BuildCache(project, out_dir, config)
    results = {name: VariantResult(name, log_dir / f"{name}.log") for name in names}

    locks = [project.root / "build" / "polywheel-state" / "lock", output_lock(out_dir)]
    with interruptible(), exclusive(locks, emit), contextlib.ExitStack() as stack:
        for leftover in [*remove_leftovers(out_dir), *remove_stale()]:
            emit(f"*** removed {leftover.name}, left behind by a polywheel run that was killed")
        envs = buildenv.for_builds(project, specs, isolation=isolation, emit=emit)
        slots, handoff = None, None
        if unsupported is None:
            slots = Slots(stack.enter_context(jobserver(jobs)))
            handoff = JobSlots(str(slots.server.path), slots.server.makeflags)
        # Over the whole matrix: a later run of other variants reads this one's entries.
        shared = compiler_cache.sharing(matrix.variants, project.settings.apply_flags)
        with staging_dir(out_dir) as staging:
            job_of = {
                name: VariantJob(
                    spec,
                    out_dir,
                    staging / name,
                    config,
                    labelled=spec is not None,
                    plain=plain and (spec is None or spec == matrix.plain),
                    jobs=per_build,
                    slots=handoff,
                    fresh=rebuild,
                    build_python=str(env.python) if env else None,
                    build_env=env.key if env else None,
                    cache_shared=spec is not None and spec.label in shared,
                    remember=True,
                )
                for name, spec, env in zip(names, specs, envs, strict=True)
            }
            run_with = (cache, rebuild, (concurrent, slots), progress, emit, workers)
            _run(project, job_of, results, *run_with)
        ordered = [results[name] for name in names]
        _report_cache(ordered, slots, emit)
        return MatrixResult(ordered, *_index(project, out_dir, ordered))


def _report_cache(
    ordered: Sequence[VariantResult], slots: Slots | None, emit: Callable[[str], None]
) -> None:
    counted = [r.built.cache_stats for r in ordered if r.built and r.built.cache_stats]
    if counted:
        total = sum(counted, CacheStats())
        emit(f"*** compiler cache (ccache): {total.describe()}")
    linked = [r.built.lto_stats for r in ordered if r.built and r.built.lto_stats]
    if linked:
        emit(f"*** LTO code generation (GCC): {sum(linked, LtoStats()).describe()}")
        lto_cache.prune()
    if slots is not None and slots.restored:
        emit(
            f"*** jobserver: put back {slots.restored} job token(s) that a killed build "
            "had taken along"
        )


def _run(
    project: Project,
    job_of: Mapping[str, VariantJob],
    results: Mapping[str, VariantResult],
    cache: BuildCache,
    rebuild: bool,
    lanes: tuple[int, Slots | None],
    progress: _Progress,
    emit: Callable[[str], None],
    workers: Workers | None,
) -> None:
    """Run every job in `concurrent` lanes (pipeline/lanes.py), each one build at a time
    on its own jobserver slot when there is a jobserver; on a signal, stop the workers
    first. `workers` were started early, or are None."""
    concurrent, slots = lanes
    names = list(job_of)
    keys = {
        name: cache.key(job.spec, job.config_settings, job.build_env)
        for name, job in job_of.items()
    }
    reusable = {} if rebuild else {name: cache.lookup(name, keys[name]) for name in names}
    stopping = threading.Event()

    def one(name: str) -> None:
        result, job = results[name], job_of[name]
        start = time.monotonic()
        progress.say(name, "start")
        try:
            raw = reusable.get(name)
            if raw is not None:
                progress.say(name, "unchanged since the last build, reusing it")
                result.cached = True
                recorded = dataclasses.replace(job, recorded=cache.recorded(name))
                result.built = build_variant(project, recorded, reuse=raw)
                cache.remember(name, raw, result.built.record)
            else:
                assert pool is not None
                with slots.building_one() if slots else contextlib.nullcontext():
                    result.built = _in_worker(pool, project, job, result.log, progress)
                cache.store(name, keys[name], result.built.raw, result.built.record)
        except PolywheelError as exc:
            result.error = exc
        result.seconds = time.monotonic() - start
        if stopping.is_set():
            return
        if result.error:
            progress.say(name, f"FAILED after {result.seconds:.1f}s (log: {result.log})")
            emit(tail(result.log))
        else:
            progress.say(name, f"done in {result.seconds:.1f}s")

    # Worker processes only when something must really be built; those started early
    # (pipeline/warm.py) are used, or stopped when nothing is built after all.
    pool: ProcessPoolExecutor | EnvPool | None = None
    if any(job.build_python for job in job_of.values()):
        pool = EnvPool()
    elif any(reusable.get(name) is None for name in names):
        if workers is None:
            workers = Workers(concurrent)
        pool = workers.ready()
    if workers is not None and pool is not workers.pool:
        workers.close(stop=True)
        workers = None
    # Without a jobserver the first build alone would get only its share of -j. (ccache
    # is asked its version only where something is built.)
    to_build = [(name, job_of[name].spec) for name in names if reusable.get(name) is None]
    cached = bool(slots and to_build and compiler_cache.in_use(project))
    prime = primer(to_build, apply_flags=project.settings.apply_flags, cached=cached)
    gate = slots.server if prime and slots else None
    if prime and gate:
        emit(f"*** {prime} goes first: the others compile what they share with it after it")
        flags = project.settings.apply_flags
        job_of = gate_others(job_of, prime, str(gate.gate), apply_flags=flags)
    order = Lanes(names, prime, open_gate=gate.open_gate if gate else None)
    threads = ThreadPoolExecutor(max_workers=concurrent)
    try:
        for future in [threads.submit(order.run, i, one, stopping) for i in range(concurrent)]:
            future.result()
    except BaseException:
        # A signal (or a bug): stop the workers and all they started, so that the
        # threads waiting for them end, instead of leaving compilers running.
        stopping.set()
        if pool is not None:
            # ProcessPoolExecutor has no public list of its processes.
            stop_process_groups(list(pool._processes))
        raise
    finally:
        threads.shutdown(wait=True, cancel_futures=True)
        if pool is not None:
            pool.shutdown(cancel_futures=True)


def _index(
    project: Project, out_dir: Path, ordered: Sequence[VariantResult]
) -> tuple[list[Path], PolywheelError | None, str | None]:
    """Write the index only when the folder holds a wheel of every label of the release;
    otherwise remove an older index of that release, which would claim what is not there."""
    if not project.matrix.variants:
        return [], None, None
    releases = {release_of(w) for r in ordered if r.built for w in r.built.written}
    version = project.pyproject.get("project", {}).get("version")
    if isinstance(version, str):  # a failed variant may have written nothing to read
        with contextlib.suppress(InvalidVersion):  # scikit-build-core refuses it anyway
            # As in wheel filenames: "1.0-post1" is written "1.0.post1".
            releases.add((str(canonicalize_name(project.name)), str(Version(version))))
    failed = [r.name for r in ordered if r.error is not None]
    missing = {
        release: sorted(set(project.matrix.labels) - labels_in_folder(out_dir, *release))
        for release in releases
    }
    if failed or any(missing.values()):
        for release in missing:
            remove_index(out_dir, *release)
        if failed:
            return [], None, None
        lacking = sorted({label for labels in missing.values() for label in labels})
        return (
            [],
            None,
            (
                f"no index file: {out_dir} has no wheel of {', '.join(lacking)} yet; build "
                "them too, or run `polywheel index` once every shard's wheels are there"
            ),
        )
    try:
        return write_indexes(out_dir), None, None
    except PolywheelError as exc:
        return [], exc, None
