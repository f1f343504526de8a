"""The numbered conformance rules of spec notes §10 for variant.json and index documents."""

from __future__ import annotations

import copy
import itertools
import json
from collections.abc import Callable
from typing import Any

import pytest

from polywheel.conformance.rules import (
    SCHEMA_PEP825,
    SCHEMA_VARIANTLIB,
    Problem,
    document_problems,
    merge_problems,
    release_problems,
)

X86 = {"requires": ["x86-64-variant-provider"]}
NVIDIA = {
    "requires": ["nvidia-variant-provider"],
    "plugin-api": "nvidia_variant_provider.plugin:NvidiaVariantPlugin",
}


V4 = {"x86_64": {"level": ["v4"]}}
SM90 = {"nvidia": {"sm_arch": ["90_real"]}}
NS = ["x86_64", "nvidia"]


def pep825(label: str = "x86_64_v3", tree: Any = None, namespaces: Any = None) -> dict[str, Any]:
    return {
        "$schema": SCHEMA_PEP825,
        "default-priorities": {"namespace": ["x86_64"] if namespaces is None else namespaces},
        "variants": {label: {"x86_64": {"level": ["v3"]}} if tree is None else tree},
    }


def variantlib(
    label: str = "x86_64_v3", tree: Any = None, namespaces: list[str] | None = None
) -> dict[str, Any]:
    doc = pep825(label, tree, namespaces)
    doc["$schema"] = SCHEMA_VARIANTLIB
    known = {"x86_64": X86, "nvidia": NVIDIA}
    namespaces = doc["default-priorities"]["namespace"]
    doc["providers"] = {ns: copy.deepcopy(known.get(ns, X86)) for ns in namespaces}
    return doc


def rules(problems: list[Problem], severity: str | None = None) -> set[int]:
    return {p.rule for p in problems if severity is None or p.severity == severity}


# --- one document -----------------------------------------------------------------------


@pytest.mark.parametrize("make", [pep825, variantlib])
def test_good_document_has_only_the_draft_warning(make: Callable[..., dict[str, Any]]) -> None:
    problems = document_problems(make(), expected_label="x86_64_v3")
    assert len(problems) == 1
    assert problems[0].rule == 12
    assert problems[0].severity == "W"
    assert "draft" in problems[0].message


def test_good_index_document_without_expected_label() -> None:
    doc = variantlib(namespaces=["nvidia", "x86_64"])
    doc["variants"] = {
        "null": {},
        "sm90": {"nvidia": {"sm_arch": ["90_real", "90_virtual"]}},
        "x86_64_v3": {"x86_64": {"level": ["v3"]}},
    }
    assert rules(document_problems(doc), "E") == set()


def test_good_null_variant() -> None:
    doc = pep825("null", {})
    assert rules(document_problems(doc, expected_label="null"), "E") == set()


def _set(path: str, value: Any) -> Callable[[dict[str, Any]], Any]:
    """A mutation that sets doc[a][b]... = value, the path written "a|b|..."."""

    def mutate(doc: dict[str, Any]) -> Any:
        *parents, last = path.split("|")
        target = doc
        for part in parents:
            target = target[part]
        target[last] = value
        return doc

    return mutate


def _delete(key: str) -> Callable[[dict[str, Any]], Any]:
    def mutate(doc: dict[str, Any]) -> Any:
        del doc[key]
        return doc

    return mutate


TREE = "variants|x86_64_v3"
LEVEL = "variants|x86_64_v3|x86_64|level"

