"""polywheel.wheel.filename: wheel names with and without a variant label (PEP 825 §1)."""

from __future__ import annotations

import pytest

from polywheel.conformance.problems import Problem
from polywheel.errors import WheelFormatError
from polywheel.wheel.filename import WheelName, filename_problem, index_filename, parse_wheel_name

TAGS = "cp311-cp311-linux_x86_64"


@pytest.mark.parametrize(
    ("filename", "expected"),
    [
        (
            f"foo-1.0-{TAGS}.whl",
            WheelName("foo", "1.0", None, TAGS, None),
        ),
        (
            f"foo-1.0-1-{TAGS}.whl",
            WheelName("foo", "1.0", "1", TAGS, None),
        ),
        (
            f"foo-1.0-2abc-{TAGS}.whl",
            WheelName("foo", "1.0", "2abc", TAGS, None),
        ),
        (
            f"foo-1.0-{TAGS}-x86_64_v3.whl",
            WheelName("foo", "1.0", None, TAGS, "x86_64_v3"),
        ),
        (
            "foo_bar-2.3.post1-py3-none-any-null.whl",
            WheelName("foo_bar", "2.3.post1", None, "py3-none-any", "null"),
        ),
        (
            f"foo-1.0-1-{TAGS}-cu12.8.whl",
            WheelName("foo", "1.0", "1", TAGS, "cu12.8"),
        ),
        (
            "foo-1.0-py2.py3-none-any-v3.whl",
            WheelName("foo", "1.0", None, "py2.py3-none-any", "v3"),
        ),
    ],
)
def test_parse_wheel_name(filename: str, expected: WheelName) -> None:
    name = parse_wheel_name(filename)
    assert name == expected
    assert filename_problem(filename) is None
    assert name.filename == filename


@pytest.mark.parametrize(
    ("filename", "rule", "message"),
    [
        ("foo-1.0-py3-none-any.zip", 1, "no .whl"),
        ("foo-1.0-py3-none-any", 1, "no .whl"),
        ("foo-1.0-py3-none.whl", 1, "5 to 7 dash-separated parts"),
        ("foo.whl", 1, "5 to 7 dash-separated parts"),
        ("foo-1.0-1-py3-none-any-lbl-extra.whl", 1, "5 to 7 dash-separated parts"),
        ("foo-not+a+version-py3-none-any.whl", 1, "Invalid wheel filename"),
        ("foo-1.0-3py-none-any.whl", 2, "python tag must not start with a digit"),
        ("foo-1.0-1-3py-none-any-lbl.whl", 2, "python tag must not start with a digit"),
        ("foo-1.0-py3-none-any-X86_V3.whl", 3, "variant label 'X86_V3'"),
        ("foo-1.0-1-py3-none-any-a+b.whl", 3, "must match ^[0-9a-z_.]+$"),
        ("foo-1.0-py3-none-any-.whl", 3, "variant label ''"),
    ],
)
def test_filename_problem(filename: str, rule: int, message: str) -> None:
    problem = filename_problem(filename)
    assert isinstance(problem, Problem)
    assert problem.rule == rule
    assert problem.severity == "E"
    assert message in problem.message


@pytest.mark.parametrize(
    "filename",
    ["foo-1.0-py3-none.whl", "foo-1.0-3py-none-any.whl", "foo-1.0-py3-none-any-Bad.whl"],
)
def test_parse_wheel_name_raises_wheel_format_error(filename: str) -> None:
    problem = filename_problem(filename)
    assert problem is not None
    with pytest.raises(WheelFormatError) as exc:
        parse_wheel_name(filename)
    assert exc.value.message == f"{filename}: {problem.message}"


def test_problem_str() -> None:
    problem = filename_problem("foo-1.0-3py-none-any.whl")
    assert str(problem) == "E2: the python tag must not start with a digit (PEP 825)"


def test_filename_problem_label_with_trailing_newline() -> None:
    problem = filename_problem("foo-1.0-py3-none-any-x86\n.whl")
    assert problem is not None
    assert problem.rule == 3


def test_with_label_round_trip() -> None:
    plain = parse_wheel_name(f"foo-1.0-{TAGS}.whl")
    labelled = plain.with_label("x86_64_v3")
    assert labelled.filename == f"foo-1.0-{TAGS}-x86_64_v3.whl"
    assert labelled.plain_stem == plain.plain_stem == f"foo-1.0-{TAGS}"
    assert parse_wheel_name(labelled.filename) == labelled
    assert labelled.with_label(None) == plain
    assert labelled.with_label(None).filename == f"foo-1.0-{TAGS}.whl"
    # with_label returns a copy; the original keeps its label.
    assert plain.label is None


def test_with_label_keeps_build_tag() -> None:
    name = parse_wheel_name(f"foo-1.0-7-{TAGS}.whl").with_label("v4")
    assert name.filename == f"foo-1.0-7-{TAGS}-v4.whl"
    assert name.plain_stem == f"foo-1.0-7-{TAGS}"
    assert parse_wheel_name(name.filename).build == "7"


@pytest.mark.parametrize(
    ("distribution", "version", "expected"),
    [
        ("foo", "1.0", "foo-1.0-variants.json"),
        ("Foo.Bar", "1.0", "foo_bar-1.0-variants.json"),
        ("Foo-Bar", "2.0", "foo_bar-2.0-variants.json"),
        ("foo__bar", "0.1", "foo_bar-0.1-variants.json"),
        ("My_.-Pkg", "3", "my_pkg-3-variants.json"),
    ],
)
def test_index_filename(distribution: str, version: str, expected: str) -> None:
    assert index_filename(distribution, version) == expected
