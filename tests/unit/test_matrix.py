"""`expand_matrix(read_settings(pyproject))`: the settings → one validated spec per label."""

from __future__ import annotations

from typing import Any

import pytest

from polywheel.errors import ConfigError, SelectionError
from polywheel.matrix.expand import expand_matrix
from polywheel.matrix.spec import Matrix, VariantSpec
from polywheel.namespaces import CompilerFlags
from polywheel.properties import VariantProperty, parse_property
from polywheel.settings import read_settings

V1 = "x86_64 :: level :: v1"
V2 = "x86_64 :: level :: v2"
V3 = "x86_64 :: level :: v3"
V4 = "x86_64 :: level :: v4"
SM80 = "nvidia :: sm_arch :: 80_real"
SM90 = "nvidia :: sm_arch :: 90_real"
SM90V = "nvidia :: sm_arch :: 90_virtual"
MINE_PROVIDER = {"static-properties": {"flavor": ["a", "b", "c"]}}


def expand(tool: dict[str, Any], variant: dict[str, Any] | None = None) -> Matrix:
    pyproject: dict[str, Any] = {"tool": {"variants": tool}}
    if variant is not None:
        pyproject["variant"] = variant
    return expand_matrix(read_settings(pyproject))


def explicit(*variants: tuple[str, list[str]], **extra: Any) -> dict[str, Any]:
    """`[[tool.variants.variant]]` tables from (label, properties) pairs."""
    return {"variant": [{"label": lab, "properties": props} for lab, props in variants], **extra}


def props(*texts: str) -> tuple[VariantProperty, ...]:
    return tuple(sorted(parse_property(t, key="test") for t in texts))


def config_error(tool: dict[str, Any], variant: dict[str, Any] | None = None) -> ConfigError:
    with pytest.raises(ConfigError) as exc:
        expand(tool, variant)
    return exc.value


# --- explicit variants ------------------------------------------------------------------


def test_explicit_variants_keep_order_and_sort_properties() -> None:
    matrix = expand(
        explicit(
            ("x86_64_v3", [V3]),
            ("mixed", [SM90, "x86_64 :: avx512_bf16 :: on", V4]),
            ("x86_64_v1", [V1]),
        )
    )
    assert matrix.labels == ("x86_64_v3", "mixed", "x86_64_v1")
    mixed = matrix.get("mixed")
    assert mixed.properties == props(SM90, "x86_64 :: avx512_bf16 :: on", V4)
    assert list(mixed.properties) == sorted(mixed.properties)
    assert mixed.key == "tool.variants.variant[1]"
    assert matrix.get("x86_64_v3").key == "tool.variants.variant[0]"


def test_explicit_variant_carries_build_options() -> None:
    tool = {
        "variant": [
            {
                "label": "v3",
                "properties": [V3],
                "cmake-define": {"FAST": True, "LIST": ["a", "b"], "N": 3},
                "cmake-args": ["-G", "Ninja"],
                "env": {"CC": "gcc"},
                "dependencies": ["numpy>=2"],
            }
        ]
    }
    spec = expand(tool).get("v3")
    assert spec.cmake_define == {"FAST": "ON", "LIST": "a;b", "N": "3"}
    assert spec.cmake_args == ("-G", "Ninja")
    assert spec.env == {"CC": "gcc"}
    assert spec.dependencies == ("numpy>=2",)
    assert spec.cuda is False
    assert spec.cuda_architectures == ()


def test_no_variants_gives_an_empty_matrix() -> None:
    matrix = expand({})
    assert matrix.variants == ()
    assert matrix.plain is None
    assert matrix.metadata.namespaces == ()
    assert not matrix.has_gpu_variants


# --- axes -------------------------------------------------------------------------------

CPU_AXIS = {"v1": {"properties": [V1]}, "v3": {"properties": [V3]}}
GPU_AXIS = {"cpu": {"label": ""}, "sm90": {"cuda-architectures": ["90-real"]}}


