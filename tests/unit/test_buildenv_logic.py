"""The pure parts of the build environments: requirement checks, keys, what is resolved."""

from __future__ import annotations

import pytest

import polywheel
from polywheel.errors import ConfigError
from polywheel.matrix.expand import expand_matrix
from polywheel.matrix.spec import Matrix
from polywheel.pipeline import buildenv
from polywheel.settings import read_settings


def test_unmet_names_missing_and_wrong_versions() -> None:
    missing = buildenv.unmet(["surely-not-installed-pkg>=1", "packaging>=9999", "packaging"])
    assert missing[0] == "surely-not-installed-pkg>=1 (not installed)"
    assert missing[1].startswith("packaging>=9999 (found ")
    assert len(missing) == 2


def test_unmet_honours_markers_and_counts_polywheel_as_running() -> None:
    assert buildenv.unmet(["surely-not-installed-pkg; python_version < '3'"]) == []
    assert buildenv.unmet([f"polywheel=={polywheel.__version__}"]) == []
    assert buildenv.unmet(["polywheel>9999"]) == [f"polywheel>9999 (found {polywheel.__version__})"]


def test_env_requirements_replace_polywheel_by_its_own_needs() -> None:
    reqs = buildenv.env_requirements(["polywheel", "nanobind>=2"], ["cython"])
    assert "polywheel" not in " ".join(reqs)
    assert reqs[:2] == ["nanobind>=2", "cython"]
    assert any(r.startswith("scikit-build-core") for r in reqs)
    # The same set, whichever way polywheel is named: one environment.
    assert buildenv.env_requirements(["nanobind>=2"], ["cython"]) == reqs


def test_a_polywheel_version_that_is_not_running_is_refused() -> None:
    with pytest.raises(ConfigError, match=r"asks for polywheel>9999") as info:
        buildenv.env_requirements(["polywheel>9999"])
    assert info.value.key == "build-system.requires"


def test_invalid_requirement_names_its_key() -> None:
    with pytest.raises(ConfigError) as info:
        buildenv.env_requirements(["nanobind>="], key="tool.variants.variant[0].build-requires")
    assert info.value.key == "tool.variants.variant[0].build-requires"


def test_key_follows_the_resolved_set() -> None:
    one = buildenv.env_key("nanobind==2.0.0\n")
    assert one == buildenv.env_key("nanobind==2.0.0\n")
    assert one != buildenv.env_key("nanobind==2.1.0\n")


def test_scripts_of_the_running_interpreter_go_first_once(monkeypatch: pytest.MonkeyPatch) -> None:
    import sys
    from pathlib import Path

    env = {"PATH": "/usr/bin"}
    buildenv.own_scripts_on_path(env)
    buildenv.own_scripts_on_path(env)
    assert env["PATH"] == f"{Path(sys.executable).parent}:/usr/bin"


# --- per-variant build requirements ---------------------------------------------------


def _matrix(tool: dict[str, object]) -> Matrix:
    return expand_matrix(read_settings({"tool": {"variants": tool}}))


def test_axis_entries_merge_their_build_requires() -> None:
    axes = {
        "cpu": {"v3": {"properties": ["x86_64 :: level :: v3"], "build-requires": ["cython", "a"]}},
        "lib": {"new": {"label": "new", "build-requires": ["a", "nanobind>=2"]}},
    }
    spec = next(iter(_matrix({"axes": axes}).variants))
    assert spec.build_requires == ("cython", "a", "nanobind>=2")


def test_variant_build_requires_reach_the_pep517_hooks() -> None:
    from polywheel.matrix.selection import Selection, build_requires_of

    matrix = _matrix(
        {
            "variant": [
                {
                    "label": "old",
                    "properties": ["x86_64 :: level :: v1"],
                    "build-requires": ["b<2"],
                },
                {
                    "label": "new",
                    "properties": ["x86_64 :: level :: v3"],
                    "build-requires": ["b>=2"],
                },
            ]
        }
    )

    both = Selection(labels=("old", "new"))
    assert build_requires_of(matrix, both) == ["b<2", "b>=2"]
    assert build_requires_of(matrix, Selection(labels=("new",))) == ["b>=2"]


def test_invalid_build_requires_names_the_key() -> None:
    with pytest.raises(ConfigError) as info:
        _matrix({"variant": [{"label": "a", "properties": [], "build-requires": ["b>="]}]})
    assert info.value.key == "tool.variants.variant[0].build-requires[0]"
