"""polywheel.properties: property strings, labels and the variant.json property tree."""

from __future__ import annotations

import pytest

from polywheel.errors import ConfigError
from polywheel.properties import (
    NULL_LABEL,
    VariantProperty,
    check_label,
    parse_property,
    properties_from_dict,
    properties_to_dict,
)

KEY = "tool.variants.variant[0].properties[0]"
LABEL_KEY = "tool.variants.variant[0].label"


# --- parse_property ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("x86_64 :: level :: v3", VariantProperty("x86_64", "level", "v3")),
        ("x86_64::level::v3", VariantProperty("x86_64", "level", "v3")),
        ("  x86_64   ::level::   v3  ", VariantProperty("x86_64", "level", "v3")),
        ("x86_64 ::\tlevel\t:: v3\n", VariantProperty("x86_64", "level", "v3")),
        ("aarch64 :: version :: 8.2a", VariantProperty("aarch64", "version", "8.2a")),
        (
            "nvidia :: cuda_version_lower_bound :: 12.8",
            VariantProperty("nvidia", "cuda_version_lower_bound", "12.8"),
        ),
        ("my_ns :: feat_1 :: on", VariantProperty("my_ns", "feat_1", "on")),
    ],
)
def test_parse_property_accepts(text: str, expected: VariantProperty) -> None:
    assert parse_property(text, key=KEY) == expected


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("x86_64 : level : v3", "is not a variant property"),
        ("x86_64 :: level", "is not a variant property"),
        ("x86_64 :: level :: v3 :: extra", "is not a variant property"),
        ("", "is not a variant property"),
        (":: level :: v3", "is not a variant property"),
        ("x86 64 :: level :: v3", "is not a variant property"),
        ("x86_64 :: lev el :: v3", "is not a variant property"),
        ("X86_64 :: level :: v3", "the namespace 'X86_64' must match ^[a-z0-9_]+$"),
        ("x86_64 :: Level :: v3", "the feature 'Level' must match ^[a-z0-9_]+$"),
        ("x86_64 :: level :: V3", "the value 'V3' must match ^[a-z0-9_.]+$"),
        ("x86.64 :: level :: v3", "the namespace 'x86.64' must match"),
        ("x86_64 :: le.vel :: v3", "the feature 'le.vel' must match"),
        ("x86_64 :: level :: v-3", "the value 'v-3' must match"),
        ("x86_64 :: level :: v3+", "the value 'v3+' must match"),
    ],
)
def test_parse_property_rejects(text: str, message: str) -> None:
    with pytest.raises(ConfigError) as exc:
        parse_property(text, key=KEY)
    assert exc.value.key == KEY
    assert message in exc.value.message


def test_parse_property_shape_error_has_example_hint() -> None:
    with pytest.raises(ConfigError) as exc:
        parse_property("x86_64 level v3", key="k")
    assert exc.value.hint is not None
    assert "x86_64 :: level :: v3" in exc.value.hint


def test_property_str_and_order() -> None:
    a = VariantProperty("nvidia", "sm_arch", "90_real")
    b = VariantProperty("nvidia", "cuda_version_lower_bound", "12.8")
    c = VariantProperty("aarch64", "version", "9.0a")
    assert str(a) == "nvidia :: sm_arch :: 90_real"
    assert parse_property(str(a), key="k") == a
    assert sorted([a, b, c]) == [c, b, a]


# --- check_label --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("label", "count", "max_length"),
    [
        ("x86_64_v3", 1, 16),
        ("cu12.8", 2, 16),
        ("0", 1, 16),
        ("a" * 16, 1, 16),  # exactly the limit
        ("a" * 40, 1, 0),  # 0 = no limit
        (NULL_LABEL, 0, 16),
        (NULL_LABEL, 0, 0),
    ],
)
def test_check_label_accepts(label: str, count: int, max_length: int) -> None:
    check_label(label, key=LABEL_KEY, property_count=count, max_length=max_length)


