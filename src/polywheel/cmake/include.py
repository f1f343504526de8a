"""The CMake file polywheel injects into each variant's configure step (pure rendering)."""

from __future__ import annotations

import re
from collections.abc import Sequence
from pathlib import Path

from polywheel import __version__
from polywheel.matrix.spec import VariantSpec

__all__ = ["render_variant_include"]


def _quote(value: str) -> str:
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"').replace("$", "\\$") + '"'


def _cmake_list(values: tuple[str, ...] | list[str]) -> str:
    return _quote(";".join(values))


def _feature_variable(namespace: str, feature: str) -> str:
    return "POLYWHEEL_" + re.sub(r"[^A-Z0-9]", "_", f"{namespace}_{feature}".upper())


def _launcher_lines(launcher: Sequence[str]) -> list[str]:
    """Compile through the shared cache unless the project chose its own launcher.

    A normal variable, not a cache entry: turning the cache off leaves nothing behind in
    CMakeCache.txt, and a launcher the project sets after project() still wins. One set
    before (a -D define, CMAKE_ARGS, the CMAKE_<LANG>_COMPILER_LAUNCHER environment
    variable, CMakeLists.txt) is kept, and the log says so.
    """
    return [
        f"set(_polywheel_launcher {_cmake_list(tuple(launcher))})",
        "set(_polywheel_launched)",
        "foreach(_polywheel_lang IN ITEMS C CXX CUDA)",
        "  if(DEFINED CMAKE_${_polywheel_lang}_COMPILER_LAUNCHER)",
        "    message(STATUS \"polywheel: keeping the project's "
        "CMAKE_${_polywheel_lang}_COMPILER_LAUNCHER "
        "(${CMAKE_${_polywheel_lang}_COMPILER_LAUNCHER}): no shared compiler cache for "
        '${_polywheel_lang}")',
        "  else()",
        '    set(CMAKE_${_polywheel_lang}_COMPILER_LAUNCHER "${_polywheel_launcher}")',
        "    list(APPEND _polywheel_launched ${_polywheel_lang})",
        "  endif()",
        "endforeach()",
        "get_property(_polywheel_enabled GLOBAL PROPERTY ENABLED_LANGUAGES)",
        "set(_polywheel_shown)",
        "foreach(_polywheel_lang IN LISTS _polywheel_launched)",
        "  if(_polywheel_lang IN_LIST _polywheel_enabled)",
        "    list(APPEND _polywheel_shown ${_polywheel_lang})",
        "  endif()",
        "endforeach()",
        "if(_polywheel_shown)",
        '  list(JOIN _polywheel_shown ", " _polywheel_shown)',
        '  message(STATUS "polywheel: compiling ${_polywheel_shown} through the shared '
        'compiler cache (${_polywheel_launcher})")',
        "endif()",
        "function(_polywheel_check_launchers)",
        "  foreach(lang IN LISTS _polywheel_launched)",
        '    if(NOT "${CMAKE_${lang}_COMPILER_LAUNCHER}" STREQUAL "${_polywheel_launcher}")',
        '      message(STATUS "polywheel: the project set its own '
        "CMAKE_${lang}_COMPILER_LAUNCHER (${CMAKE_${lang}_COMPILER_LAUNCHER}), which "
        'replaces the shared compiler cache for ${lang}")',
        "    endif()",
        "  endforeach()",
        "endfunction()",
        "cmake_language(DEFER CALL _polywheel_check_launchers)",
    ]


def _slot_lines(slot_launcher: str) -> list[str]:
    """Every job of the build behind the slot launcher (cmake/job_slots.py): CMake's
    rule launchers prefix each compile, link and custom command of the Ninja and
    Makefile generators, before any compiler launcher. Set at once, and again at the
    end of the top-level directory, where a launcher the project set itself (globally,
    for a directory or a target) gets the slot launcher put in front of it. Links are
    launched with `--link`, compiles with `--compile`."""
    return [
        f"set(_polywheel_slot {_quote(slot_launcher)})",
        # ARGN: GLOBAL, DIRECTORY <dir> or TARGET <name>; the latter two only where
        # the project set the property itself (it overrides the global one).
        "function(_polywheel_slot_property rule)",
        '  if(NOT ARGV1 STREQUAL "GLOBAL")',
        "    get_property(own ${ARGN} PROPERTY RULE_LAUNCH_${rule} SET)",
        "    if(NOT own)",
        "      return()",
        "    endif()",
        "  endif()",
        '  set(slot "${_polywheel_slot}")',
        '  if(rule STREQUAL "LINK")',
        '    string(APPEND slot " --link")',
        '  elseif(rule STREQUAL "COMPILE")',
        '    string(APPEND slot " --compile")',
        "  endif()",
        "  get_property(value ${ARGN} PROPERTY RULE_LAUNCH_${rule})",
        '  string(LENGTH "${slot}" length)',
        '  string(SUBSTRING "${value}" 0 ${length} head)',
        '  if(NOT "${head}" STREQUAL "${slot}")',
        '    string(STRIP "${slot} ${value}" value)',
        '    set_property(${ARGN} PROPERTY RULE_LAUNCH_${rule} "${value}")',
        "  endif()",
        "endfunction()",
        "function(_polywheel_slot_jobs)",
        "  foreach(rule IN ITEMS COMPILE LINK CUSTOM)",
        "    _polywheel_slot_property(${rule} GLOBAL)",
        "  endforeach()",
        "endfunction()",
        "function(_polywheel_slot_all_jobs)",
        "  _polywheel_slot_jobs()",
        '  set(dirs "${CMAKE_SOURCE_DIR}")',
        "  while(dirs)",
        "    list(POP_FRONT dirs dir)",
        '    get_property(subdirs DIRECTORY "${dir}" PROPERTY SUBDIRECTORIES)',
        "    list(APPEND dirs ${subdirs})",
        '    get_property(targets DIRECTORY "${dir}" PROPERTY BUILDSYSTEM_TARGETS)',
        "    foreach(rule IN ITEMS COMPILE LINK CUSTOM)",
        '      _polywheel_slot_property(${rule} DIRECTORY "${dir}")',
        "      foreach(target IN LISTS targets)",
        "        get_property(type TARGET ${target} PROPERTY TYPE)",
        '        if(NOT type STREQUAL "INTERFACE_LIBRARY")',
        "          _polywheel_slot_property(${rule} TARGET ${target})",
        "        endif()",
        "      endforeach()",
        "    endforeach()",
        "  endwhile()",
        "endfunction()",
        "_polywheel_slot_jobs()",
        "cmake_language(DEFER CALL _polywheel_slot_all_jobs)",
    ]


