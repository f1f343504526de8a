"""A label becomes part of file and folder names only after the one full-match check."""

from __future__ import annotations

from typing import Any

import pytest

from polywheel.conformance.rules import document_problems
from polywheel.errors import ConfigError
from polywheel.matrix.expand import expand_matrix
from polywheel.properties import check_label, label_problem
from polywheel.settings import read_settings
from polywheel.wheel.filename import filename_problem

DOTS = [".", "..", "...", "...."]


@pytest.mark.parametrize("label", DOTS)
def test_dots_only_labels_are_refused_in_pyproject(label: str) -> None:
    with pytest.raises(ConfigError) as exc:
        check_label(label, key="k", property_count=1, max_length=16)
    assert exc.value.key == "k" and "made of dots only" in exc.value.message


@pytest.mark.parametrize("label", DOTS)
def test_dots_only_labels_are_refused_in_the_matrix(label: str) -> None:
    table: dict[str, Any] = {"variant": [{"label": label, "properties": ["x86_64 :: level :: v3"]}]}
    with pytest.raises(ConfigError) as exc:
        expand_matrix(read_settings({"tool": {"variants": table}}))
    assert exc.value.key == "tool.variants.variant[0].label"


@pytest.mark.parametrize("label", DOTS)
def test_dots_only_labels_are_refused_in_filenames(label: str) -> None:
    problem = filename_problem(f"pkg-1.0-cp311-cp311-linux_x86_64-{label}.whl")
    assert problem is not None and problem.rule == 3


@pytest.mark.parametrize("label", DOTS)
def test_dots_only_labels_are_refused_in_variant_json(label: str) -> None:
    doc = {
        "$schema": "https://variants-schema.wheelnext.dev/peps/825/v0.1.1.json",
        "default-priorities": {"namespace": ["x86_64"]},
        "variants": {label: {"x86_64": {"level": ["v3"]}}},
    }
    assert 3 in {p.rule for p in document_problems(doc)}


@pytest.mark.parametrize("label", ["v3", "x86_64_v3", ".v3", "v3.1", "a..b"])
def test_ordinary_labels_pass(label: str) -> None:
    assert label_problem(label) is None


@pytest.mark.parametrize("label", ["v3\n", "V3", "v-3", "", "v3/..", "v 3"])
def test_labels_are_matched_in_full(label: str) -> None:
    assert label_problem(label) is not None
