"""The PEP 517 / PEP 660 hooks. Thin: parse the selection, delegate, report errors.

No selection builds the plain, non-variant wheel (what pip and distributions expect).
`-C variant-label=LABEL` builds that variant, `:all:` every variant, `null` the null
variant; `variant`, `variant-name` and `null-variant` are accepted as meson-python's
fork and scikit-build-core spell them.
"""

from __future__ import annotations

import contextlib
import sys
from collections.abc import Iterator
from pathlib import Path

from scikit_build_core import build as _skbuild

from polywheel.errors import PolywheelError

__all__ = [
    "build_editable",
    "build_sdist",
    "build_wheel",
    "get_requires_for_build_editable",
    "get_requires_for_build_sdist",
    "get_requires_for_build_wheel",
]


@contextlib.contextmanager
def _boundary() -> Iterator[None]:
    """The one place where a polywheel error becomes a message and an exit status."""
    try:
        yield
    except PolywheelError as exc:
        sys.stdout.flush()
        print(f"polywheel: error: {exc}", file=sys.stderr, flush=True)
        raise SystemExit(1) from None


def _load(config_settings: dict[str, str | list[str]] | None):  # type: ignore[no-untyped-def]
    from polywheel.project import load_project
    from polywheel.selection import split_config_settings

    project = load_project(Path.cwd())
    selection, rest = split_config_settings(config_settings, project.matrix)
    return project, selection, rest


def build_wheel(
    wheel_directory: str,
    config_settings: dict[str, str | list[str]] | None = None,
    metadata_directory: str | None = None,
) -> str:
    from polywheel.pipeline import build_selection

    with _boundary():
        project, selection, rest = _load(config_settings)
        return build_selection(
            project, selection, Path(wheel_directory), rest, metadata_directory=metadata_directory
        )


def build_editable(
    wheel_directory: str,
    config_settings: dict[str, str | list[str]] | None = None,
    metadata_directory: str | None = None,
) -> str:
    from polywheel.errors import SelectionError
    from polywheel.pipeline import build_selection

    with _boundary():
        project, selection, rest = _load(config_settings)
        if len(selection.labels) > 1:
            raise SelectionError("an editable install takes at most one -C variant-label")
        return build_selection(
            project,
            selection,
            Path(wheel_directory),
            rest,
            metadata_directory=metadata_directory,
            editable=True,
        )


def build_sdist(
    sdist_directory: str, config_settings: dict[str, str | list[str]] | None = None
) -> str:
    from polywheel.sdist import finish_sdist

    with _boundary():
        project, _selection, rest = _load(config_settings)
        name = _skbuild.build_sdist(sdist_directory, rest)
        finish_sdist(project, Path(sdist_directory) / name)
        return str(name)


def _requires(hook: str, config_settings: dict[str, str | list[str]] | None) -> list[str]:
    """scikit-build-core's answer, asked without polywheel's own keys (it rejects them)."""
    from polywheel.selection import OWN_KEYS

    with _boundary():
        if not set(config_settings or {}) & set(OWN_KEYS):
            # Nothing to select: skip reading the matrix (build_wheel validates it).
            return list(getattr(_skbuild, hook)(config_settings))
        _project, _selection, rest = _load(config_settings)
        return list(getattr(_skbuild, hook)(rest))


def get_requires_for_build_wheel(
    config_settings: dict[str, str | list[str]] | None = None,
) -> list[str]:
    return _requires("get_requires_for_build_wheel", config_settings)


def get_requires_for_build_editable(
    config_settings: dict[str, str | list[str]] | None = None,
) -> list[str]:
    return _requires("get_requires_for_build_editable", config_settings)


def get_requires_for_build_sdist(
    config_settings: dict[str, str | list[str]] | None = None,
) -> list[str]:
    return _requires("get_requires_for_build_sdist", config_settings)


def _prepare(
    metadata_directory: str, config_settings: dict[str, str | list[str]] | None, *, editable: bool
) -> str:
    from polywheel.metadata import prepare_metadata

    with _boundary():
        project, selection, rest = _load(config_settings)
        return prepare_metadata(
            project, selection, Path(metadata_directory), rest, editable=editable
        )


# scikit-build-core leaves these hooks out when an `if.failed` override could change the
# metadata after a failed build; so does polywheel, for the same reason.
if hasattr(_skbuild, "prepare_metadata_for_build_wheel"):

    def prepare_metadata_for_build_wheel(
        metadata_directory: str, config_settings: dict[str, str | list[str]] | None = None
    ) -> str:
        return _prepare(metadata_directory, config_settings, editable=False)

    def prepare_metadata_for_build_editable(
        metadata_directory: str, config_settings: dict[str, str | list[str]] | None = None
    ) -> str:
        return _prepare(metadata_directory, config_settings, editable=True)

    __all__ += ["prepare_metadata_for_build_editable", "prepare_metadata_for_build_wheel"]