@pytest.mark.parametrize(
    ("label", "count", "max_length", "message"),
    [
        ("X86_V3", 1, 16, "'X86_V3' is not a valid variant label"),
        ("x86-v3", 1, 16, "must match ^[0-9a-z_.]+$"),
        ("", 1, 16, "'' is not a valid variant label"),
        ("a b", 1, 16, "is not a valid variant label"),
        ("null", 1, 16, "reserved for the null variant"),
        ("cpu", 0, 16, "must be labelled 'null'"),
        ("a" * 17, 1, 16, "is 17 characters long; at most 16"),
        ("abcdef", 1, 5, "at most 5 are allowed"),
    ],
)
def test_check_label_rejects(label: str, count: int, max_length: int, message: str) -> None:
    with pytest.raises(ConfigError) as exc:
        check_label(label, key=LABEL_KEY, property_count=count, max_length=max_length)
    assert exc.value.key == LABEL_KEY
    assert message in exc.value.message


@pytest.mark.parametrize(
    ("label", "hint"),
    [
        ("X86-V3", "use 'x86_v3'"),
        ("Cu 12", "use 'cu_12'"),
        ("gpu+avx", "use 'gpu_avx'"),
    ],
)
def test_check_label_hint_suggests_fixed_label(label: str, hint: str) -> None:
    with pytest.raises(ConfigError) as exc:
        check_label(label, key=LABEL_KEY, property_count=1, max_length=16)
    assert exc.value.hint == hint


def test_check_label_empty_label_has_no_fix_hint() -> None:
    with pytest.raises(ConfigError) as exc:
        check_label("", key=LABEL_KEY, property_count=1, max_length=16)
    assert exc.value.hint is None


def test_check_label_length_error_names_the_setting() -> None:
    with pytest.raises(ConfigError) as exc:
        check_label("a" * 20, key=LABEL_KEY, property_count=1, max_length=16)
    assert exc.value.hint is not None
    assert "max-label-length" in exc.value.hint


def test_check_label_pattern_is_checked_before_length() -> None:
    with pytest.raises(ConfigError) as exc:
        check_label("A" * 30, key=LABEL_KEY, property_count=1, max_length=16)
    assert "not a valid variant label" in exc.value.message


def test_check_label_rejects_trailing_newline() -> None:
    with pytest.raises(ConfigError):
        check_label("x86_v3\n", key=LABEL_KEY, property_count=1, max_length=16)


# --- properties_to_dict / properties_from_dict -------------------------------------------


def test_properties_to_dict_sorts_everything() -> None:
    props = [
        VariantProperty("x86_64", "level", "v3"),
        VariantProperty("nvidia", "sm_arch", "90_virtual"),
        VariantProperty("nvidia", "sm_arch", "100_real"),
        VariantProperty("nvidia", "cuda_version_lower_bound", "12.8"),
        VariantProperty("nvidia", "sm_arch", "90_real"),
    ]
    tree = properties_to_dict(props)
    assert tree == {
        "nvidia": {
            "cuda_version_lower_bound": ["12.8"],
            "sm_arch": ["100_real", "90_real", "90_virtual"],
        },
        "x86_64": {"level": ["v3"]},
    }
    # Dict order is part of the output (variant.json is written from it).
    assert list(tree) == ["nvidia", "x86_64"]
    assert list(tree["nvidia"]) == ["cuda_version_lower_bound", "sm_arch"]


def test_properties_to_dict_drops_duplicates() -> None:
    prop = VariantProperty("x86_64", "level", "v3")
    assert properties_to_dict([prop, prop]) == {"x86_64": {"level": ["v3"]}}


def test_properties_to_dict_empty() -> None:
    assert properties_to_dict([]) == {}


def test_properties_round_trip() -> None:
    props = frozenset(
        {
            VariantProperty("x86_64", "level", "v3"),
            VariantProperty("nvidia", "sm_arch", "80_real"),
            VariantProperty("nvidia", "sm_arch", "90_real"),
            VariantProperty("my_ns", "fast", "on"),
        }
    )
    tree = properties_to_dict(props)
    assert properties_from_dict(tree) == props
    assert properties_to_dict(properties_from_dict(tree)) == tree


def test_properties_from_dict_accepts_any_iterables() -> None:
    tree = {"nvidia": {"sm_arch": ("90_real", "80_real")}}
    assert properties_from_dict(tree) == frozenset(
        {
            VariantProperty("nvidia", "sm_arch", "90_real"),
            VariantProperty("nvidia", "sm_arch", "80_real"),
        }
    )
