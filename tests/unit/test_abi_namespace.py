"""PEP 850's ABI Dependency namespace: property from a version, checks, requirement."""

from __future__ import annotations

import pytest

from polywheel.conformance.rules import SCHEMA_PEP850, document_problems
from polywheel.errors import ConfigError
from polywheel.namespaces import KNOWN
from polywheel.namespaces.abi_dependency import (
    abi_property,
    feature_name,
    runtime_requirement,
)
from polywheel.properties import VariantProperty

ABI = KNOWN["abi_dependency"]


@pytest.mark.parametrize(
    ("version", "components", "value"),
    [
        ("2.9.1", 1, "2"),
        ("2.9.1", 2, "2.9"),
        ("2.9.1", 3, "2.9.1"),
        ("2", 2, "2.0"),  # padded: 2.0 matches 2.0.* and so 2, as the PEP's matching does
        ("2.9.1.post3", 3, "2.9.1"),
        ("1.0rc1", 1, "1"),
        ("10.20", 2, "10.20"),
    ],
)
def test_value_from_the_installed_version(version: str, components: int, value: str) -> None:
    prop = abi_property("AbiDep", version, components, key="k")
    assert prop == VariantProperty("abi_dependency", "abidep", value)
    assert runtime_requirement(prop) == f"abidep=={value}.*"


def test_feature_is_the_normalised_name_with_underscores() -> None:
    assert feature_name("My.Lib-Core") == "my_lib_core"
    assert abi_property("torch", "2.9.0", 2, key="k").feature == "torch"


@pytest.mark.parametrize(
    ("version", "components", "message"),
    [
        ("2.9", 4, r"major \(1\), minor \(2\) or micro \(3\)"),
        ("1!2.0", 1, "epoch"),
        ("not a version", 1, "is not a version"),
    ],
)
def test_values_that_cannot_be_described(version: str, components: int, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        abi_property("abidep", version, components, key="tool.variants.variant[0]")


@pytest.mark.parametrize(
    ("feature", "value", "message"),
    [
        ("Abi-Dep", "2", "normalised distribution name 'abi_dep'"),
        ("abidep", "02", "one to three components"),
        ("abidep", "2.0.0.1", "one to three components"),
        ("abidep", "2.x", "one to three components"),
    ],
)
def test_check_value_refuses_what_uv_refuses(feature: str, value: str, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        ABI.check_value(VariantProperty("abi_dependency", feature, value), key="k")
    ABI.check_value(VariantProperty("abi_dependency", "abidep", "2.9"), key="k")


def _doc(provider: object) -> dict[str, object]:
    return {
        "$schema": SCHEMA_PEP850,
        "default-priorities": {"namespace": ["abi_dependency"]},
        "providers": {"abi_dependency": provider},
        "variants": {"abidep2": {"abi_dependency": {"abidep": ["2"]}}},
    }


def test_the_builtin_provider_conforms() -> None:
    errors = [p for p in document_problems(_doc(ABI.provider)) if p.severity == "E"]
    assert errors == []
    assert ABI.provider == {"builtin": "abi_dependency"}


@pytest.mark.parametrize(
    ("provider", "message"),
    [
        ({"builtin": "abi_dependency", "requires": ["x"]}, "exactly one of"),
        ({"optional": True}, "exactly one of"),
        ({"builtin": 3}, "`builtin` must be a string"),
    ],
)
def test_provider_forms_are_exclusive(provider: object, message: str) -> None:
    messages = [p.message for p in document_problems(_doc(provider)) if p.severity == "E"]
    assert any(message in m for m in messages), messages


# --- in the matrix ------------------------------------------------------------------------


def _abi_matrix(*variants: dict[str, object]) -> object:
    from polywheel.matrix.expand import expand_matrix
    from polywheel.settings import read_settings

    return expand_matrix(read_settings({"tool": {"variants": {"variant": list(variants)}}}))


def test_abi_variants_differ_by_their_build_requirements() -> None:
    matrix = _abi_matrix(
        {"label": "dep1", "build-requires": ["dep>=1,<2"], "abi-dependencies": {"dep": "major"}},
        {"label": "dep2", "build-requires": ["dep>=2,<3"], "abi-dependencies": {"dep": "major"}},
    )
    specs = matrix.variants  # type: ignore[attr-defined]
    assert [s.abi_dependencies for s in specs] == [{"dep": "major"}, {"dep": "major"}]
    assert [s.properties for s in specs] == [(), ()]
    metadata = matrix.metadata  # type: ignore[attr-defined]
    assert "abi_dependency" in metadata.namespaces
    assert metadata.providers["abi_dependency"] == {"builtin": "abi_dependency"}


def test_abi_variants_with_the_same_build_requirements_clash() -> None:
    with pytest.raises(ConfigError, match="could not tell them apart"):
        _abi_matrix(
            {"label": "a", "build-requires": ["dep>=1"], "abi-dependencies": {"dep": "major"}},
            {"label": "b", "build-requires": ["dep>=1"], "abi-dependencies": {"dep": "major"}},
        )


def test_a_bad_precision_names_the_key() -> None:
    with pytest.raises(ConfigError) as caught:
        _abi_matrix({"label": "a", "abi-dependencies": {"dep": "patch"}})
    assert caught.value.key == "tool.variants.variant[0].abi-dependencies.dep"
    assert "major" in str(caught.value)