# (rule, severity, base format, mutation, expected label)
BAD_DOCUMENTS: list[tuple[int, str, Callable[..., dict[str, Any]], Any, str | None]] = [
    (9, "E", pep825, lambda doc: [doc], "x86_64_v3"),
    (9, "E", pep825, lambda doc: "text", "x86_64_v3"),
    (9, "E", pep825, lambda doc: None, None),
    (10, "E", pep825, _delete("variants"), None),
    (10, "E", pep825, _delete("default-priorities"), None),
    (10, "E", pep825, _set("variants", []), "x86_64_v3"),
    (10, "E", pep825, _set(TREE, ["x86_64"]), "x86_64_v3"),
    (10, "E", pep825, _set("variants|x86_64_v3|x86_64", ["level"]), "x86_64_v3"),
    (10, "E", pep825, _set("default-priorities", ["x86_64"]), "x86_64_v3"),
    (10, "E", variantlib, _set("extra", 1), "x86_64_v3"),
    (10, "E", variantlib, _set("providers", []), "x86_64_v3"),
    (10, "E", variantlib, _set("providers|nvidia", NVIDIA), "x86_64_v3"),
    (10, "E", variantlib, _set("providers|x86_64|enable-if", "true"), "x86_64_v3"),
    (10, "E", variantlib, _set("providers|x86_64|static-properties", {}), "x86_64_v3"),
    (10, "E", variantlib, _set("providers|x86_64", {"optional": True}), "x86_64_v3"),
    (11, "E", pep825, _delete("$schema"), "x86_64_v3"),
    (11, "E", pep825, _set("$schema", "https://example.com/v9.json"), "x86_64_v3"),
    (11, "E", pep825, _set("$schema", 1), "x86_64_v3"),
    (13, "E", pep825, _set(TREE, {"X86_64": {"level": ["v3"]}}), None),
    (13, "E", pep825, _set(TREE, {"x86_64": {"Level": ["v3"]}}), "x86_64_v3"),
    (13, "E", pep825, _set(TREE, {"x86_64": {"le-vel": ["v3"]}}), "x86_64_v3"),
    (13, "E", pep825, _set(LEVEL, ["V3"]), "x86_64_v3"),
    (13, "E", pep825, _set(LEVEL, ["v 3"]), "x86_64_v3"),
    (13, "E", pep825, _set(LEVEL, [3]), "x86_64_v3"),
    (14, "E", pep825, _set(LEVEL, []), "x86_64_v3"),
    (14, "E", pep825, _set(LEVEL, "v3"), "x86_64_v3"),
    (14, "E", pep825, _set(LEVEL, ["v3", "v3"]), "x86_64_v3"),
    (15, "E", pep825, _set(LEVEL, ["v4", "v3"]), "x86_64_v3"),
    # Codepoint order, not natural order: "v10" sorts before "v3".
    (15, "E", pep825, _set(LEVEL, ["v3", "v10"]), "x86_64_v3"),
    (16, "W", pep825, _set("variants|x86_64_v3|x86_64", {}), "x86_64_v3"),
    (17, "E", pep825, _set("default-priorities|namespace", []), "x86_64_v3"),
    (17, "E", pep825, _set("default-priorities|namespace", ["x86_64", "x86_64"]), None),
    (17, "E", pep825, _set("default-priorities|namespace", "x86_64"), "x86_64_v3"),
    (17, "E", pep825, _set("default-priorities|namespace", ["X86"]), "x86_64_v3"),
    (17, "E", pep825, _set("default-priorities", {}), "x86_64_v3"),
    (18, "E", pep825, _set("variants|x86_64_v4", {"x86_64": {"level": ["v4"]}}), "x86_64_v3"),
    (18, "E", pep825, _set("variants", {}), "x86_64_v3"),
    (19, "E", pep825, lambda doc: doc, "x86_64_v4"),
    (20, "E", pep825, lambda doc: pep825("null"), "null"),
    (20, "E", pep825, _set(TREE, {}), "x86_64_v3"),
    (21, "E", pep825, _set(TREE, {"nvidia": {"sm_arch": ["90_real"]}}), "x86_64_v3"),
    (21, "E", variantlib, _set("variants|x86_64_v3|mine", {"a": ["b"]}), "x86_64_v3"),
    (22, "E", pep825, _set("providers", {"x86_64": X86}), "x86_64_v3"),
    (22, "E", pep825, _set("default-priorities|feature", {}), "x86_64_v3"),
    (22, "E", pep825, _set("default-priorities|property", {}), "x86_64_v3"),
    (22, "E", pep825, _set("static-properties", {}), "x86_64_v3"),
    (3, "E", pep825, _set("variants", {"X86": {"x86_64": {"level": ["v3"]}}}), None),
]


@pytest.mark.parametrize(
    ("rule", "severity", "make", "mutate", "label"),
    BAD_DOCUMENTS,
    ids=[f"rule{case[0]}-{i}" for i, case in enumerate(BAD_DOCUMENTS)],
)
def test_bad_document(
    rule: int,
    severity: str,
    make: Callable[..., dict[str, Any]],
    mutate: Callable[[dict[str, Any]], Any],
    label: str | None,
) -> None:
    good = make()
    assert rules(document_problems(good, expected_label="x86_64_v3"), "E") == set()
    problems = document_problems(mutate(good), expected_label=label)
    assert rule in rules(problems, severity), problems
    if severity == "W":
        assert rules(problems, "E") == set(), problems


def test_values_sorted_by_codepoint_pass_rule_15() -> None:
    doc = pep825(tree={"x86_64": {"level": ["v10", "v3"]}})
    assert 15 not in rules(document_problems(doc, expected_label="x86_64_v3"))