def test_axes_product_in_declaration_order() -> None:
    matrix = expand({"axes": {"cpu": CPU_AXIS, "gpu": GPU_AXIS}})
    assert matrix.labels == ("v1", "v1_sm90", "v3", "v3_sm90")
    spec = matrix.get("v3_sm90")
    assert spec.properties == props(V3, SM90)
    assert spec.cuda is True
    assert spec.cuda_architectures == ("90-real",)
    assert spec.key == "tool.variants.axes.cpu.v3 x tool.variants.axes.gpu.sm90"
    assert matrix.has_gpu_variants


def test_axes_exclude_drops_matching_combinations() -> None:
    matrix = expand(
        {"axes": {"cpu": CPU_AXIS, "gpu": GPU_AXIS}, "exclude": [{"cpu": "v1", "gpu": "sm90"}]}
    )
    assert matrix.labels == ("v1", "v3", "v3_sm90")


def test_exclude_with_one_axis_drops_every_combination_of_that_entry() -> None:
    matrix = expand({"axes": {"cpu": CPU_AXIS, "gpu": GPU_AXIS}, "exclude": [{"gpu": "cpu"}]})
    assert matrix.labels == ("v1_sm90", "v3_sm90")


def test_exclude_names_entries_by_key_not_label_part() -> None:
    axes = {
        "cpu": {"a": {"label": "v1", "properties": [V1]}, "b": {"label": "v3", "properties": [V3]}}
    }
    assert expand({"axes": axes, "exclude": [{"cpu": "a"}]}).labels == ("v3",)


def test_label_template_formats_label_parts() -> None:
    gpu = {"cpu": {}, "sm90": {"cuda-architectures": ["90-real"]}}
    matrix = expand({"axes": {"cpu": CPU_AXIS, "gpu": gpu}, "label-template": "{gpu}_{cpu}"})
    assert matrix.labels == ("cpu_v1", "sm90_v1", "cpu_v3", "sm90_v3")


def test_label_template_invalid_label_names_the_template() -> None:
    error = config_error(
        {"axes": {"cpu": CPU_AXIS, "gpu": GPU_AXIS}, "label-template": "{cpu}-{gpu}x"}
    )
    assert error.key == "tool.variants.label-template"
    assert "is not a valid variant label" in error.message


@pytest.mark.parametrize(
    ("parts", "expected"),
    [
        (("a", "b"), "a_b"),
        (("a", ""), "a"),
        (("", "b"), "b"),
        (("", ""), "null"),
    ],
)
def test_default_label_joins_non_empty_parts(parts: tuple[str, str], expected: str) -> None:
    first = {"x": {"label": parts[0], "properties": [V3] if parts[0] else []}}
    second = {"y": {"label": parts[1], "properties": ["mine :: flavor :: a"] if parts[1] else []}}
    tool: dict[str, Any] = {"axes": {"first": first, "second": second}}
    if expected == "null":
        # The null variant alone is not a matrix: PEP 825 needs a namespace.
        tool["variant"] = [{"label": "v1", "properties": [V1]}]
    matrix = expand(tool, {"providers": {"mine": MINE_PROVIDER}})
    assert expected in matrix.labels


def test_all_empty_parts_make_the_null_variant() -> None:
    axes = {"cpu": {"base": {"label": ""}, "v3": {"properties": [V3]}}}
    matrix = expand({"axes": axes})
    assert matrix.labels == ("null", "v3")
    assert matrix.get("null").properties == ()
    assert matrix.plain is not None
    assert matrix.plain.label == "null"


def test_explicit_variants_come_before_the_product() -> None:
    matrix = expand({"variant": [{"label": "v4", "properties": [V4]}], "axes": {"cpu": CPU_AXIS}})
    assert matrix.labels == ("v4", "v1", "v3")


@pytest.mark.parametrize(
    ("tool", "key", "fragment"),
    [
        (
            {"exclude": [{"cpu": "v1"}]},
            "tool.variants.exclude",
            "only makes sense with [tool.variants.axes]",
        ),
        (
            {"label-template": "{cpu}"},
            "tool.variants.label-template",
            "only makes sense with [tool.variants.axes]",
        ),
        (
            {"axes": {"cpu": CPU_AXIS}, "exclude": [{"cpux": "v1"}]},
            "tool.variants.exclude[0].cpux",
            "unknown axis 'cpux'",
        ),
        (
            {"axes": {"cpu": CPU_AXIS}, "exclude": [{"cpu": "v1"}, {"cpu": "v2"}]},
            "tool.variants.exclude[1].cpu",
            "axis 'cpu' has no entry 'v2'",
        ),
        (
            {"axes": {"cpu": CPU_AXIS}, "label-template": "{cpu}_{cuda}"},
            "tool.variants.label-template",
            "names unknown axes ['cuda']",
        ),
    ],
)
def test_axes_errors(tool: dict[str, Any], key: str, fragment: str) -> None:
    error = config_error(tool)
    assert error.key == key
    assert fragment in error.message


