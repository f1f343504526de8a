"""The make program of the variant builds under the matrix's jobserver.

`polywheel build -j N` shares N jobs between its variant builds through a GNU make
jobserver (pipeline/jobserver.py), which ninja 1.13 and later reads. A ninja runs its
first job without a token (its implicit slot), so a build may start its ninja only on
a slot of its own. `jobserver_support` tells whether the builds can take their jobs
from the jobserver at all, and `slot_taking_ninja` writes the ninja that holds that
slot itself: a script that takes one token from the FIFO before it runs the real
ninja and gives it back when ninja ends. With it, a variant build needs no slot while
it configures or writes its wheel, so one more build than there are jobs can run, and
its configure fills a core that the others leave idle, while still no more than N
jobs (compiles, links, CMake's try_compile) run at once.
"""

from __future__ import annotations

import os
import re
import shlex
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import NamedTuple

from packaging.version import Version

from polywheel.cachedir import cached_script
from polywheel.cmake.skbuild_settings import skbuild_setting
from polywheel.matrix.spec import VariantSpec
from polywheel.project import Project

__all__ = ["FIFO_ENV", "JobserverSupport", "build_ninja", "jobserver_support", "slot_taking_ninja"]

ConfigSettings = Mapping[str, "str | list[str]"]

# Set for a build's own CMake and ninja: the jobserver FIFO to take the slot from.
FIFO_ENV = "POLYWHEEL_JOB_FIFO"
_MAKE_PROGRAM_ARG = re.compile(r"^(?:-D)?CMAKE_MAKE_PROGRAM(?::[A-Za-z]+)?=")

# `--version` and `-t TOOL` (CMake runs restat, recompact, cleandead) run no job. The
# variable is dropped for ninja's own jobs: a ninja one of them runs (a sub-build)
# works on that job's slot, as GNU make's sub-makes do.
_WRAPPER = """#!/bin/sh
# Written by polywheel (cmake/make_program.py): {ninja} on a job slot of its own,
# taken from polywheel's jobserver before it starts and given back when it ends.
fifo=${{{env}-}}
for arg do
    case $arg in --version|-t*) fifo= ;; esac
done
if [ -z "$fifo" ]; then exec {ninja} "$@"; fi
unset {env}
exec 3<>"$fifo" || exit 1
token=$(dd bs=1 count=1 <&3 2>/dev/null)
if [ -z "$token" ]; then
    echo "polywheel: no job slot from the jobserver $fifo" >&2
    exit 1
fi
trap 'printf %s "$token" >&3' EXIT
trap 'exit 129' HUP
trap 'exit 130' INT
trap 'exit 143' TERM
{ninja} "$@" 3>&-
"""


class JobserverSupport(NamedTuple):
    """`unsupported`: why the builds cannot share the jobserver (None: they can).
    `slot_taking`: their ninja can take its first slot itself (`slot_taking_ninja`);
    not where the project names its own CMAKE_MAKE_PROGRAM."""

    unsupported: str | None
    slot_taking: bool = False


def slot_taking_ninja(ninja: str) -> Path:
    """The script that runs `ninja` on a slot of the jobserver named in FIFO_ENV."""
    content = _WRAPPER.format(ninja=shlex.quote(ninja), env=FIFO_ENV)
    return cached_script("ninja-slot", "ninja", content)


def _listed(value: object, sep: str) -> list[str]:
    if isinstance(value, str):
        return [v for v in value.split(sep) if v]
    return [str(v) for v in value] if isinstance(value, (list, tuple)) else []


def jobserver_support(
    project: Project, specs: Sequence[VariantSpec | None], settings: ConfigSettings
) -> JobserverSupport:
    """Whether the builds of `specs` can take their jobs from a jobserver: the ninja
    scikit-build-core will pick is 1.13 or later (the first release that is a jobserver
    client), every build uses the Ninja generator, and no -j reaches ninja."""
    if "CMAKE_BUILD_PARALLEL_LEVEL" in os.environ:
        return JobserverSupport(
            "CMAKE_BUILD_PARALLEL_LEVEL is set, so each variant runs that many jobs"
        )
    tool_args = _listed(skbuild_setting(project.pyproject, settings, "build.tool-args"), ";")
    if any(a.startswith(("-j", "--parallel")) for a in tool_args):
        return JobserverSupport(
            "build.tool-args passes -j to ninja, which turns its jobserver client off"
        )
    try:
        from scikit_build_core.builder.generator import resolve_generator
    except ImportError:  # pragma: no cover - a scikit-build-core without these helpers
        return JobserverSupport("this scikit-build-core does not tell which generator it will use")
    table = skbuild_setting(project.pyproject, settings, "cmake.define")
    defines = {str(k): v for k, v in table.items()} if isinstance(table, Mapping) else {}
    defines.update(
        {k.split(".", 2)[2]: v for k, v in settings.items() if k.startswith("cmake.define.")}
    )
    common = _listed(skbuild_setting(project.pyproject, settings, "cmake.args"), ";")
    own_make_program = False
    for spec in specs:
        env = {**os.environ, **(spec.env if spec else {})}
        args = [*shlex.split(env.get("CMAKE_ARGS", "")), *common]
        args += spec.cmake_args if spec else ()
        every = {**defines, **(spec.cmake_define if spec else {})}
        generator = resolve_generator(
            args, {k: v for k, v in every.items() if isinstance(v, str)}, env
        )
        if generator and "Ninja" not in generator:
            return JobserverSupport(f"the CMake generator is {generator!r}, not Ninja")
        own_make_program |= "CMAKE_MAKE_PROGRAM" in every or any(
            _MAKE_PROGRAM_ARG.match(a) for a in args
        )
    ninja = build_ninja(project, settings)
    if ninja is None:
        return JobserverSupport("no ninja was found")
    path, version = ninja
    if version is None or version < Version("1.13"):
        return JobserverSupport(
            f"ninja {version or '(unknown version)'} ({path}) is older than 1.13"
        )
    return JobserverSupport(None, slot_taking=not own_make_program)


def build_ninja(project: Project, settings: ConfigSettings) -> tuple[str, Version | None] | None:
    """The ninja scikit-build-core picks in this environment (the `ninja` package first,
    `ninja.version` honoured), with its version; None where there is none. A build
    asks in its own environment, which an isolated build's requirements may give
    another ninja than polywheel's."""
    from packaging.specifiers import InvalidSpecifier, SpecifierSet
    from scikit_build_core.program_search import best_program, get_ninja_programs

    wanted = skbuild_setting(project.pyproject, settings, "ninja.version")
    try:
        allowed = SpecifierSet(wanted if isinstance(wanted, str) else ">=1.5")
    except InvalidSpecifier:
        allowed = SpecifierSet(">=1.5")
    ninja = best_program(get_ninja_programs(), version=allowed)
    return None if ninja is None else (str(ninja.path), ninja.version)
