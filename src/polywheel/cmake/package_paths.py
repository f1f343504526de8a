"""Paths scikit-build-core imports a package for, found without importing it.

In every build, scikit-build-core imports the `cmake` package to learn where its
program is (the package lists its ~4,000 installed files on import: about 20 ms), and,
with `cmake.python-hints` on (its default) and NumPy installed, NumPy, to pass CMake
`Python_NumPy_INCLUDE_DIR` (about 60 ms), whether the project uses NumPy or not. Both
are paths inside the installed package's folder, which can be located without running
the package's code: the `cmake` package's program is `data/bin/cmake` in it, and the
folder `numpy.get_include()` names is `include` in NumPy's core package (`_core` since
NumPy 2, `core` before). Where a folder does not hold what is expected there,
scikit-build-core's own lookup runs, import included.
"""

from __future__ import annotations

import importlib.util
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

__all__ = ["cmake_program", "find_package_paths_without_imports", "numpy_include_dir"]

# NumPy 2 keeps `numpy/core` as a package of aliases without headers, so `_core` first.
_NUMPY_CORE_PACKAGES = ("_core", "core")
_NUMPY_HEADER = Path("numpy", "arrayobject.h")


def _package_folders(name: str) -> list[Path]:
    try:
        spec = importlib.util.find_spec(name)
    except (ImportError, ValueError):
        return []
    if spec is None:
        return []
    return [Path(location) for location in spec.submodule_search_locations or ()]


def numpy_include_dir(fallback: Callable[[], Path | None]) -> Path | None:
    """The folder `numpy.get_include()` returns (None where NumPy is not installed), or
    what `fallback` says where NumPy's package holds no headers where expected."""
    folders = _package_folders("numpy")
    if not folders:
        return None  # not installed: no hint, as scikit-build-core gives none either
    for folder in folders:
        for core in _NUMPY_CORE_PACKAGES:
            include = folder / core / "include"
            if (include / _NUMPY_HEADER).is_file():
                return include
    return fallback()


def cmake_program() -> Path | None:
    """The program of the `cmake` package as the package names it (its `CMAKE_BIN_DIR`,
    from the resolved data folder), or None where the package or its program is not
    where it installs them."""
    for folder in _package_folders("cmake"):
        try:
            data = (folder / "data" / "bin" / "cmake").resolve(strict=True).parents[1]
        except (OSError, RuntimeError):  # missing, or a loop of links
            continue
        return data / "bin" / "cmake"
    return None


def _replace(module: object, name: str, replacement: Callable[[Any], Any]) -> None:
    """`module.name` = `replacement(original)`, once: not where it is replaced already
    or where this scikit-build-core has no such lookup."""
    original = getattr(module, name, None)
    if original is not None and getattr(original, "__module__", None) != __name__:
        setattr(module, name, replacement(original))


def _numpy_lookup(original: Callable[[], Path | None]) -> Callable[[], Path | None]:
    def get_numpy_include_dir() -> Path | None:
        return numpy_include_dir(original)

    return get_numpy_include_dir


def _cmake_lookup(original: Callable[..., Iterator[Path]]) -> Callable[..., Iterator[Path]]:
    def _get_cmake_path(*, module: bool = True) -> Iterator[Path]:
        # The same candidates in the same order: the package's program first.
        found = cmake_program() if module else None
        if found is not None:
            yield found
        yield from original(module=module and found is None)

    return _get_cmake_path


def find_package_paths_without_imports() -> None:
    """Have scikit-build-core's lookups of these paths use the functions above.
    Idempotent; a scikit-build-core without a lookup this replaces keeps its own."""
    from scikit_build_core import program_search
    from scikit_build_core.builder import builder

    _replace(builder, "get_numpy_include_dir", _numpy_lookup)
    _replace(program_search, "_get_cmake_path", _cmake_lookup)
