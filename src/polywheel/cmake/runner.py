"""Run scikit-build-core for one variant: the only stage that starts CMake.

Each variant gets its own build directory, a generated CMAKE_PROJECT_INCLUDE carrying
its flags and identity, and the CUDA architectures of its properties. The result is
the unlabelled wheel scikit-build-core wrote, plus what CMake reported back.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import re
import shlex
import tempfile
from collections.abc import Iterator, Mapping
from pathlib import Path

from polywheel.cachedir import user_cache_dir
from polywheel.cmake import compiler_cache, lto_cache
from polywheel.cmake.freshness import ConfigureState
from polywheel.cmake.include import render_variant_include
from polywheel.cmake.job_slots import JobSlots, slot_launcher_command
from polywheel.cmake.minimum_version import floor_minimum_version
from polywheel.cmake.old_make import make_shim_dir
from polywheel.cmake.package_paths import find_package_paths_without_imports
from polywheel.cmake.report import BuildReport, RawBuild, report_path
from polywheel.cmake.skbuild_settings import skbuild_setting
from polywheel.cmake.toolchain import cudart_library, toolkit_nvcc
from polywheel.errors import BuildError
from polywheel.matrix.spec import VariantSpec
from polywheel.project import Project, cmake_module_dir

__all__ = [
    "ConfigSettings",
    "build_raw_wheel",
    "floor_minimum_version",
    "variant_build_dir",
]

# scikit-build-core's experimental variant keys: it would label the wheel itself
# (with a broken variantlib pin); polywheel owns labelling.
_SKBUILD_ENV_DROPPED = (
    "SKBUILD_VARIANT",
    "SKBUILD_VARIANT_NAME",
    "SKBUILD_VARIANT_LABEL",
    "SKBUILD_NULL_VARIANT",
)
_PROJECT_INCLUDE_ARG = re.compile(r"^-DCMAKE_PROJECT_INCLUDE(?::[A-Z]+)?=(.*)$")
ConfigSettings = Mapping[str, "str | list[str]"]


def variant_build_dir(project: Project, label: str, config_settings: ConfigSettings) -> str:
    user = config_settings.get("build-dir")
    if isinstance(user, str) and user:
        return f"{user.rstrip('/')}/{label}"
    return project.settings.build_dir.replace("{label}", label)


def _write_include(content: str) -> Path:
    # Content-addressed, so an unchanged variant keeps an unchanged CMake cache entry
    # and rebuilds stay incremental.
    digest = hashlib.sha256(content.encode()).hexdigest()[:20]
    path = user_cache_dir("cmake") / f"variant-{digest}.cmake"
    if not path.is_file() or path.read_text() != content:
        fd, tmp = tempfile.mkstemp(dir=path.parent, suffix=".tmp")
        with os.fdopen(fd, "w") as f:
            f.write(content)
        Path(tmp).replace(path)
    return path


def _split_project_include(cmake_args: str) -> tuple[str, str | None]:
    """Remove -DCMAKE_PROJECT_INCLUDE from CMAKE_ARGS, returning what it named."""
    kept, found = [], None
    for arg in shlex.split(cmake_args):
        match = _PROJECT_INCLUDE_ARG.match(arg)
        if match:
            found = match.group(1)
        else:
            kept.append(arg)
    return shlex.join(kept), found


def _user_project_include(project: Project, settings: ConfigSettings) -> str | None:
    from_cs = settings.get("cmake.define.CMAKE_PROJECT_INCLUDE")
    if isinstance(from_cs, str):
        return from_cs
    value = skbuild_setting(project.pyproject, {}, "cmake.define.CMAKE_PROJECT_INCLUDE")
    if isinstance(value, str):
        return str((project.root / value).resolve()) if not Path(value).is_absolute() else value
    return None


@contextlib.contextmanager
def _chdir(path: Path) -> Iterator[None]:
    # contextlib.chdir exists only from Python 3.11 on.
    old = Path.cwd()
    os.chdir(path)
    try:
        yield
    finally:
        os.chdir(old)


@contextlib.contextmanager
def _patched_environ(changes: Mapping[str, str | None]) -> Iterator[None]:
    saved = {k: os.environ.get(k) for k in changes}
    try:
        for key, value in changes.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
        yield
    finally:
        for key, old in saved.items():
            if old is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = old


def _variant_inputs(
    project: Project,
    spec: VariantSpec,
    settings: ConfigSettings,
    info_path: Path,
    *,
    cache_shared: bool,
    slotted: bool,
) -> tuple[dict[str, str | list[str]], dict[str, str | None]]:
    cs: dict[str, str | list[str]] = dict(settings)
    env: dict[str, str | None] = dict(spec.env)
    cmake_args, chained = _split_project_include(os.environ.get("CMAKE_ARGS", ""))
    chained = _user_project_include(project, settings) or chained
    environ = {**os.environ, **spec.env}
    launcher = compiler_cache.launcher(
        project.settings.compiler_cache, environ, label=spec.label, shared=cache_shared
    )
    include = render_variant_include(
        spec,
        apply_flags=project.settings.apply_flags,
        module_dir=cmake_module_dir(),
        chained=chained,
        launcher=launcher.command if launcher else None,
        # Only under the jobserver: a PEP 517 build spares a shell per job.
        slot_launcher=slot_launcher_command() if slotted else None,
    )
    stats = compiler_cache.stats_log(info_path.parent)
    stats.unlink(missing_ok=True)
    if launcher:
        env["CCACHE_STATSLOG"] = str(stats)
    # LTO code generation shared like the compiles whose IR it reads; its shim runs
    # from the jobserver's launcher, so only there.
    lto_stats = lto_cache.stats_log(info_path.parent)
    lto_stats.unlink(missing_ok=True)
    lto_env = lto_cache.environment(info_path.parent) if launcher and slotted else {}
    env.update({name: lto_env.get(name) for name in lto_cache.VARIABLES})
    cs["cmake.define.CMAKE_PROJECT_INCLUDE"] = str(_write_include(include))
    # What each source was compiled with, checked against the variant after the build.
    cs.setdefault("cmake.define.CMAKE_EXPORT_COMPILE_COMMANDS", "ON")
    if spec.cuda:
        archs = ";".join(spec.cuda_architectures)
        cs["cmake.define.CMAKE_CUDA_ARCHITECTURES"] = archs
        env["CUDAARCHS"] = archs
        nvcc = toolkit_nvcc(spec.cuda_toolkit, key=spec.key, label=spec.label)
        if nvcc is not None:
            # The variant's own defines (applied below) still win.
            cs["cmake.define.CMAKE_CUDA_COMPILER"] = nvcc
            env["CUDACXX"] = nvcc
            cudart = cudart_library(nvcc)
            if cudart is not None:
                cs["cmake.define.CUDA_CUDART"] = cudart
    elif project.matrix.has_gpu_variants:
        # Keep a CUDA-capable project on its CPU path for non-GPU variants, even on a
        # machine where a toolkit is installed.
        cs["cmake.define.CMAKE_CUDA_COMPILER"] = "CMAKE_CUDA_COMPILER-NOTFOUND"
        cs["cmake.define.CMAKE_DISABLE_FIND_PACKAGE_CUDAToolkit"] = "ON"
        env["CUDAARCHS"] = None
    for name, value in spec.cmake_define.items():
        cs[f"cmake.define.{name}"] = value
    extra_args = shlex.join(spec.cmake_args)
    env["CMAKE_ARGS"] = " ".join(a for a in (cmake_args, extra_args) if a) or None
    cs["build-dir"] = variant_build_dir(project, spec.label, settings)
    env["SKBUILD_BUILD_DIR"] = None
    env["POLYWHEEL_BUILD_INFO"] = str(info_path)
    return cs, env


def build_raw_wheel(
    project: Project,
    spec: VariantSpec | None,
    staging: Path,
    *,
    config_settings: ConfigSettings,
    editable: bool = False,
    jobs: int | None = None,
    slots: JobSlots | None = None,
    fresh: bool = False,
    cache_shared: bool = True,
) -> RawBuild:
    """Build one wheel with scikit-build-core into `staging` (cwd must not matter).

    `fresh` starts the CMake cache anew (`--rebuild`); it is also started anew whenever
    a variable CMake reads only at the first configure has changed since the last one.
    `jobs`: how many jobs ninja runs at once. `slots` names the matrix's jobserver:
    each job then takes its slot from that FIFO, after the build's gate if it has one,
    and hands the MAKEFLAGS to its own jobserver clients (cmake/job_slots.py).
    `cache_shared`: other builds read what this one stores in the compiler cache
    (cmake/compiler_cache.launcher).
    """
    from scikit_build_core import build as skbuild

    floor_minimum_version()
    find_package_paths_without_imports()
    staging.mkdir(parents=True, exist_ok=True)
    info_path = report_path(staging)
    info_path.unlink(missing_ok=True)
    cs: dict[str, str | list[str]]
    if spec is None:
        cs, env = dict(config_settings), dict[str, "str | None"]()
    else:
        cs, env = _variant_inputs(
            project,
            spec,
            config_settings,
            info_path,
            cache_shared=cache_shared,
            slotted=slots is not None,
        )
    cs.setdefault("wheel.reproducible", "true")
    for name in _SKBUILD_ENV_DROPPED:
        env[name] = None
    env.update(dict.fromkeys(JobSlots.variables()))
    if slots is not None:
        # ninja runs `jobs` at a time and is no jobserver client itself; each job
        # takes its slot through the launcher, which hands it the MAKEFLAGS.
        env.update(slots.environment())
        env["MAKEFLAGS"] = env["MFLAGS"] = None
        shim = make_shim_dir()
        if shim is not None:
            env["PATH"] = os.pathsep.join([str(shim), os.environ.get("PATH", "")])
    if jobs and "CMAKE_BUILD_PARALLEL_LEVEL" not in os.environ:
        env["CMAKE_BUILD_PARALLEL_LEVEL"] = str(jobs)
    label = spec.label if spec else None
    hook = skbuild.build_editable if editable else skbuild.build_wheel
    before = set(staging.glob("*.whl"))
    state = ConfigureState(project.root, f"{label}:{cs.get('build-dir', '')}")
    with _chdir(project.root), _patched_environ(env):
        snapshot = ConfigureState.snapshot()
        if fresh or state.needs_fresh(snapshot):
            os.environ["CMAKE_ARGS"] = " ".join(
                a for a in (os.environ.get("CMAKE_ARGS", ""), "--fresh") if a
            )
        state.forget()  # a failed configure leaves a cache of unknown state
        try:
            name = hook(str(staging), cs, None)
        except SystemExit as exc:
            raise BuildError(
                f"scikit-build-core stopped with exit status {exc.code} (see the build output)",
                label=label,
            ) from None
        state.record(snapshot)
    wheel = staging / name
    if not wheel.is_file() or wheel in before:
        raise BuildError(
            f"scikit-build-core reported {name!r} but wrote no such wheel", label=label
        )
    return RawBuild(wheel, BuildReport.read(info_path))
