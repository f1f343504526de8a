"""Bad input in pyproject.toml: each case names the key and what is allowed (pure)."""

from __future__ import annotations

from typing import Any

import pytest

from polywheel.errors import ConfigError
from polywheel.matrix.expand import expand_matrix
from polywheel.settings import read_settings


def matrix(table: dict[str, Any], variant: dict[str, Any] | None = None):  # type: ignore[no-untyped-def]
    pyproject: dict[str, Any] = {"tool": {"variants": table}}
    if variant is not None:
        pyproject["variant"] = variant
    return expand_matrix(read_settings(pyproject))


def one(**variant: Any) -> dict[str, Any]:
    return {"variant": [variant]}


V3 = ["x86_64 :: level :: v3"]


@pytest.mark.parametrize(
    ("table", "key", "message"),
    [
        (
            one(label="a", properties=["x86_64 : level : v3"]),
            "tool.variants.variant[0].properties[0]",
            "is not a variant property",
        ),
        (
            one(label="a", properties=["X86_64 :: level :: v3"]),
            "tool.variants.variant[0].properties[0]",
            "must match ^[a-z0-9_]+$",
        ),
        (
            one(label="X86_V3", properties=V3),
            "tool.variants.variant[0].label",
            "'X86_V3' is not a valid variant label",
        ),
        (
            one(label="a_very_long_label_x", properties=V3),
            "tool.variants.variant[0].label",
            "at most 16 are allowed",
        ),
        (
            one(label="null", properties=V3),
            "tool.variants.variant[0].label",
            "reserved for the null variant",
        ),
        (one(label="cpu"), "tool.variants.variant[0].label", "must be labelled 'null'"),
        (
            {
                "variant": [
                    {"label": "a", "properties": V3},
                    {"label": "a", "properties": ["x86_64 :: level :: v4"]},
                ]
            },
            "tool.variants.variant[1].label",
            "is used twice",
        ),
        (
            {"variant": [{"label": "a", "properties": V3}, {"label": "b", "properties": V3}]},
            "tool.variants.variant[1]",
            "the same properties as 'a'",
        ),
        (
            one(label="mkl", properties=["blas_lapack :: library :: mkl"]),
            "variant.providers.blas_lapack",
            "has no provider",
        ),
        (
            one(label="a", propertis=V3),
            "tool.variants.variant[0].propertis",
            "did you mean `properties`",
        ),
        ({"formt": "pep825"}, "tool.variants.formt", "did you mean `format`"),
        ({"format": "pep817"}, "tool.variants.format", "allowed: pep850, variantlib, pep825"),
        (
            one(label="v5", properties=["x86_64 :: level :: v5"]),
            "tool.variants.variant[0].properties",
            "'v5' is not one of",
        ),
        (
            one(label="gpu", properties=["nvidia :: sm_arch :: 90"]),
            "tool.variants.variant[0].properties",
            "look like '90_real'",
        ),
        (
            one(label="gpu", **{"cuda-architectures": ["native"]}),
            "tool.variants.variant[0].cuda-architectures",
            "'native' is not an explicit CUDA architecture",
        ),
        (
            one(label="gpu", cuda=True, properties=V3),
            "tool.variants.variant[0].cuda",
            "needs `cuda-architectures`",
        ),
        ({"build-dir": "build/{wheel_tag}"}, "tool.variants.build-dir", "containing '{label}'"),
        (
            {"plain-wheel": "v9", "variant": [{"label": "a", "properties": V3}]},
            "tool.variants.plain-wheel",
            "is not a variant label",
        ),
        (
            {"axes": {"cpu": {"v3": {"properties": V3}}}, "exclude": [{"gpu": "x"}]},
            "tool.variants.exclude[0].gpu",
            "unknown axis 'gpu'",
        ),
        ({"audit": {"mode": "strict"}}, "tool.variants.audit.mode", "allowed: error, warning, off"),
    ],
)
def test_bad_input_names_the_key(table: dict[str, Any], key: str, message: str) -> None:
    with pytest.raises(ConfigError) as exc:
        matrix(table)
    assert exc.value.key == key
    assert message in str(exc.value)


def test_axes_product_with_exclusions_and_template() -> None:
    table = {
        "axes": {
            "cpu": {"v1": {"properties": ["x86_64 :: level :: v1"]}, "v3": {"properties": V3}},
            "blas": {
                "openblas": {
                    "properties": ["blas_lapack :: library :: openblas"],
                    "cmake-define": {"BLA_VENDOR": "OpenBLAS"},
                },
                "mkl": {"properties": ["blas_lapack :: library :: mkl"], "dependencies": ["mkl"]},
            },
        },
        "exclude": [{"cpu": "v1", "blas": "mkl"}],
        "label-template": "{cpu}_{blas}",
    }
    variant = {
        "providers": {"blas_lapack": {"static-properties": {"library": ["mkl", "openblas"]}}}
    }
    result = matrix(table, variant)
    assert result.labels == ("v1_openblas", "v3_openblas", "v3_mkl")
    mkl = result.get("v3_mkl")
    assert [str(p) for p in mkl.properties] == [
        "blas_lapack :: library :: mkl",
        "x86_64 :: level :: v3",
    ]
    assert mkl.dependencies == ("mkl",) and mkl.flags.gnu == ("-march=x86-64-v3",)
    assert result.get("v1_openblas").cmake_define == {"BLA_VENDOR": "OpenBLAS"}
    # Default priorities: namespaces in order of use, CPU levels last.
    assert result.metadata.namespaces == ("blas_lapack", "x86_64")


def test_static_property_value_is_checked() -> None:
    variant = {"providers": {"blas_lapack": {"static-properties": {"library": ["openblas"]}}}}
    with pytest.raises(ConfigError, match="'mkl' is not one of"):
        matrix(one(label="mkl", properties=["blas_lapack :: library :: mkl"]), variant)


def test_priorities_must_name_every_provider_namespace() -> None:
    variant = {"default-priorities": {"namespace": ["nvidia"]}}
    with pytest.raises(ConfigError) as exc:
        matrix(one(label="v3", properties=V3), variant)
    assert exc.value.key == "variant.default-priorities.namespace"


def test_defaults_filled_in_for_well_known_namespaces() -> None:
    result = matrix(
        {
            "variant": [
                {"label": "sm90", "cuda-architectures": ["90"]},
                {"label": "v3", "properties": V3},
            ]
        }
    )
    assert result.metadata.namespaces == ("nvidia", "x86_64")
    assert (
        result.metadata.providers["nvidia"]["plugin-api"]
        == "nvidia_variant_provider.plugin:NvidiaVariantPlugin"
    )
    assert result.metadata.providers["x86_64"] == {"requires": ["x86-64-variant-provider"]}
    sm90 = result.get("sm90")
    assert {str(p) for p in sm90.properties} == {
        "nvidia :: sm_arch :: 90_real",
        "nvidia :: sm_arch :: 90_virtual",
    }
    assert sm90.cuda_architectures == ("90-real", "90-virtual") and sm90.adds_cuda_lower_bound
    assert result.plain is not None and result.plain.label == "v3"


def test_label_length_limit_can_be_lifted() -> None:
    result = matrix(
        {
            "max-label-length": 0,
            "variant": [{"label": "x86_64_v3_with_a_long_name", "properties": V3}],
        }
    )
    assert result.labels == ("x86_64_v3_with_a_long_name",)
