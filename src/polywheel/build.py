"""The PEP 517 / PEP 660 hooks. Thin: parse the selection, delegate, report errors.

No selection builds the plain, non-variant wheel (what pip and distributions expect).
`-C variant-label=LABEL` builds that variant, `:all:` every variant, `null` the null
variant; `variant`, `variant-name` and `null-variant` are accepted as meson-python's
fork and scikit-build-core spell them.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from scikit_build_core import build as _skbuild

from polywheel.cmake.minimum_version import floor_minimum_version
from polywheel.errors import boundary

if TYPE_CHECKING:
    from polywheel.matrix.selection import Selection
    from polywheel.project import Project

# `minimum-version = "build-system.requires"` with only polywheel in those requires.
floor_minimum_version()

__all__ = [
    "build_editable",
    "build_sdist",
    "build_wheel",
    "get_requires_for_build_editable",
    "get_requires_for_build_sdist",
    "get_requires_for_build_wheel",
]

ConfigSettings = dict[str, "str | list[str]"] | None


def _load(config_settings: ConfigSettings) -> tuple[Project, Selection, dict[str, str | list[str]]]:
    from polywheel.matrix.selection import split_config_settings
    from polywheel.project import load_project

    project = load_project(Path.cwd())
    selection, rest = split_config_settings(config_settings, project.matrix)
    return project, selection, rest


def _build(
    wheel_directory: str,
    config_settings: ConfigSettings,
    metadata_directory: str | None,
    *,
    editable: bool,
) -> str:
    from polywheel.pipeline.pep517 import build_selection

    with boundary():
        project, selection, rest = _load(config_settings)
        return build_selection(
            project,
            selection,
            Path(wheel_directory),
            rest,
            metadata_directory=metadata_directory,
            editable=editable,
        )


def build_wheel(
    wheel_directory: str,
    config_settings: ConfigSettings = None,
    metadata_directory: str | None = None,
) -> str:
    return _build(wheel_directory, config_settings, metadata_directory, editable=False)


def build_editable(
    wheel_directory: str,
    config_settings: ConfigSettings = None,
    metadata_directory: str | None = None,
) -> str:
    return _build(wheel_directory, config_settings, metadata_directory, editable=True)


def build_sdist(sdist_directory: str, config_settings: ConfigSettings = None) -> str:
    from polywheel.sdist import finish_sdist

    with boundary():
        project, _selection, rest = _load(config_settings)
        name = _skbuild.build_sdist(sdist_directory, rest)
        finish_sdist(project, Path(sdist_directory) / name)
        return str(name)


def _requires(hook: str, config_settings: ConfigSettings) -> list[str]:
    """scikit-build-core's answer (asked without polywheel's own keys: it rejects them),
    plus the `build-requires` of the variants the call builds."""
    from polywheel.matrix.requests import OWN_KEYS, requires_need_matrix

    sdist = hook.endswith("sdist")
    with boundary():
        if sdist and not set(config_settings or {}) & set(OWN_KEYS):
            # Nothing to select: skip reading the matrix (build_sdist validates it).
            return list(getattr(_skbuild, hook)(config_settings))
        if not requires_need_matrix(Path.cwd(), config_settings):
            # The build hook validates the matrix; this process only answers.
            return list(getattr(_skbuild, hook)(config_settings))
        from polywheel.matrix.selection import build_requires_of

        project, selection, rest = _load(config_settings)
        extra = [] if sdist else build_requires_of(project.matrix, selection)
        return [*getattr(_skbuild, hook)(rest), *extra]


def get_requires_for_build_wheel(config_settings: ConfigSettings = None) -> list[str]:
    return _requires("get_requires_for_build_wheel", config_settings)


def get_requires_for_build_editable(config_settings: ConfigSettings = None) -> list[str]:
    return _requires("get_requires_for_build_editable", config_settings)


def get_requires_for_build_sdist(config_settings: ConfigSettings = None) -> list[str]:
    return _requires("get_requires_for_build_sdist", config_settings)


def _prepare(metadata_directory: str, config_settings: ConfigSettings, *, editable: bool) -> str:
    from polywheel.pipeline.prepare import prepare_metadata

    with boundary():
        project, selection, rest = _load(config_settings)
        return prepare_metadata(
            project, selection, Path(metadata_directory), rest, editable=editable
        )


# scikit-build-core leaves these hooks out when an `if.failed` override could change the
# metadata after a failed build; so does polywheel, for the same reason.
if hasattr(_skbuild, "prepare_metadata_for_build_wheel"):

    def prepare_metadata_for_build_wheel(
        metadata_directory: str, config_settings: ConfigSettings = None
    ) -> str:
        return _prepare(metadata_directory, config_settings, editable=False)

    def prepare_metadata_for_build_editable(
        metadata_directory: str, config_settings: ConfigSettings = None
    ) -> str:
        return _prepare(metadata_directory, config_settings, editable=True)

    __all__ += ["prepare_metadata_for_build_editable", "prepare_metadata_for_build_wheel"]