def test_problems_are_sorted_and_unique() -> None:
    doc = pep825(tree={"x86_64": {"level": ["v3", "v3"]}, "mine": {}})
    problems = document_problems(doc, expected_label="other")
    assert problems == sorted(set(problems))
    assert rules(problems) >= {12, 14, 16, 19, 21}


def test_document_problems_never_raise_on_odd_types() -> None:
    for doc in (
        {"$schema": SCHEMA_PEP825, "default-priorities": 1, "variants": 1},
        {"$schema": None, "default-priorities": {"namespace": [1, 1]}, "variants": {"x": 1}},
        {"$schema": SCHEMA_VARIANTLIB, "providers": {"a": 1}, "variants": {"x": {"a": 1}}},
    ):
        assert rules(document_problems(doc, expected_label="x"), "E")


@pytest.mark.parametrize(
    ("mutate", "rule"),
    [
        (_set(LEVEL, ["v3\n"]), 13),
        (_set(TREE, {"x86_64": {"level\n": ["v3"]}}), 13),
        (_set("default-priorities|namespace", ["x86_64\n"]), 17),
        (_set("variants", {"x86_64_v3\n": {"x86_64": {"level": ["v3"]}}}), 3),
    ],
    ids=["value", "feature", "namespace", "label"],
)
def test_trailing_newline_is_not_a_full_match(
    mutate: Callable[[dict[str, Any]], Any], rule: int
) -> None:
    """`$` also matches before a final newline: the patterns must match in full."""
    problems = document_problems(mutate(pep825()), expected_label=None)
    assert rule in rules(problems, "E")


# --- merging the wheels of a release ----------------------------------------------------


def test_merge_nothing() -> None:
    assert merge_problems([]) == (None, [])


def test_merge_compatible_documents() -> None:
    docs = [
        ("b.whl", variantlib("x86_64_v3")),
        ("a.whl", variantlib("sm90", SM90, NS)),
        ("c.whl", variantlib("x86_64_v3", namespaces=NS)),  # the same label, another tag
    ]
    merged, problems = merge_problems(docs)
    assert problems == []
    assert merged is not None
    assert list(merged["variants"]) == ["sm90", "x86_64_v3"]
    assert merged["default-priorities"]["namespace"] == NS
    assert merged["providers"] == {"nvidia": NVIDIA, "x86_64": X86}
    assert rules(document_problems(merged), "E") == set()


def test_merge_keeps_the_longest_namespace_list() -> None:
    docs = [
        ("a.whl", pep825("v3", namespaces=["x86_64", "aarch64", "mine"])),
        ("b.whl", pep825("v4", {"x86_64": {"level": ["v4"]}}, ["x86_64"])),
        ("c.whl", pep825("v2", {"x86_64": {"level": ["v2"]}}, ["x86_64", "aarch64"])),
    ]
    merged, problems = merge_problems(docs)
    assert problems == []
    assert merged is not None
    assert merged["default-priorities"]["namespace"] == ["x86_64", "aarch64", "mine"]


def test_merge_does_not_change_its_inputs() -> None:
    docs = [("a.whl", variantlib("v3")), ("b.whl", variantlib("v4", {"x86_64": {"level": ["v4"]}}))]
    before = copy.deepcopy(docs)
    merged, _problems = merge_problems(docs)
    assert docs == before
    assert merged is not docs[0][1]


@pytest.mark.parametrize(
    ("docs", "rule", "severity", "fragment"),
    [
        (
            [("a.whl", pep825("v3")), ("b.whl", pep825("v3", {"x86_64": {"level": ["v4"]}}))],
            23,
            "E",
            "label 'v3' means",
        ),
        (
            [
                ("a.whl", variantlib("v3")),
                ("b.whl", {**variantlib("v4", V4), "providers": {"x86_64": NVIDIA}}),
            ],
            23,
            "E",
            "provider 'x86_64' differs",
        ),
        (
            [
                ("a.whl", pep825("v3", namespaces=["x86_64", "nvidia"])),
                ("b.whl", pep825("v4", {"x86_64": {"level": ["v4"]}}, ["nvidia", "x86_64"])),
            ],
            24,
            "E",
            "clash",
        ),
        (
            [
                ("a.whl", pep825("v3", namespaces=["x86_64", "nvidia"])),
                ("b.whl", pep825("v4", {"x86_64": {"level": ["v4"]}}, ["x86_64", "aarch64"])),
            ],
            24,
            "E",
            "clash",
        ),
        (
            [("a.whl", pep825("v3")), ("b.whl", pep825("fast"))],
            25,
            "W",
            "labels 'fast' and 'v3' mean the same",
        ),
        (
            [("a.whl", pep825("v3")), ("b.whl", variantlib("v4", {"x86_64": {"level": ["v4"]}}))],
            26,
            "W",
            "$schema",
        ),
    ],
)
def test_merge_problems(
    docs: list[tuple[str, dict[str, Any]]], rule: int, severity: str, fragment: str
) -> None:
    _merged, problems = merge_problems(docs)
    found = [p for p in problems if p.rule == rule]
    assert found, problems
    assert found[0].severity == severity
    assert fragment in found[0].message
    assert rules(problems) == {rule}