def test_exclude_unknown_axis_has_did_you_mean_hint() -> None:
    error = config_error({"axes": {"cpu": CPU_AXIS}, "exclude": [{"cpux": "v1"}]})
    assert error.hint is not None
    assert "`cpu`" in error.hint


@pytest.mark.parametrize("template", ["{cpu", "x{}", "{cpu}}{"])
def test_malformed_label_template_is_a_config_error(template: str) -> None:
    error = config_error({"axes": {"cpu": CPU_AXIS}, "label-template": template})
    assert error.key == "tool.variants.label-template"


# --- merging axis entries ---------------------------------------------------------------


def test_axis_entries_merge_their_options() -> None:
    axes = {
        "cpu": {
            "v3": {
                "properties": [V3],
                "cmake-define": {"A": "1", "SHARED": "x"},
                "cmake-args": ["-DX=1"],
                "env": {"E": "1"},
                "dependencies": ["numpy", "scipy"],
            }
        },
        "opt": {
            "fast": {
                "properties": ["mine :: flavor :: a"],
                "cmake-define": {"B": "2", "SHARED": "x"},
                "cmake-args": ["-DY=2"],
                "env": {"F": "2"},
                "dependencies": ["scipy", "pandas"],
            }
        },
    }
    spec = expand({"axes": axes}, {"providers": {"mine": MINE_PROVIDER}}).get("v3_fast")
    assert spec.properties == props(V3, "mine :: flavor :: a")
    assert spec.cmake_define == {"A": "1", "SHARED": "x", "B": "2"}
    assert spec.cmake_args == ("-DX=1", "-DY=2")
    assert spec.env == {"E": "1", "F": "2"}
    assert spec.dependencies == ("numpy", "scipy", "pandas")


@pytest.mark.parametrize("table", ["cmake-define", "env"])
def test_axis_entries_contradicting_each_other(table: str) -> None:
    axes = {
        "cpu": {"v3": {"properties": [V3], table: {"FOO": "1"}}},
        "opt": {"fast": {"properties": ["mine :: flavor :: a"], table: {"FOO": "2"}}},
    }
    error = config_error({"axes": axes}, {"providers": {"mine": MINE_PROVIDER}})
    assert error.key == f"tool.variants.axes.opt.fast.{table}.FOO"
    assert "`tool.variants.axes.cpu.v3`" in error.message
    assert "'1'" in error.message
    assert "'2'" in error.message


def test_cuda_architectures_in_two_axes() -> None:
    axes = {
        "a": {"x": {"cuda-architectures": ["80-real"]}},
        "b": {"y": {"cuda-architectures": ["90-real"]}},
    }
    error = config_error({"axes": axes})
    assert error.key == "tool.variants.axes.b.y.cuda-architectures"
    assert "two axes" in error.message


def test_axes_disagreeing_on_cuda() -> None:
    axes = {
        "a": {"x": {"cuda-architectures": ["80-real"], "cuda": True}},
        "b": {"y": {"properties": [V3], "cuda": False}},
    }
    error = config_error({"axes": axes})
    assert error.key == "tool.variants.axes.b.y.cuda"


# --- CUDA architectures and nvidia :: sm_arch -------------------------------------------


@pytest.mark.parametrize(
    ("archs", "expected_props", "expected_archs"),
    [
        (["90-real"], [SM90], ("90-real",)),
        (["90"], [SM90, SM90V], ("90-real", "90-virtual")),
        ("90-real;80-real", [SM80, SM90], ("80-real", "90-real")),
        (["90-virtual", "80-real"], [SM80, SM90V], ("80-real", "90-virtual")),
    ],
)
def test_cuda_architectures_derive_sm_arch(
    archs: Any, expected_props: list[str], expected_archs: tuple[str, ...]
) -> None:
    tool = {"variant": [{"label": "gpu", "cuda-architectures": archs}]}
    spec = expand(tool).get("gpu")
    assert spec.properties == props(*expected_props)
    assert spec.cuda_architectures == expected_archs
    assert spec.cuda is True


