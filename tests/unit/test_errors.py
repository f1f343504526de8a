"""Errors are objects until the one boundary prints them."""

from __future__ import annotations

import io
import pickle

import pytest

from polywheel.errors import (
    BuildError,
    ConfigError,
    PolywheelError,
    boundary,
    close_matches_hint,
    report,
)


@pytest.mark.parametrize("cls", [PolywheelError, ConfigError, BuildError])
def test_errors_survive_the_trip_from_a_worker(cls: type[PolywheelError]) -> None:
    error = cls("went wrong", key="tool.variants.format", hint="try this", label="v3", log="x.log")
    copy = pickle.loads(pickle.dumps(error))
    assert type(copy) is cls
    assert (copy.message, copy.key, copy.hint, copy.label, copy.log) == (
        "went wrong",
        "tool.variants.format",
        "try this",
        "v3",
        "x.log",
    )
    assert str(copy) == str(error)


def test_message_names_variant_key_and_hint() -> None:
    error = ConfigError("bad", key="tool.variants.x", hint="fix it", label="v3")
    assert str(error) == "variant 'v3': `tool.variants.x`: bad\n  hint: fix it"
    assert error.headline == "variant 'v3': `tool.variants.x`: bad"


def test_report_prints_one_error_with_its_log() -> None:
    out = io.StringIO()
    report(BuildError("failed", label="v1", log="build/v1.log"), out)
    assert out.getvalue() == "polywheel: error: variant 'v1': failed\n  log: build/v1.log\n"


def test_boundary_turns_polywheel_errors_into_exit_1(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exc, boundary():
        raise ConfigError("nope", key="k")
    assert exc.value.code == 1
    assert "polywheel: error: `k`: nope" in capsys.readouterr().err


def test_boundary_lets_bugs_keep_their_traceback() -> None:
    with pytest.raises(ZeroDivisionError), boundary():
        _ = 1 / 0


def test_close_matches_hint() -> None:
    assert close_matches_hint("formt", ["format", "build-dir"]) == "did you mean `format`?"
    assert close_matches_hint("zzz", ["format"]) is None


def test_boundary_reports_a_file_system_refusal_in_one_line(
    capsys: pytest.CaptureFixture[str],
) -> None:
    with pytest.raises(SystemExit) as exc, boundary():
        raise PermissionError(13, "Permission denied", "/out/pkg.whl")
    assert exc.value.code == 1
    assert capsys.readouterr().err == "polywheel: error: /out/pkg.whl: Permission denied\n"
