"""`polywheel build`: the whole matrix in one process, variants in parallel.

Each variant runs in a worker process (its own environment, cwd and scikit-build-core
state); this process shows progress, turns raw builds into final wheels, writes the
plain wheel and the index file, and prints the summary.
"""

from __future__ import annotations

import dataclasses
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import Future, ThreadPoolExecutor, wait
from pathlib import Path
from typing import TYPE_CHECKING

import polywheel
from polywheel.audit import WheelAudit
from polywheel.buildcache import BuildCache
from polywheel.errors import BuildError, PolywheelError
from polywheel.index import write_indexes
from polywheel.matrix import VariantSpec
from polywheel.pipeline import audit_variant_wheel, finish_plain, finish_variant, staging_dir
from polywheel.project import Project
from polywheel.stage import BuildInfo, RawBuild, variant_build_dir
from polywheel.worker import build_in_worker, warm_up

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
    label: str
    wheel: Path | None = None
    plain: Path | None = None
    seconds: float = 0.0
    error: str | None = None
    log: Path | None = None
    audit: WheelAudit | None = None
    cached: bool = False


@dataclasses.dataclass
class MatrixResult:
    variants: list[VariantResult]
    indexes: list[Path]
    index_error: str | None = None

    @property
    def ok(self) -> bool:
        return self.index_error is None and all(v.error is None for v in self.variants)


def plan_jobs(variant_count: int, jobs: int) -> tuple[int, int]:
    """(variants built at once, compile jobs each) within a budget of `jobs` cores.

    Configure steps are serial, so running variants side by side with fewer compile
    jobs each keeps the cores busier than one variant at a time with all of them.
    """
    jobs = max(1, jobs)
    concurrent = max(1, min(variant_count, jobs))
    return concurrent, max(1, jobs // concurrent)


class _Progress:
    def __init__(self, total: int, stream: Callable[[str], None]) -> None:
        self.total = total
        self.lock = threading.Lock()
        self.emit = stream
        self.index: dict[str, int] = {}

    def say(self, label: str, text: str) -> None:
        with self.lock:
            number = self.index.setdefault(label, len(self.index) + 1)
            self.emit(f"[{number}/{self.total}] {label}: {text}")


def _follow(log: Path, future: Future[dict[str, str]], name: str, progress: _Progress) -> None:
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


def _run_worker(
    pool: ProcessPoolExecutor,
    project: Project,
    name: str,
    spec: VariantSpec | None,
    staging: Path,
    jobs: int,
    config: Mapping[str, str | list[str]],
    log: Path,
    progress: _Progress,
) -> RawBuild:
    log.parent.mkdir(parents=True, exist_ok=True)
    log.unlink(missing_ok=True)  # never report phases of an earlier build
    label = spec.label if spec else None
    future = pool.submit(
        build_in_worker, str(project.root), label or "", str(staging), jobs, dict(config), str(log)
    )
    _follow(log, future, name, progress)
    try:
        result = future.result()
    except Exception as exc:
        raise BuildError(f"the build process died: {exc!r}", label=label, log=str(log)) from None
    if "error" in result:
        raise BuildError(result["error"], label=label, log=str(log))
    info_path = Path(result["info"])
    info = BuildInfo.parse(info_path.read_text()) if info_path.is_file() else None
    return RawBuild(Path(result["wheel"]), info)


def _tail(log: Path, lines: int = 25) -> str:
    try:
        content = log.read_text(errors="replace").splitlines()
    except OSError:
        return ""
    return "\n".join("    " + line for line in content[-lines:])


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
) -> MatrixResult:
    """Build the selected variants (default: all), the plain wheel and the index."""
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
    concurrent, per_build = plan_jobs(len(specs), jobs)
    if matrix.variants:
        what = f"{len(specs)} variant(s) of {project.name}"
    else:
        what = f"the plain wheel of {project.name} (no variants declared)"
    emit(
        f"*** polywheel {polywheel.__version__}: {what}, "
        f"{concurrent} at a time with {per_build} compile job(s) each"
    )
    progress = _Progress(len(specs), emit)
    names = [spec.label if spec else "plain" for spec in specs]
    # The output folder and the build folders change with every build: not inputs.
    skipped = {
        path.relative_to(project.root).parts[0]
        for path in (out_dir, (project.root / variant_build_dir(project, "x", config)).resolve())
        if path.is_relative_to(project.root) and path != project.root
    }
    cache = BuildCache(project, skipped)
    results = {name: VariantResult(name, log=log_dir / f"{name}.log") for name in names}

    with staging_dir(out_dir) as staging:

        def one(name: str, spec: VariantSpec | None) -> None:
            result = results[name]
            assert result.log is not None
            start = time.monotonic()
            progress.say(name, "start")
            try:
                key = keys[name]
                raw = cached.get(name)
                if raw is not None:
                    progress.say(name, "unchanged since the last build, reusing it")
                    result.cached = True
                else:
                    assert pool is not None
                    raw = _run_worker(
                        pool,
                        project,
                        name,
                        spec,
                        staging / name,
                        per_build,
                        config,
                        result.log,
                        progress,
                    )
                    cache.store(name, key, raw, staging / name / "build-info.txt")
                if spec is None:
                    result.plain = finish_plain(None, raw, out_dir)
                else:
                    wheel = finish_variant(project, spec, raw, out_dir)
                    result.audit = audit_variant_wheel(project, wheel)
                    result.wheel = wheel
                    if plain and matrix.plain is not None and spec.label == matrix.plain.label:
                        result.plain = finish_plain(spec, raw, out_dir)
            except PolywheelError as exc:
                result.error = str(exc)
            result.seconds = time.monotonic() - start
            if result.error:
                progress.say(name, f"FAILED after {result.seconds:.1f}s (log: {result.log})")
                emit(_tail(result.log))
            else:
                progress.say(name, f"done in {result.seconds:.1f}s")

        keys = {name: cache.key(spec, config) for name, spec in zip(names, specs, strict=True)}
        cached = {} if rebuild else {name: cache.lookup(name, keys[name]) for name in names}
        # Worker processes only when something must really be built.
        pool = None
        if any(cached.get(name) is None for name in names):
            import multiprocessing
            from concurrent.futures import ProcessPoolExecutor

            spawn = multiprocessing.get_context("spawn")
            pool = ProcessPoolExecutor(concurrent, mp_context=spawn, initializer=warm_up)
        try:
            with ThreadPoolExecutor(max_workers=concurrent) as threads:
                list(threads.map(one, names, specs))
        finally:
            if pool is not None:
                pool.shutdown(cancel_futures=True)

    ordered = [results[name] for name in names]
    indexes: list[Path] = []
    index_error = None
    if all(r.error is None for r in ordered) and matrix.variants:
        try:
            indexes = write_indexes(out_dir)
        except PolywheelError as exc:
            index_error = f"no index file: {exc}"
    return MatrixResult(ordered, indexes, index_error)
