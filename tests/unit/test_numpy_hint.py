"""NumPy's include folder for scikit-build-core's CMake hints, found without importing
NumPy (polywheel/cmake/numpy_hint.py)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

# Run in a fresh interpreter: whether NumPy gets imported is the point, and a package
# named `numpy` placed first on PYTHONPATH must be the one found.
_PROBE = """
import json, sys
from polywheel.cmake.numpy_hint import numpy_include_dir
found = numpy_include_dir(lambda: "fallback")
print(json.dumps({"found": str(found), "imported": "numpy" in sys.modules}))
"""


def _probe(path: Path) -> dict[str, object]:
    out = subprocess.run(
        [sys.executable, "-c", _PROBE],
        env={"PYTHONPATH": str(path), "PATH": "/usr/bin:/bin"},
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    result: dict[str, object] = json.loads(out)
    return result


def _fake_numpy(root: Path, *header_dirs: str) -> Path:
    package = root / "numpy"
    package.mkdir(parents=True)
    (package / "__init__.py").write_text("raise SystemExit('NumPy must not be imported')\n")
    for core in header_dirs:
        (package / core / "include" / "numpy").mkdir(parents=True)
        (package / core / "include" / "numpy" / "arrayobject.h").write_text("")
    return package


@pytest.mark.parametrize(
    ("header_dirs", "expected"),
    [
        (("_core",), "_core"),  # NumPy 2
        (("core",), "core"),  # NumPy 1
        (("core", "_core"), "_core"),
    ],
)
def test_the_headers_are_found_where_numpy_installs_them(
    tmp_path: Path, header_dirs: tuple[str, ...], expected: str
) -> None:
    package = _fake_numpy(tmp_path, *header_dirs)
    assert _probe(tmp_path) == {"found": str(package / expected / "include"), "imported": False}


def test_numpy_2s_alias_package_without_headers_is_not_taken(tmp_path: Path) -> None:
    package = _fake_numpy(tmp_path, "_core")
    (package / "core" / "include").mkdir(parents=True)  # no numpy/arrayobject.h in it
    assert _probe(tmp_path)["found"] == str(package / "_core" / "include")


def test_an_unusual_layout_asks_the_fallback(tmp_path: Path) -> None:
    _fake_numpy(tmp_path)
    assert _probe(tmp_path) == {"found": "fallback", "imported": False}


def test_without_numpy_there_is_no_hint(monkeypatch: pytest.MonkeyPatch) -> None:
    import importlib.util

    from polywheel.cmake.numpy_hint import numpy_include_dir

    monkeypatch.setattr(importlib.util, "find_spec", lambda name: None)
    assert numpy_include_dir(lambda: pytest.fail("no fallback without NumPy")) is None


def test_scikit_build_cores_lookup_gives_what_numpy_get_include_gives() -> None:
    pytest.importorskip("numpy")
    code = """
import sys
from scikit_build_core.builder import builder
from polywheel.cmake.numpy_hint import use_numpy_include_dir
use_numpy_include_dir()
lookup = builder.get_numpy_include_dir
use_numpy_include_dir()
assert builder.get_numpy_include_dir is lookup, "wrapped twice"
found = builder.get_numpy_include_dir()
assert "numpy" not in sys.modules, "NumPy was imported"
assert builder.get_numpy_include_dir.__module__ == "polywheel.cmake.numpy_hint"
import numpy
print(found == __import__("pathlib").Path(numpy.get_include()), found)
"""
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    ).stdout
    assert out.startswith("True "), out
