"""Read pyproject.toml once and derive everything the later stages need from it."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from polywheel._compat import tomllib
from polywheel.errors import ConfigError
from polywheel.matrix.expand import expand_matrix
from polywheel.matrix.spec import Matrix
from polywheel.settings import Settings, read_settings

__all__ = ["Project", "cmake_module_dir", "load_project"]


@dataclasses.dataclass(frozen=True)
class Project:
    root: Path
    pyproject: Mapping[str, Any]
    settings: Settings
    matrix: Matrix

    @property
    def name(self) -> str:
        project = self.pyproject.get("project", {})
        return str(project.get("name", self.root.name))


def load_project(root: Path) -> Project:
    path = root / "pyproject.toml"
    try:
        with path.open("rb") as f:
            pyproject = tomllib.load(f)
    except FileNotFoundError:
        raise ConfigError(
            f"{path} does not exist; polywheel builds projects with a pyproject.toml"
        ) from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path} is not valid TOML: {exc}") from None
    except UnicodeDecodeError as exc:
        raise ConfigError(
            f"{path} is not valid TOML: it is not UTF-8 text (byte {exc.start})"
        ) from None
    except OSError as exc:
        raise ConfigError(f"cannot read {path}: {exc.strerror or exc}") from None
    settings = read_settings(pyproject)
    return Project(root.resolve(), pyproject, settings, expand_matrix(settings))


def cmake_module_dir() -> Path:
    """Where Polywheel.cmake lives: inside the installed package, or the source tree's cmake/."""
    packaged = Path(__file__).parent / "resources" / "cmake"
    if (packaged / "Polywheel.cmake").is_file():
        return packaged
    source_tree = Path(__file__).resolve().parents[2] / "cmake"
    if (source_tree / "Polywheel.cmake").is_file():
        return source_tree
    raise FileNotFoundError("polywheel is installed without its CMake module Polywheel.cmake")