def test_merge_conflict_names_both_wheels() -> None:
    docs = [("b.whl", pep825("v3", {"x86_64": {"level": ["v4"]}})), ("a.whl", pep825("v3"))]
    _merged, problems = merge_problems(docs)
    assert len(problems) == 1
    assert "a.whl" in problems[0].message
    assert "b.whl" in problems[0].message


RELEASE = [
    ("p-1-cp311-cp311-linux_x86_64-null.whl", variantlib("null", {}, NS)),
    # A build whose namespace list is a prefix of the others'.
    ("p-1-cp311-cp311-linux_x86_64-v3.whl", variantlib("v3")),
    ("p-1-cp311-cp311-linux_x86_64-sm90.whl", variantlib("sm90", SM90, NS)),
    ("p-1-cp311-cp311-linux_x86_64-same.whl", variantlib("same")),
    ("p-1-cp312-cp312-linux_x86_64-v3.whl", variantlib("v3", {"x86_64": {"level": ["v2"]}})),
    ("p-1-cp311-cp311-linux_x86_64-gpu.whl", pep825("gpu", SM90, ["nvidia", "x86_64"])),
]

WHEELS = RELEASE[:3]  # null, v3 and sm90: a release without conflicts


def test_merge_is_order_independent() -> None:
    """Rule 33: every permutation gives the identical document and problems."""
    results = {
        json.dumps(merge_problems(list(order)), default=repr)
        for order in itertools.permutations(RELEASE)
    }
    assert len(results) == 1
    _merged, problems = merge_problems(RELEASE)
    # The set exercises every merge rule, so the comparison covers their messages too.
    assert rules(problems) == {23, 24, 25, 26}


def test_merge_of_compatible_wheels_is_order_independent() -> None:
    outputs = {
        json.dumps(merge_problems(list(order))[0], sort_keys=False)
        for order in itertools.permutations(WHEELS)
    }
    assert len(outputs) == 1
    merged = json.loads(outputs.pop())
    assert list(merged["variants"]) == ["null", "sm90", "v3"]
    assert merged["default-priorities"]["namespace"] == ["x86_64", "nvidia"]


# --- an index file against the wheels ---------------------------------------------------


def good_index() -> dict[str, Any]:
    merged, problems = merge_problems(WHEELS)
    assert problems == []
    assert merged is not None
    return merged


def test_release_good_index() -> None:
    assert release_problems(good_index(), WHEELS) == []


def test_release_without_wheels() -> None:
    assert release_problems(good_index(), []) == []


@pytest.mark.parametrize(
    ("mutate", "rule", "fragment"),
    [
        (lambda doc: doc["variants"].pop("sm90"), 30, "label 'sm90'"),
        (lambda doc: doc["variants"].pop("null"), 30, "label 'null'"),
        (lambda doc: doc.pop("variants"), 30, "is missing"),
        (
            lambda doc: doc["variants"].update(v3={"x86_64": {"level": ["v4"]}}),
            31,
            "label 'v3' differs",
        ),
        (lambda doc: doc["variants"].update(null={"x86_64": {"level": ["v1"]}}), 31, "'null'"),
        (lambda doc: doc["default-priorities"].update(namespace=["x86_64"]), 32, "longest"),
        (
            lambda doc: doc["default-priorities"].update(namespace=["nvidia", "x86_64"]),
            32,
            "longest",
        ),
        (
            lambda doc: doc["default-priorities"].update(namespace=[*NS, "more"]),
            32,
            "longest",
        ),
        (lambda doc: doc.pop("default-priorities"), 32, "longest"),
    ],
)
def test_release_problems(
    mutate: Callable[[dict[str, Any]], Any], rule: int, fragment: str
) -> None:
    index = good_index()
    mutate(index)
    problems = release_problems(index, WHEELS)
    assert rules(problems) == {rule}, problems
    assert all(p.severity == "E" for p in problems)
    assert any(fragment in p.message for p in problems)


def test_release_reports_wheel_conflicts_too() -> None:
    wheels = [*WHEELS, RELEASE[4]]  # another wheel that says v3 means level v2
    problems = release_problems(good_index(), wheels)
    assert 23 in rules(problems, "E")
    assert 31 in rules(problems, "E")