def render_variant_include(
    spec: VariantSpec,
    *,
    apply_flags: str,
    module_dir: Path,
    chained: str | None,
    launcher: Sequence[str] | None = None,
    slot_launcher: str | None = None,
) -> str:
    """CMake code run at the end of the first project() call of a variant build.

    `chained` is a CMAKE_PROJECT_INCLUDE the maintainer set themselves: it is
    included afterwards instead of being silently replaced. `launcher` is the compiler
    cache's command (cmake/compiler_cache.py), or None for none. `slot_launcher`: the
    shell command that runs each job of the build on a jobserver slot, or None.
    """

    def cache(name: str, value: str, kind: str = "STRING") -> str:
        return f'set({name} {value} CACHE {kind} "set by polywheel for this variant" FORCE)'

    lines = [
        f"# Generated by polywheel {__version__} for variant {spec.label}; do not edit.",
        "include_guard(GLOBAL)",
        # Cache variables, so they also show in CMakeCache.txt and `cmake -L`.
        cache("POLYWHEEL", "ON", "BOOL"),
        cache("POLYWHEEL_VARIANT_LABEL", _quote(spec.label)),
        cache("POLYWHEEL_VARIANT_PROPERTIES", _cmake_list([str(p) for p in spec.properties])),
    ]
    features: dict[str, list[str]] = {}
    for prop in spec.properties:
        features.setdefault(_feature_variable(prop.namespace, prop.feature), []).append(prop.value)
    lines += [cache(name, _cmake_list(values)) for name, values in sorted(features.items())]
    # A property removed from the variant must not linger in an existing CMake cache.
    fixed = ["POLYWHEEL", "POLYWHEEL_VARIANT_LABEL", "POLYWHEEL_VARIANT_PROPERTIES"]
    current = ";".join([*fixed, "POLYWHEEL_CUDA", *sorted(features)])
    lines.insert(2, f"set(_polywheel_current {_quote(current)})")
    lines += [
        "get_property(_polywheel_cached DIRECTORY PROPERTY CACHE_VARIABLES)",
        "foreach(_polywheel_name IN LISTS _polywheel_cached)",
        '  if(_polywheel_name MATCHES "^POLYWHEEL_" AND '
        "NOT _polywheel_name IN_LIST _polywheel_current)",
        "    unset(${_polywheel_name} CACHE)",
        "  endif()",
        "endforeach()",
    ]
    lines += [
        cache("POLYWHEEL_CUDA", "ON" if spec.cuda else "OFF", "BOOL"),
        f"set(POLYWHEEL_COMPILE_OPTIONS_GNU {_cmake_list(spec.flags.gnu)})",
        f"set(POLYWHEEL_COMPILE_OPTIONS_MSVC {_cmake_list(spec.flags.msvc)})",
        f"set(POLYWHEEL_COMPILE_OPTIONS_EXTRA {_cmake_list(spec.flags.extra)})",
        f"list(APPEND CMAKE_MODULE_PATH {_quote(module_dir.as_posix())})",
        "include(Polywheel)",
        'if(CMAKE_C_COMPILER_ID STREQUAL "MSVC" OR CMAKE_CXX_COMPILER_ID STREQUAL "MSVC")',
        "  set(POLYWHEEL_COMPILE_OPTIONS ${POLYWHEEL_COMPILE_OPTIONS_MSVC} "
        "${POLYWHEEL_COMPILE_OPTIONS_EXTRA})",
        "else()",
        "  set(POLYWHEEL_COMPILE_OPTIONS ${POLYWHEEL_COMPILE_OPTIONS_GNU} "
        "${POLYWHEEL_COMPILE_OPTIONS_EXTRA})",
        "endif()",
    ]
    lines.append("_polywheel_map_prefixes()")
    if launcher:
        lines += _launcher_lines(launcher)
    if slot_launcher:
        lines += _slot_lines(slot_launcher)
    if apply_flags == "global" and spec.flags:
        lines.append("_polywheel_apply_global_flags()")
    lines.append("cmake_language(DEFER CALL _polywheel_write_build_info)")
    if chained:
        lines.append(f"include({_quote(chained)})")
    return "\n".join(lines) + "\n"
