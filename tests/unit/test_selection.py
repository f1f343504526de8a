"""`split_config_settings`: which wheel(s) a PEP 517 call asks for, and what is left over."""

from __future__ import annotations

import contextlib
from typing import Any

import pytest

from polywheel.errors import ConfigError, SelectionError
from polywheel.matrix.expand import expand_matrix
from polywheel.matrix.requests import OWN_KEYS
from polywheel.matrix.selection import ALL, Selection, split_config_settings
from polywheel.matrix.spec import Matrix
from polywheel.settings import read_settings

V1 = "x86_64 :: level :: v1"
V3 = "x86_64 :: level :: v3"
SM90 = "nvidia :: sm_arch :: 90_real"
SM90V = "nvidia :: sm_arch :: 90_virtual"


def make_matrix(*variants: tuple[str, list[str]]) -> Matrix:
    tool = {"variant": [{"label": label, "properties": p} for label, p in variants]}
    return expand_matrix(read_settings({"tool": {"variants": tool}}))


MATRIX = make_matrix(
    ("null", []),
    ("x86_64_v1", [V1]),
    ("x86_64_v3", [V3]),
    ("sm90", [SM90, SM90V]),
)
NO_NULL = make_matrix(("x86_64_v1", [V1]), ("x86_64_v3", [V3]))
EMPTY = make_matrix()


def select(settings: dict[str, Any] | None, matrix: Matrix = MATRIX) -> Selection:
    selection, _rest = split_config_settings(settings, matrix)
    return selection


def selection_error(settings: dict[str, Any], matrix: Matrix = MATRIX) -> SelectionError:
    with pytest.raises(SelectionError) as exc:
        split_config_settings(settings, matrix)
    return exc.value


@pytest.mark.parametrize("settings", [None, {}, {"cmake.build-type": "Debug"}])
def test_no_selection_means_the_plain_wheel(settings: dict[str, Any] | None) -> None:
    selection = select(settings)
    assert selection == Selection()
    assert selection.plain
    assert not selection.defer_label


@pytest.mark.parametrize(
    ("settings", "labels"),
    [
        ({"variant-label": "x86_64_v3"}, ("x86_64_v3",)),
        ({"variant-label": " x86_64_v3 "}, ("x86_64_v3",)),
        ({"variant-label": "x86_64_v3,x86_64_v1"}, ("x86_64_v3", "x86_64_v1")),
        ({"variant-label": "x86_64_v3, ,x86_64_v1,"}, ("x86_64_v3", "x86_64_v1")),
        ({"variant-label": ["x86_64_v1", "sm90"]}, ("x86_64_v1", "sm90")),
        ({"variant-label": ["sm90,x86_64_v1", "null"]}, ("sm90", "x86_64_v1", "null")),
        # A label asked for twice is built once, in first-asked order.
        ({"variant-label": ["x86_64_v3", "x86_64_v1,x86_64_v3"]}, ("x86_64_v3", "x86_64_v1")),
        ({"variant-label": "null"}, ("null",)),
    ],
)
def test_labels(settings: dict[str, Any], labels: tuple[str, ...]) -> None:
    selection = select(settings)
    assert selection.labels == labels
    assert not selection.plain


def test_all_selects_the_matrix_in_order() -> None:
    assert select({"variant-label": ALL}).labels == MATRIX.labels
    assert select({"variant-label": [" :all: "]}).labels == MATRIX.labels


@pytest.mark.parametrize("value", ["", "true", ["x"]])
def test_null_variant_key(value: Any) -> None:
    assert select({"null-variant": value}).labels == ("null",)


def test_null_variant_and_label_null_are_one_build() -> None:
    assert select({"null-variant": "", "variant-label": "null"}).labels == ("null",)


def test_null_variant_added_after_labels() -> None:
    assert select({"null-variant": "", "variant-label": "x86_64_v1"}).labels == (
        "x86_64_v1",
        "null",
    )


def test_null_variant_missing_from_the_matrix() -> None:
    error = selection_error({"null-variant": ""}, NO_NULL)
    assert "the null variant was asked for" in error.message
    assert error.hint is not None
    assert 'label = "null"' in error.hint


@pytest.mark.parametrize(
    ("settings", "labels"),
    [
        ({"variant": V3}, ("x86_64_v3",)),
        ({"variant": "x86_64::level::v3"}, ("x86_64_v3",)),
        ({"variant-name": V1}, ("x86_64_v1",)),
        ({"variant": f"{SM90V}, {SM90}"}, ("sm90",)),
        ({"variant": [SM90, SM90V]}, ("sm90",)),
        ({"variant": SM90, "variant-name": SM90V}, ("sm90",)),
        ({"variant-label": "x86_64_v1", "variant": V3}, ("x86_64_v1", "x86_64_v3")),
    ],
)
def test_selection_by_properties(settings: dict[str, Any], labels: tuple[str, ...]) -> None:
    assert select(settings).labels == labels


@pytest.mark.parametrize(
    "wanted",
    [
        SM90,  # a subset of a variant's properties is not that variant
        f"{V3}, {SM90}",
        "x86_64 :: level :: v2",
        # The toolkit's lower bound is added later and is not part of the match.
        f"{SM90}, {SM90V}, nvidia :: cuda_version_lower_bound :: 13.0",
    ],
)
def test_selection_by_properties_without_a_match(wanted: str) -> None:
    error = selection_error({"variant": wanted})
    assert "no variant has exactly the properties" in error.message
    assert "sm90: nvidia :: sm_arch :: 90_real, nvidia :: sm_arch :: 90_virtual" in error.message
    assert error.hint == "select by label instead: -C variant-label=LABEL"