def test_sm_arch_properties_derive_cuda_architectures() -> None:
    spec = expand(explicit(("gpu", [SM90V, SM80]))).get("gpu")
    assert spec.cuda_architectures == ("80-real", "90-virtual")
    assert spec.cuda is True


def test_matching_architectures_and_properties_are_accepted() -> None:
    tool = {"variant": [{"label": "gpu", "properties": [SM90], "cuda-architectures": ["90-real"]}]}
    assert expand(tool).get("gpu").properties == props(SM90)


@pytest.mark.parametrize(
    ("entry", "key_suffix", "fragment"),
    [
        (
            {"properties": [SM80], "cuda-architectures": ["90-real"]},
            ".cuda-architectures",
            "but the properties say",
        ),
        (
            {"properties": [SM90], "cuda-architectures": ["90"]},
            ".cuda-architectures",
            "but the properties say",
        ),
        ({"properties": [SM90], "cuda": False}, ".cuda", "`cuda = false` contradicts"),
        ({"cuda-architectures": ["90-real"], "cuda": False}, ".cuda", "`cuda = false`"),
        ({"properties": [V3], "cuda": True}, ".cuda", "`cuda = true` needs"),
        (
            {"properties": ["nvidia :: cuda_version_lower_bound :: 12.8"]},
            "",
            "nvidia properties need `nvidia :: sm_arch`",
        ),
        ({"cuda-architectures": ["native"]}, ".cuda-architectures", "not an explicit"),
        ({"cuda-architectures": ["90b"]}, ".cuda-architectures", "not an explicit"),
        ({"properties": ["nvidia :: sm_arch :: 90"]}, ".properties", "sm_arch values"),
    ],
)
def test_cuda_errors(entry: dict[str, Any], key_suffix: str, fragment: str) -> None:
    error = config_error({"variant": [{"label": "gpu", **entry}]})
    assert error.key == "tool.variants.variant[0]" + key_suffix
    assert fragment in error.message


def test_cuda_false_without_gpu_properties_is_a_cpu_build() -> None:
    tool = {"variant": [{"label": "v3", "properties": [V3], "cuda": False}]}
    spec = expand(tool).get("v3")
    assert spec.cuda is False
    assert not spec.adds_cuda_lower_bound


# --- compiler flags ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("properties", "flags"),
    [
        ([V1], CompilerFlags(gnu=("-march=x86-64",))),
        ([V3], CompilerFlags(gnu=("-march=x86-64-v3",), msvc=("/arch:AVX2",))),
        ([V4], CompilerFlags(gnu=("-march=x86-64-v4",), msvc=("/arch:AVX512",))),
        (["x86_64 :: avx512_bf16 :: on"], CompilerFlags()),
        (["aarch64 :: version :: 8.2a"], CompilerFlags(gnu=("-march=armv8.2-a",))),
        (["aarch64 :: version :: 9.0a"], CompilerFlags(gnu=("-march=armv9-a",))),
        ([SM90], CompilerFlags()),
        (["mine :: flavor :: a"], CompilerFlags()),
    ],
)
def test_namespace_flags(properties: list[str], flags: CompilerFlags) -> None:
    matrix = expand(explicit(("x", properties)), {"providers": {"mine": MINE_PROVIDER}})
    assert matrix.get("x").flags == flags


def test_compile_options_come_after_the_namespace_flags() -> None:
    tool = {"variant": [{"label": "v3", "properties": [V3], "compile-options": ["-O3", "-g"]}]}
    flags = expand(tool).get("v3").flags
    assert flags == CompilerFlags(
        gnu=("-march=x86-64-v3",), msvc=("/arch:AVX2",), extra=("-O3", "-g")
    )


