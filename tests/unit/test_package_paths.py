"""The paths scikit-build-core imports the `cmake` package and NumPy for, found without
importing them (polywheel/cmake/package_paths.py)."""

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
from polywheel.cmake.package_paths import numpy_include_dir
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

    from polywheel.cmake.package_paths import numpy_include_dir

    monkeypatch.setattr(importlib.util, "find_spec", lambda name: None)
    assert numpy_include_dir(lambda: pytest.fail("no fallback without NumPy")) is None


def test_scikit_build_cores_lookups_give_what_the_packages_give() -> None:
    pytest.importorskip("numpy")
    code = """
import sys
from pathlib import Path
from scikit_build_core import program_search
from scikit_build_core.builder import builder
from polywheel.cmake.package_paths import find_package_paths_without_imports
find_package_paths_without_imports()
lookups = builder.get_numpy_include_dir, program_search._get_cmake_path
find_package_paths_without_imports()
assert (builder.get_numpy_include_dir, program_search._get_cmake_path) == lookups, "wrapped twice"
include = builder.get_numpy_include_dir()
programs = list(program_search._get_cmake_path())
without_module = list(program_search._get_cmake_path(module=False))
assert "numpy" not in sys.modules and "cmake" not in sys.modules, "imported"
import cmake, numpy
assert include == Path(numpy.get_include()), include
assert programs[0] == Path(cmake.CMAKE_BIN_DIR) / "cmake", programs
assert programs[1:] == without_module, (programs, without_module)
"""
    done = subprocess.run([sys.executable, "-c", code], check=False, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr


def test_the_cmake_packages_program_is_found_where_it_installs_it(tmp_path: Path) -> None:
    from polywheel.cmake.package_paths import cmake_program

    package = tmp_path / "cmake"
    (package / "data" / "bin").mkdir(parents=True)
    (package / "__init__.py").write_text("raise SystemExit('cmake must not be imported')\n")
    code = (
        "import sys; from polywheel.cmake.package_paths import cmake_program; "
        "print(cmake_program()); print('cmake' in sys.modules)"
    )

    def probe() -> list[str]:
        env = {"PYTHONPATH": str(tmp_path), "PATH": "/usr/bin:/bin"}
        out = subprocess.run(
            [sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True
        )
        return out.stdout.split()

    assert probe() == ["None", "False"]  # no program: scikit-build-core's own lookup runs
    (package / "data" / "bin" / "cmake").write_text("")
    assert probe() == [str(package / "data" / "bin" / "cmake"), "False"]
    assert cmake_program() is not None  # the real package, in this interpreter