def test_selection_by_properties_on_an_empty_matrix() -> None:
    error = selection_error({"variant": V3}, EMPTY)
    assert "no variants" in error.message


def test_bad_property_string_names_the_setting() -> None:
    with pytest.raises(ConfigError) as exc:
        split_config_settings({"variant": "x86_64 : level : v3"}, MATRIX)
    assert exc.value.key == "-C variant"


def test_unknown_label_lists_the_matrix_and_hints() -> None:
    error = selection_error({"variant-label": "x86_64_v2"})
    assert "unknown -C variant-label 'x86_64_v2'" in error.message
    assert "null, x86_64_v1, x86_64_v3, sm90, :all:" in error.message
    assert error.hint is not None
    assert error.hint.startswith("did you mean")
    assert "`x86_64_v3`" in error.hint
    assert "`x86_64_v1`" in error.hint


def test_unknown_label_among_known_ones() -> None:
    error = selection_error({"variant-label": "x86_64_v1,sm80"})
    assert "'sm80'" in error.message
    assert error.hint == "did you mean `sm90`?"


def test_label_on_an_empty_matrix() -> None:
    error = selection_error({"variant-label": "x86_64_v3"}, EMPTY)
    assert "unknown -C variant-label" in error.message


@pytest.mark.parametrize(
    "settings",
    [
        {"variant-label": f"{ALL},x86_64_v3"},
        {"variant-label": [ALL, "x86_64_v3"]},
        {"variant-label": ALL, "null-variant": ""},
        {"variant-label": ALL, "variant": V3},
    ],
)
def test_all_cannot_be_combined(settings: dict[str, Any]) -> None:
    error = selection_error(settings)
    assert "cannot be combined with other labels" in error.message


def test_all_on_an_empty_matrix() -> None:
    error = selection_error({"variant-label": ALL}, EMPTY)
    assert "declares no variants" in error.message


# --- defer-label ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("true", True),
        ("True", True),
        (" YES ", True),
        ("1", True),
        ("on", True),
        ("", True),
        ("false", False),
        ("FALSE", False),
        ("0", False),
        ("no", False),
        ("off", False),
        (["true", "false"], False),
        (["false", "true"], True),
    ],
)
def test_defer_label_values(value: Any, expected: bool) -> None:
    selection = select({"variant-label": "x86_64_v3", "defer-label": value})
    assert selection.defer_label is expected
    assert selection.labels == ("x86_64_v3",)


@pytest.mark.parametrize("value", ["maybe", "2", "tru", ["true", "later"]])
def test_defer_label_bad_value(value: Any) -> None:
    error = selection_error({"variant-label": "x86_64_v3", "defer-label": value})
    assert "-C defer-label=" in error.message
    assert "use true or false" in error.message


@pytest.mark.parametrize(
    "settings",
    [
        {"defer-label": "true"},
        {"defer-label": "true", "variant-label": "x86_64_v1,x86_64_v3"},
        {"defer-label": "true", "variant-label": ALL},
    ],
)
def test_defer_label_needs_exactly_one_label(settings: dict[str, Any]) -> None:
    error = selection_error(settings)
    assert "needs exactly one -C variant-label" in error.message


def test_defer_label_false_without_labels_is_the_plain_wheel() -> None:
    assert select({"defer-label": "false"}) == Selection()


def test_defer_label_with_the_null_variant() -> None:
    assert select({"null-variant": "", "defer-label": "1"}) == Selection(("null",), True)


def test_defer_label_empty_list_is_not_a_crash() -> None:
    # Either reading it as false or refusing it is fine; an IndexError is not.
    with contextlib.suppress(SelectionError):
        split_config_settings({"variant-label": "x86_64_v3", "defer-label": []}, MATRIX)


# --- what is left for scikit-build-core -------------------------------------------------

OWN_VALUES = {
    "variant-label": "x86_64_v3",
    "variant": V3,
    "variant-name": V3,
    "null-variant": "",
    "defer-label": "false",
}


def test_own_keys_table_covers_every_key() -> None:
    assert set(OWN_VALUES) == set(OWN_KEYS)


@pytest.mark.parametrize("key", OWN_KEYS)
def test_own_key_never_reaches_scikit_build_core(key: str) -> None:
    settings = {key: OWN_VALUES[key], "cmake.build-type": "Debug", "wheel.py-api": "cp311"}
    _selection, rest = split_config_settings(settings, MATRIX)
    assert rest == {"cmake.build-type": "Debug", "wheel.py-api": "cp311"}
    # The caller's mapping is not changed.
    assert key in settings


def test_all_own_keys_at_once_are_removed() -> None:
    settings: dict[str, Any] = {
        "variant-label": "x86_64_v3",
        "variant": V3,
        "variant-name": V3,
        "defer-label": "true",
        "build-dir": "build/x",
        "cmake.define.FOO": ["1", "2"],
    }
    selection, rest = split_config_settings(settings, MATRIX)
    assert selection == Selection(("x86_64_v3",), True)
    assert rest == {"build-dir": "build/x", "cmake.define.FOO": ["1", "2"]}
    assert not set(rest) & set(OWN_KEYS)


def test_leftover_is_a_new_dict() -> None:
    settings = {"cmake.build-type": "Debug"}
    _selection, rest = split_config_settings(settings, MATRIX)
    assert rest == settings
    assert rest is not settings