def test_axis_compile_options_concatenate_in_axis_order() -> None:
    axes = {
        "cpu": {"v3": {"properties": [V3], "compile-options": ["-DA"]}},
        "opt": {"o": {"label": "", "compile-options": ["-O3"]}},
    }
    flags = expand({"axes": axes}).get("v3").flags
    assert flags.gnu == ("-march=x86-64-v3",)
    assert flags.extra == ("-DA", "-O3")


def test_two_levels_in_one_variant_are_refused() -> None:
    error = config_error(explicit(("two", [V1, V3])))
    assert error.key == "tool.variants.variant[0].properties"
    assert "several values" in error.message


# --- the plain wheel --------------------------------------------------------------------


def plain_label(*variants: tuple[str, list[str]], **extra: Any) -> str | None:
    matrix = expand(explicit(*variants, **extra), {"providers": {"mine": MINE_PROVIDER}})
    return matrix.plain.label if matrix.plain else None


@pytest.mark.parametrize(
    ("variants", "expected"),
    [
        # The null variant wins wherever it is declared.
        ([("v3", [V3]), ("v1", [V1]), ("null", [])], "null"),
        # No nvidia before nvidia, whatever the CPU level.
        ([("gpu", [SM90]), ("v4", [V4])], "v4"),
        ([("gpu_v1", [SM90, V1]), ("v4", [V4])], "v4"),
        # Then the lowest x86_64 level.
        ([("v4", [V4]), ("v2", [V2]), ("v3", [V3])], "v2"),
        ([("gpu_v3", [SM90, V3]), ("gpu_v1", [SM90, V1])], "gpu_v1"),
        # Then the fewest properties.
        ([("bf16", [V1, "x86_64 :: avx512_bf16 :: on"]), ("v1", [V1])], "v1"),
        # Then the aarch64 version.
        (
            [("a9", ["aarch64 :: version :: 9.0a"]), ("a8", ["aarch64 :: version :: 8.2a"])],
            "a8",
        ),
        # Ties: the first declared.
        ([("b", ["mine :: flavor :: b"]), ("a", ["mine :: flavor :: a"])], "b"),
        ([("a", ["mine :: flavor :: a"]), ("b", ["mine :: flavor :: b"])], "a"),
    ],
)
def test_plain_wheel_auto(variants: list[tuple[str, list[str]]], expected: str) -> None:
    assert plain_label(*variants) == expected


def test_plain_wheel_by_label() -> None:
    variants = [("v1", [V1]), ("v3", [V3])]
    assert plain_label(*variants, **{"plain-wheel": "v3"}) == "v3"


def test_plain_wheel_unknown_label() -> None:
    error = config_error(explicit(("v1", [V1]), ("v3", [V3]), **{"plain-wheel": "v33"}))
    assert error.key == "tool.variants.plain-wheel"
    assert "'v33' is not a variant label" in error.message
    assert "v1, v3" in error.message
    assert error.hint == "did you mean `v3`?"


def test_plain_wheel_is_the_same_spec_object() -> None:
    matrix = expand(explicit(("v3", [V3]), ("v1", [V1])))
    assert matrix.plain is matrix.get("v1")


# --- namespaces, priorities and providers -----------------------------------------------


def test_default_priorities_accelerators_first_cpu_last() -> None:
    matrix = expand(
        explicit(
            ("a", ["aarch64 :: version :: 8.2a"]),
            ("v3", [V3]),
            ("m", ["mine :: flavor :: a", "other :: x :: y"]),
            ("gpu", [SM90]),
        ),
        {"providers": {"mine": MINE_PROVIDER, "other": {"requires": ["other-provider"]}}},
    )
    assert matrix.metadata.namespaces == ("nvidia", "mine", "other", "x86_64", "aarch64")


def test_declared_providers_keep_their_order_among_own_namespaces() -> None:
    matrix = expand(
        explicit(("m", ["mine :: flavor :: a", "other :: x :: y"])),
        {"providers": {"other": {"requires": ["other-provider"]}, "mine": MINE_PROVIDER}},
    )
    assert matrix.metadata.namespaces == ("other", "mine")


def test_explicit_priorities_are_kept() -> None:
    matrix = expand(
        explicit(("v3", [V3]), ("gpu", [SM90])),
        {"default-priorities": {"namespace": ["x86_64", "nvidia"]}},
    )
    assert matrix.metadata.namespaces == ("x86_64", "nvidia")


