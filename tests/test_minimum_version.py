"""`minimum-version = "build-system.requires"` with polywheel as the backend: scikit-build-core
finds no scikit-build-core entry there, so polywheel gives its own floor."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from conftest import pep517_build, polywheel
from packaging.version import Version

pytestmark = pytest.mark.compile


def test_the_floor_is_polywheels_own_requirement() -> None:
    from scikit_build_core.settings import skbuild_read_settings as reader

    from polywheel.cmake.minimum_version import floor_minimum_version

    floor_minimum_version()
    floor_minimum_version()  # once is enough, twice does not wrap twice
    find = reader.get_min_requires
    assert find("scikit-build-core", ["polywheel"]) == Version("1.1")
    # A scikit-build-core entry of the project still wins; other projects are untouched.
    assert find("scikit-build-core", ["polywheel", "scikit-build-core>=1.1.1"]) == Version("1.1.1")
    assert find("scikit-build-core", ["hatchling"]) is None


def test_minimum_version_from_build_system_requires(copy_project: Callable[[str], Path]) -> None:
    project = copy_project("simple_c")
    pyproject = project / "pyproject.toml"
    text = pyproject.read_text().replace(
        "[tool.scikit-build]\n", '[tool.scikit-build]\nminimum-version = "build-system.requires"\n'
    )
    pyproject.write_text(text)
    polywheel("build", "--variant", "x86_64_v1", "-o", "dist", cwd=project)
    assert list((project / "dist").glob("simple_c-*-x86_64_v1.whl"))
    pep517_build(project)  # the hooks: the plain wheel
    assert list((project / "dist").glob("simple_c-0.1.0-*_x86_64.whl"))
