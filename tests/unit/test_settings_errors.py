"""Values that used to pass the reader and fail later (or never): requirement strings,
environment and CMake variable names, an axes product that `exclude` empties."""

from __future__ import annotations

from typing import Any

import pytest

from polywheel.errors import ConfigError
from polywheel.matrix.expand import expand_matrix
from polywheel.matrix.spec import Matrix
from polywheel.settings import read_settings

V3 = ["x86_64 :: level :: v3"]


def matrix(table: dict[str, Any], variant: dict[str, Any] | None = None) -> Matrix:
    pyproject: dict[str, Any] = {"tool": {"variants": table}}
    if variant is not None:
        pyproject["variant"] = variant
    return expand_matrix(read_settings(pyproject))


def one(**options: Any) -> dict[str, Any]:
    return {"variant": [{"label": "v3", "properties": V3, **options}]}


def error_of(table: dict[str, Any], variant: dict[str, Any] | None = None) -> ConfigError:
    with pytest.raises(ConfigError) as exc:
        matrix(table, variant)
    return exc.value


# --- dependencies: PEP 508 at read time -------------------------------------------------


@pytest.mark.parametrize("bad", ["numpy >==", "", "numpy[", "numpy; os_name =="])
def test_invalid_requirement_names_the_item(bad: str) -> None:
    error = error_of(one(dependencies=["packaging", bad]))
    assert error.key == "tool.variants.variant[0].dependencies[1]"
    assert f"{bad!r} is not a valid requirement (PEP 508)" in error.message


def test_invalid_requirement_in_an_axis_entry() -> None:
    error = error_of({"axes": {"cpu": {"v3": {"properties": V3, "dependencies": ["a b"]}}}})
    assert error.key == "tool.variants.axes.cpu.v3.dependencies[0]"
    assert "'a b'" in error.message


def test_invalid_requirement_of_a_provider_plugin() -> None:
    variant = {"providers": {"blas": {"requires": ["blas-provider >=="]}}}
    error = error_of(one(), variant)
    assert error.key == "variant.providers.blas.requires[0]"
    assert "'blas-provider >=='" in error.message


@pytest.mark.parametrize(
    "good",
    ["numpy", "numpy>=2,<3", "nvidia-cuda-runtime>=13; sys_platform == 'linux'", "a[b]==1.0"],
)
def test_valid_requirements_are_kept_as_written(good: str) -> None:
    assert matrix(one(dependencies=[good])).get("v3").dependencies == (good,)


# --- env names --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "key"),
    [
        ("", 'tool.variants.variant[0].env.""'),
        ("A=B", 'tool.variants.variant[0].env."A=B"'),
        ("A B", 'tool.variants.variant[0].env."A B"'),
        ("1A", "tool.variants.variant[0].env.1A"),
        ("A-B", "tool.variants.variant[0].env.A-B"),
    ],
)
def test_bad_environment_variable_name(name: str, key: str) -> None:
    error = error_of(one(env={name: "x"}))
    assert error.key == key
    assert f"{name!r} is not an environment variable name" in error.message
    assert "letters, digits and _" in error.message


def test_environment_value_with_a_nul_character() -> None:
    error = error_of(one(env={"A": "x\x00y"}))
    assert error.key == "tool.variants.variant[0].env.A"
    assert "NUL" in error.message


def test_good_environment_variable_names() -> None:
    env = {"OMP_NUM_THREADS": "1", "_x": "", "CFLAGS": "-O2 -g"}
    assert matrix(one(env=env)).get("v3").env == env


# --- cmake-define names -----------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "fragment"),
    [
        ("", "'' is not a CMake variable name"),
        ("A=B", "'A=B' is not a CMake variable name"),
        ("A B", "'A B' is not a CMake variable name"),
        (":BOOL", "':BOOL' is not a CMake variable name"),
        ("A:", "'A:': the type after ':' must be one of BOOL, FILEPATH, PATH, STRING, INTERNAL"),
        ("A:FOO", "'A:FOO': the type after ':' must be one of BOOL, FILEPATH"),
        ("A:bool", "'A:bool': the type after ':' must be one of BOOL"),
        ("A:B:STRING", "'A:B:STRING': the type after ':' must be one of"),
    ],
)
def test_bad_cmake_define_name(name: str, fragment: str) -> None:
    error = error_of(one(**{"cmake-define": {name: "x"}}))
    assert error.key is not None
    assert error.key.startswith("tool.variants.variant[0].cmake-define.")
    assert fragment in error.message


def test_cmake_define_key_is_quoted_like_toml() -> None:
    error = error_of(one(**{"cmake-define": {"A B": "x"}}))
    assert error.key == 'tool.variants.variant[0].cmake-define."A B"'


@pytest.mark.parametrize("name", ["FAST", "Fast.Math", "my-var", "a/b+c", "FAST:BOOL", "P:PATH"])
def test_good_cmake_define_names(name: str) -> None:
    spec = matrix(one(**{"cmake-define": {name: True}})).get("v3")
    assert spec.cmake_define == {name: "ON"}


def test_typed_and_untyped_define_of_one_variable_must_agree_across_axes() -> None:
    axes = {
        "cpu": {"v3": {"properties": V3, "cmake-define": {"FAST": True}}},
        "blas": {"mkl": {"cmake-define": {"FAST:BOOL": False}}},
    }
    error = error_of({"axes": axes})
    assert error.key == 'tool.variants.axes.blas.mkl.cmake-define."FAST:BOOL"'
    assert "'FAST' is set to 'ON' by `tool.variants.axes.cpu.v3`" in error.message


# --- exclude empties the product --------------------------------------------------------

AXES = {
    "cpu": {"v1": {"properties": ["x86_64 :: level :: v1"]}, "v3": {"properties": V3}},
    "blas": {"openblas": {}, "mkl": {}},
}


def test_exclude_removing_every_combination_is_an_error() -> None:
    error = error_of({"axes": AXES, "exclude": [{"cpu": "v1"}, {"cpu": "v3"}]})
    assert error.key == "tool.variants.exclude"
    assert "excludes every combination of the axes (4 of 4)" in error.message


def test_exclude_removing_every_combination_next_to_explicit_variants() -> None:
    table = {
        "axes": {"cpu": {"v3": {"properties": V3}}},
        "exclude": [{"cpu": "v3"}],
        "variant": [{"label": "v1", "properties": ["x86_64 :: level :: v1"]}],
    }
    assert error_of(table).key == "tool.variants.exclude"


def test_exclude_leaving_one_combination_is_fine() -> None:
    result = matrix({"axes": AXES, "exclude": [{"cpu": "v1"}, {"blas": "mkl"}]})
    assert result.labels == ("v3_openblas",)


# --- the JSON schema says the same about names ------------------------------------------


@pytest.mark.parametrize(
    ("options", "accepted"),
    [
        ({"env": {"A B": "x"}}, False),
        ({"env": {"OMP_NUM_THREADS": "1"}}, True),
        ({"cmake-define": {"A:FOO": "x"}}, False),
        ({"cmake-define": {"A=B": "x"}}, False),
        ({"cmake-define": {"FAST:BOOL": True, "Fast.Math": "1"}}, True),
    ],
)
def test_schema_checks_names_like_the_reader(options: dict[str, Any], accepted: bool) -> None:
    import jsonschema

    from polywheel.settings.schema import generate_schema

    table = one(**options)
    errors = list(jsonschema.Draft7Validator(generate_schema()).iter_errors(table))
    assert (not errors) == accepted
    if accepted:
        matrix(table)
    else:
        error_of(table)