def test_explicit_priorities_missing_a_used_namespace() -> None:
    error = config_error(
        explicit(("v3", [V3]), ("gpu", [SM90])),
        {"default-priorities": {"namespace": ["x86_64"]}},
    )
    assert error.key == "variant.default-priorities.namespace"
    assert "nvidia" in error.message


def test_providers_are_filled_for_known_namespaces() -> None:
    matrix = expand(explicit(("v3", [V3]), ("a", ["aarch64 :: version :: 8.2a"]), ("gpu", [SM90])))
    assert dict(matrix.metadata.providers) == {
        "x86_64": {"requires": ["x86-64-variant-provider"]},
        "aarch64": {"requires": ["aarch64-variant-provider"]},
        "nvidia": {
            "requires": ["nvidia-variant-provider"],
            "plugin-api": "nvidia_variant_provider.plugin:NvidiaVariantPlugin",
        },
    }


def test_only_used_namespaces_get_providers() -> None:
    matrix = expand(explicit(("v3", [V3])))
    assert set(matrix.metadata.providers) == {"x86_64"}
    assert matrix.metadata.namespaces == ("x86_64",)


def test_declared_provider_replaces_the_default() -> None:
    mine = {"requires": ["my-x86-provider"]}
    matrix = expand(explicit(("v3", [V3])), {"providers": {"x86_64": mine}})
    assert matrix.metadata.providers["x86_64"] == {"requires": ["my-x86-provider"]}


def test_namespace_without_provider() -> None:
    error = config_error(explicit(("m", ["mine :: flavor :: a"])))
    assert error.key == "variant.providers.mine"
    assert "has no provider" in error.message
    assert error.hint is not None
    assert "[variant.providers.mine]" in error.hint


@pytest.mark.parametrize(
    ("properties", "provider", "fragment"),
    [
        (["mine :: flavor :: z"], MINE_PROVIDER, "'z' is not one of"),
        (["mine :: colour :: a"], MINE_PROVIDER, "has no feature 'colour'"),
        (["x86_64 :: level :: v5"], None, "'v5' is not one of"),
        (["x86_64 :: avx512_bf16 :: yes"], None, "'yes' is not one of"),
        (["aarch64 :: version :: 8.2"], None, "'8.2' is not one of"),
    ],
)
def test_property_values_are_checked(
    properties: list[str], provider: dict[str, Any] | None, fragment: str
) -> None:
    variant = {"providers": {"mine": provider}} if provider else None
    error = config_error(explicit(("x", properties)), variant)
    assert error.key == "tool.variants.variant[0].properties"
    assert fragment in error.message


def test_variant_variants_agreeing_with_the_matrix() -> None:
    matrix = expand(
        explicit(("v3", [V3]), ("gpu", [SM90, SM90V])),
        {"variants": {"gpu": {"nvidia": {"sm_arch": ["90_real", "90_virtual"]}}}},
    )
    assert matrix.metadata.declared_variants["gpu"] == frozenset(props(SM90, SM90V))


@pytest.mark.parametrize(
    ("declared", "label"),
    [
        ({"v3": {"x86_64": {"level": ["v4"]}}}, "v3"),
        ({"v3": {"x86_64": {"level": ["v3", "v4"]}}}, "v3"),
        ({"v9": {"x86_64": {"level": ["v3"]}}}, "v9"),
    ],
)
def test_variant_variants_disagreeing_with_the_matrix(declared: dict[str, Any], label: str) -> None:
    error = config_error(explicit(("v3", [V3])), {"variants": declared})
    assert error.key == f"variant.variants.{label}"
    assert "does not match the [tool.variants] matrix" in error.message


def test_only_the_null_variant_is_not_a_matrix() -> None:
    error = config_error({"variant": [{"label": "null"}]})
    assert error.key == "variant.default-priorities.namespace"


