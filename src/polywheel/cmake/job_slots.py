"""The jobs of the variant builds, each on a slot of the matrix's jobserver.

`polywheel build -j N` shares N job slots between its variant builds through a GNU make
jobserver (pipeline/jobserver.py). Each build runs its jobs through `slot_launcher`:
a small script that takes one token from the jobserver's FIFO before the job starts and
gives it back when the job ends. The variant include sets it as CMake's rule launcher
for compiles, links and custom commands (cmake/include.py), so it wraps every job
ninja runs, whatever launcher the project itself uses. A build therefore holds no slot
while CMake configures it, while ninja waits, or while polywheel writes its wheel: all
variants can build side by side and N jobs run across them until the last one ends,
never more.

ninja itself is not a jobserver client here: its own client runs one job without a
token (its implicit slot), so three builds on two slots would run three jobs. Each
build's ninja gets `-j N` instead and no `MAKEFLAGS`; the launcher hands `MAKEFLAGS` to
the job it runs, so a jobserver client started by a job (GCC's LTO driver, a sub-make,
the ninja of an ExternalProject) runs on that job's slot, as GNU make's sub-makes do;
links get it as descriptors, the form GCC's LTO driver reads before GCC 13.
Compiler identification and `try_compile` during configure run no job of the build
and are not counted.

A build may also be gated (GATE_ENV): its compiles wait until the FIFO named there has
a writer, which polywheel gives it when the build that fills the compiler cache first
(pipeline/lanes.py) has ended; compiles whose command holds the variant's own flag
(GATE_UNLESS_ENV: the flagged targets of `apply-flags = "targets"`, which no other
build compiles) do not wait. So the other builds configure and compile what is their
own while the first one builds, and compile what they share with it from the cache.
"""

from __future__ import annotations

import dataclasses
import os
import shlex
from collections.abc import Mapping, Sequence
from pathlib import Path

from polywheel.cachedir import cached_script
from polywheel.cmake import lto_shim
from polywheel.cmake.skbuild_settings import skbuild_setting
from polywheel.matrix.spec import VariantSpec
from polywheel.project import Project

__all__ = [
    "FIFO_ENV",
    "GATE_ENV",
    "GATE_UNLESS_ENV",
    "MAKEFLAGS_ENV",
    "JobSlots",
    "jobserver_support",
    "slot_launcher",
    "slot_launcher_command",
]

ConfigSettings = Mapping[str, "str | list[str]"]

# Set for a build's ninja, read by the launcher: the jobserver FIFO to take slots
# from, and the MAKEFLAGS to give the jobs (ninja must not see them, see above).
FIFO_ENV = "POLYWHEEL_JOB_FIFO"
MAKEFLAGS_ENV = "POLYWHEEL_MAKEFLAGS"
GATE_ENV = "POLYWHEEL_JOB_GATE"
GATE_UNLESS_ENV = "POLYWHEEL_JOB_GATE_UNLESS"

# CMake's own file operations, the commonest custom commands (a copy that a link
# depends on, say), take no measurable CPU: they run at once rather than wait for a slot
# behind the compiles, which could hold up the link that waits for them for seconds.
# Not `-E env`, `chdir` or `time`, which run another command, nor hashing or archiving.
_CMAKE_FILE_OPERATIONS = (
    "copy",
    "copy_if_different",
    "copy_if_newer",
    "copy_directory",
    "copy_directory_if_different",
    "copy_directory_if_newer",
    "make_directory",
    "remove",
    "remove_directory",
    "rm",
    "rename",
    "touch",
    "touch_nocreate",
    "create_symlink",
    "create_hardlink",
    "echo",
    "echo_append",
    "true",
    "false",
)

