"""NumPy's include folder for scikit-build-core's CMake hints, found without importing NumPy.

With `cmake.python-hints` on (its default), scikit-build-core passes CMake
`Python_NumPy_INCLUDE_DIR` in every build where NumPy is installed, and finds it by
importing NumPy: about 60 ms of every build's critical path (and of the workers'
server's start) for a path, whether the project uses NumPy or not. The folder
`numpy.get_include()` names is the `include` folder of NumPy's core package, `_core`
since NumPy 2 and `core` before; locating the package's folder does not run its code.
Where that folder does not hold NumPy's headers, scikit-build-core's own lookup runs.
"""

from __future__ import annotations

import importlib.util
from collections.abc import Callable
from pathlib import Path

__all__ = ["numpy_include_dir", "use_numpy_include_dir"]

# NumPy 2 keeps `numpy/core` as a package of aliases without headers, so `_core` first.
_CORE_PACKAGES = ("_core", "core")
_HEADER = Path("numpy", "arrayobject.h")


def numpy_include_dir(fallback: Callable[[], Path | None]) -> Path | None:
    """The folder `numpy.get_include()` returns, or what `fallback` says where NumPy's
    package holds no headers where they are expected (an unusual layout)."""
    try:
        spec = importlib.util.find_spec("numpy")
    except (ImportError, ValueError):
        spec = None
    if spec is None:
        return None  # not installed: no hint, as scikit-build-core gives none either
    for location in spec.submodule_search_locations or ():
        for core in _CORE_PACKAGES:
            include = Path(location, core, "include")
            if (include / _HEADER).is_file():
                return include
    return fallback()


def use_numpy_include_dir() -> None:
    """Have scikit-build-core's builder find NumPy's headers with `numpy_include_dir`.
    Idempotent; a scikit-build-core without the lookup this replaces is left alone."""
    from scikit_build_core.builder import builder

    original = getattr(builder, "get_numpy_include_dir", None)
    if original is None or getattr(original, "__module__", None) == __name__:
        return

    def get_numpy_include_dir() -> Path | None:
        return numpy_include_dir(original)

    # Not an export of that module: mypy would refuse a plain assignment.
    setattr(builder, "get_numpy_include_dir", get_numpy_include_dir)  # noqa: B010