# --- labels -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("tool", "key", "fragment"),
    [
        (
            explicit(("v3", [V3]), ("v3", [V4])),
            "tool.variants.variant[1].label",
            "is used twice",
        ),
        (
            {"variant": [{"label": "v3", "properties": [V3]}], "axes": {"cpu": CPU_AXIS}},
            "tool.variants.axes.cpu.v3",
            "is used twice",
        ),
        (explicit(("a", [V3]), ("b", [V3])), "tool.variants.variant[1]", "same properties"),
        (explicit(("V3", [V3])), "tool.variants.variant[0].label", "not a valid variant label"),
        (explicit(("null", [V3])), "tool.variants.variant[0].label", "reserved"),
        (explicit(("empty", [])), "tool.variants.variant[0].label", "no properties"),
        (
            explicit(("x86_64_v3_avx512_fast", [V3])),
            "tool.variants.variant[0].label",
            "21 characters long",
        ),
    ],
)
def test_label_errors(tool: dict[str, Any], key: str, fragment: str) -> None:
    error = config_error(tool)
    assert error.key == key
    assert fragment in error.message


def test_max_label_length_zero_means_no_limit() -> None:
    tool = explicit(("x86_64_v3_avx512_fast", [V3]), **{"max-label-length": 0})
    assert expand(tool).labels == ("x86_64_v3_avx512_fast",)


@pytest.mark.parametrize(
    "tool",
    [
        explicit(("v3\n", [V3])),
        {"axes": {"cpu": {"v3": {"label": "v3\n", "properties": [V3]}}}},
        {"axes": {"cpu": CPU_AXIS}, "label-template": "{cpu}\n"},
    ],
    ids=["explicit", "axis-entry", "template"],
)
def test_label_with_trailing_newline_is_refused(tool: dict[str, Any]) -> None:
    """`$` also matches before a final newline: the label must match in full."""
    error = config_error(tool)
    assert "not a valid variant label" in error.message


# --- the CUDA toolkit's lower bound -----------------------------------------------------


def gpu_matrix(*extra: str) -> Matrix:
    return expand(explicit(("v3", [V3]), ("gpu", [SM90, *extra])))


def test_cuda_variant_gets_the_toolkit_lower_bound() -> None:
    matrix = gpu_matrix()
    gpu = matrix.get("gpu")
    assert gpu.adds_cuda_lower_bound
    assert gpu.final_properties("13.0") == props(SM90, "nvidia :: cuda_version_lower_bound :: 13.0")
    assert gpu.final_properties(None) == gpu.properties
    # The declared properties stay without it.
    assert gpu.properties == props(SM90)
    assert "nvidia" in matrix.metadata.namespaces


def test_declared_lower_bound_is_kept() -> None:
    gpu = gpu_matrix("nvidia :: cuda_version_lower_bound :: 12.8").get("gpu")
    assert not gpu.adds_cuda_lower_bound
    assert gpu.final_properties("13.0") == gpu.properties
    assert VariantProperty("nvidia", "cuda_version_lower_bound", "12.8") in gpu.properties


def test_cpu_variant_gets_no_lower_bound() -> None:
    cpu = gpu_matrix().get("v3")
    assert not cpu.adds_cuda_lower_bound
    assert cpu.final_properties("13.0") == props(V3)


# --- Matrix.get -------------------------------------------------------------------------


def test_get_known_label() -> None:
    matrix = expand(explicit(("x86_64_v1", [V1]), ("x86_64_v3", [V3])))
    spec = matrix.get("x86_64_v3")
    assert isinstance(spec, VariantSpec)
    assert spec.properties == props(V3)


def test_get_unknown_label_has_a_hint() -> None:
    matrix = expand(explicit(("x86_64_v1", [V1]), ("x86_64_v3", [V3])))
    with pytest.raises(SelectionError) as exc:
        matrix.get("x86_64_v2")
    assert "unknown variant label 'x86_64_v2'" in exc.value.message
    assert "x86_64_v1, x86_64_v3" in exc.value.message
    assert exc.value.hint is not None
    assert exc.value.hint.startswith("did you mean")
    assert "`x86_64_v3`" in exc.value.hint


def test_get_unrelated_label_has_no_hint() -> None:
    matrix = expand(explicit(("x86_64_v1", [V1])))
    with pytest.raises(SelectionError) as exc:
        matrix.get("zzzz")
    assert exc.value.hint is None


def test_get_on_an_empty_matrix() -> None:
    with pytest.raises(SelectionError) as exc:
        expand({}).get("x86_64_v3")
    assert "declares no variants" in exc.value.message