# A link also finds the LTO cache's shim first on COMPILER_PATH, where that is on for the
# build (cmake/lto_cache.py): GCC runs it as its lto-wrapper; other programs ignore it.
# Without the FIFO variable (ninja run by hand in a build folder, a build without a
# jobserver) the job runs as it would without the launcher. The variables are dropped
# for the job itself: a launcher inside it (a nested build) must not wait for a second
# slot while its parent holds one. `--link` (the rule launcher of links) names the
# jobserver by descriptors instead (`R,W`, here one descriptor open on the FIFO for
# both): GCC's LTO driver reads only that form before GCC 13, and without it runs as
# many code generation jobs as there are cores.
_LAUNCHER = """#!/bin/sh
# Written by polywheel (cmake/job_slots.py): runs one job of a variant build on a slot
# of polywheel's jobserver, taken before the job starts and given back when it ends.
kind=
case "${{1-}}" in --link|--compile) kind=$1; shift ;; esac
fifo=${{{fifo}-}}
if [ -z "$fifo" ]; then exec "$@"; fi
flags=${{{makeflags}-}}
gate=${{{gate}-}}
own=${{{unless}-}}
unset {fifo} {makeflags} {gate} {unless}
if [ -z "$kind" ] && [ "${{2-}}" = -E ]; then
    case "$1" in */cmake|cmake)
        case "${{3-}}" in {file_ops}) exec "$@" ;; esac ;;
    esac
fi
if [ "$kind" = --compile ] && [ -n "$gate" ]; then
    if [ -n "$own" ]; then
        case " $* " in *" $own "*) gate= ;; esac
    fi
    if [ -n "$gate" ]; then
        : <"$gate" || exit 1
    fi
fi
if [ "$kind" = --link ] && [ -n "${{{lto_shim}-}}" ]; then
    COMPILER_PATH=${{{lto_shim}}}${{COMPILER_PATH:+:$COMPILER_PATH}}
    export COMPILER_PATH
fi
exec 3<>"$fifo" || exit 1
if [ -n "$flags" ]; then
    if [ "$kind" = --link ]; then
        exec 4<>"$fifo" || exit 1
        flags="${{flags%%--jobserver-auth=*}}--jobserver-auth=4,4"
    fi
    MAKEFLAGS=$flags
    export MAKEFLAGS
fi
token=$(dd bs=1 count=1 <&3 2>/dev/null)
if [ -z "$token" ]; then
    echo "polywheel: no job slot from the jobserver $fifo" >&2
    exit 1
fi
trap 'printf %s "$token" >&3' EXIT
trap 'exit 129' HUP
trap 'exit 130' INT
trap 'exit 143' TERM
"$@" 3>&-
"""


@dataclasses.dataclass(frozen=True)
class JobSlots:
    """What a variant build needs to run its jobs on the matrix's jobserver: its FIFO,
    the MAKEFLAGS for the jobs' own clients, and, for a gated build, the gate FIFO and
    the flag of the compiles that need not wait for it."""

    fifo: str
    makeflags: str
    gate: str | None = None
    gate_unless: str | None = None

    @staticmethod
    def variables() -> tuple[str, ...]:
        """Every variable `environment` may set (a build without slots unsets them)."""
        return tuple(JobSlots("", "").environment())

    def environment(self) -> dict[str, str | None]:
        return {
            FIFO_ENV: self.fifo,
            MAKEFLAGS_ENV: self.makeflags,
            GATE_ENV: self.gate,
            GATE_UNLESS_ENV: self.gate_unless if self.gate else None,
        }


def slot_launcher() -> Path:
    """The script that runs the command it is given on a slot of the jobserver named in
    FIFO_ENV."""
    content = _LAUNCHER.format(
        fifo=FIFO_ENV,
        makeflags=MAKEFLAGS_ENV,
        gate=GATE_ENV,
        unless=GATE_UNLESS_ENV,
        file_ops="|".join(_CMAKE_FILE_OPERATIONS),
        lto_shim=lto_shim.SHIM_ENV,
    )
    return cached_script("job-slot", "launch", content)


def slot_launcher_command() -> str:
    """The launcher as a command line, quoted for the shell that runs ninja's jobs (the
    include adds `--link` for links and `--compile` for compiles)."""
    return shlex.quote(str(slot_launcher()))


def _listed(value: object) -> list[str]:
    """A scikit-build-core list setting: a TOML array, or a `;`-separated string."""
    if isinstance(value, str):
        return [v for v in value.split(";") if v]
    return [str(v) for v in value] if isinstance(value, (list, tuple)) else []


def jobserver_support(
    project: Project, specs: Sequence[VariantSpec | None], settings: ConfigSettings
) -> str | None:
    """Why the builds of `specs` cannot share one jobserver, or None where they can:
    they are variant builds (the variant include sets the launcher) with the Ninja
    generator, and the parallel level is polywheel's to set."""
    variants = [spec for spec in specs if spec is not None]
    if len(variants) != len(specs):
        return "one plain build, nothing to share"
    if "CMAKE_BUILD_PARALLEL_LEVEL" in os.environ:
        return "CMAKE_BUILD_PARALLEL_LEVEL is set, so each variant runs that many jobs"
    try:
        from scikit_build_core.builder.generator import resolve_generator
    except ImportError:  # pragma: no cover - a scikit-build-core without these helpers
        return "this scikit-build-core does not tell which generator it will use"
    table = skbuild_setting(project.pyproject, settings, "cmake.define")
    defines = {str(k): v for k, v in table.items()} if isinstance(table, Mapping) else {}
    defines.update(
        {k.split(".", 2)[2]: v for k, v in settings.items() if k.startswith("cmake.define.")}
    )
    common_args = _listed(skbuild_setting(project.pyproject, settings, "cmake.args"))
    for spec in variants:
        env = {**os.environ, **spec.env}
        args = [*shlex.split(env.get("CMAKE_ARGS", "")), *common_args, *spec.cmake_args]
        every = {**defines, **spec.cmake_define}
        generator = resolve_generator(
            args, {k: v for k, v in every.items() if isinstance(v, str)}, env
        )
        if generator and "Ninja" not in generator:
            return f"the CMake generator is {generator!r}, not Ninja"
    return None
