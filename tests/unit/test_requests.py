"""Whether a get_requires hook needs the matrix (matrix/requests.py): only a selection
or a declared `build-requires` can change its answer."""

from __future__ import annotations

from pathlib import Path

import pytest

from polywheel.matrix.requests import OWN_KEYS, requires_need_matrix

VARIANT = '[[tool.variants.variant]]\nlabel = "v3"\nproperties = ["x86_64 :: level :: v3"]\n'


def project(tmp_path: Path, text: str) -> Path:
    (tmp_path / "pyproject.toml").write_text('[project]\nname = "p"\nversion = "1"\n' + text)
    return tmp_path


def test_no_build_requires_and_no_selection_needs_no_matrix(tmp_path: Path) -> None:
    assert not requires_need_matrix(project(tmp_path, VARIANT), None)
    assert not requires_need_matrix(project(tmp_path, VARIANT), {"cmake.build-type": "Debug"})
    assert not requires_need_matrix(project(tmp_path, ""), {})


@pytest.mark.parametrize("key", OWN_KEYS)
def test_a_selection_needs_the_matrix(tmp_path: Path, key: str) -> None:
    assert requires_need_matrix(project(tmp_path, VARIANT), {key: "v3"})


@pytest.mark.parametrize(
    "text",
    [
        VARIANT + 'build-requires = ["cython"]\n',
        '[tool.variants.axes.lib.new]\nlabel = "new"\nbuild-requires = ["nanobind>=2"]\n',
        '[tool.variants]\nvariant = [{label = "a", build-requires = ["b"]}]\n',
    ],
)
def test_declared_build_requires_need_the_matrix(tmp_path: Path, text: str) -> None:
    assert requires_need_matrix(project(tmp_path, text), None)


def test_an_unreadable_pyproject_is_left_to_the_full_reader(tmp_path: Path) -> None:
    assert requires_need_matrix(project(tmp_path, "[tool.variants\n"), None)
    (tmp_path / "pyproject.toml").write_text('tool = 1\n[project]\nname = "p"\n')
    assert requires_need_matrix(tmp_path, None)
    assert requires_need_matrix(tmp_path / "missing", None)


def test_deep_nesting_is_walked_without_recursion(tmp_path: Path) -> None:
    deep = "[" * 400 + "1" + "]" * 400
    assert not requires_need_matrix(project(tmp_path, f"[tool.variants]\nx = {deep}\n"), None)
