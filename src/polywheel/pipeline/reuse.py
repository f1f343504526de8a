"""Skip a variant whose inputs did not change since its last `polywheel build`.

CMake's own incremental build still costs a configure step, a no-op compile, an
install and a wheel per variant. When nothing that feeds the build changed, the
previous raw wheel is reused outright. The fingerprint covers the project's files
(path, size, modification time), pyproject.toml, the variant's settings, the
config-settings, the environment variables that steer compilers and CMake, and the
Python, polywheel and scikit-build-core versions. Headers outside the project (system
or toolchain updates) are not covered: `polywheel build --rebuild` ignores the cache.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
import shutil
import sys
from collections.abc import Iterator, Mapping
from importlib import metadata
from pathlib import Path

from polywheel import __version__
from polywheel.cmake.report import BuildReport, RawBuild
from polywheel.matrix.spec import VariantSpec
from polywheel.project import Project

__all__ = ["BuildCache"]

_SKIPPED_DIRS = {
    ".git", ".hg", ".svn", "__pycache__", ".venv", "venv", ".tox", ".nox",
    ".mypy_cache", ".pytest_cache", ".ruff_cache", "dist", "wheelhouse",
}  # fmt: skip
_ENV_PREFIXES = (
    "CC", "CXX", "CUDACXX", "CUDAHOSTCXX", "CFLAGS", "CXXFLAGS", "CPPFLAGS", "LDFLAGS",
    "CUDAFLAGS", "CUDAARCHS", "CMAKE_", "SKBUILD_", "SOURCE_DATE_EPOCH", "PATH",
    "ARCHFLAGS", "MACOSX_DEPLOYMENT_TARGET", "CUDA_HOME", "CUDA_PATH",
)  # fmt: skip


def _files(root: Path, skipped: set[str]) -> Iterator[tuple[str, int, int]]:
    stack = [root]
    while stack:
        folder = stack.pop()
        with os.scandir(folder) as entries:
            for entry in entries:
                if entry.is_dir(follow_symlinks=False):
                    rel = os.path.relpath(entry.path, root)
                    if (
                        entry.name in _SKIPPED_DIRS
                        or rel in skipped
                        or entry.name.endswith(".egg-info")
                    ):
                        continue
                    stack.append(Path(entry.path))
                elif entry.is_file(follow_symlinks=False):
                    stat = entry.stat(follow_symlinks=False)
                    yield os.path.relpath(entry.path, root), stat.st_size, stat.st_mtime_ns


def _version(name: str) -> str:
    try:
        return metadata.version(name)
    except metadata.PackageNotFoundError:
        return "?"


class BuildCache:
    def __init__(self, project: Project, skipped: set[str]) -> None:
        self.project = project
        self.folder = project.root / "build" / "polywheel-cache"
        self.skipped = {"build", *skipped}
        self._tree: str | None = None

    def _tree_digest(self) -> str:
        if self._tree is None:
            digest = hashlib.sha256()
            for entry in sorted(_files(self.project.root, self.skipped)):
                digest.update(repr(entry).encode())
            self._tree = digest.hexdigest()
        return self._tree

    def key(self, spec: VariantSpec | None, config: Mapping[str, str | list[str]]) -> str:
        env = {k: v for k, v in os.environ.items() if k.startswith(_ENV_PREFIXES)}
        inputs = {
            "tree": self._tree_digest(),
            "spec": dataclasses.asdict(spec) if spec else None,
            "config": dict(config),
            "env": env,
            # The environment, not the interpreter's path: `python -m polywheel` and the
            # `polywheel` script of one venv name the interpreter differently.
            "python": [sys.prefix, sys.version],
            "tools": [__version__, _version("scikit-build-core")],
        }
        return hashlib.sha256(json.dumps(inputs, sort_keys=True, default=str).encode()).hexdigest()

    def lookup(self, name: str, key: str) -> RawBuild | None:
        entry = self.folder / name
        try:
            if (entry / "key").read_text() != key:
                return None
        except OSError:
            return None
        wheels = list(entry.glob("*.whl"))
        if len(wheels) != 1:
            return None
        return RawBuild(wheels[0], BuildReport.read(entry / "build-info.txt"))

    def store(self, name: str, key: str, raw: RawBuild) -> None:
        entry = self.folder / name
        shutil.rmtree(entry, ignore_errors=True)
        entry.mkdir(parents=True)
        shutil.copyfile(raw.wheel, entry / raw.wheel.name)
        if raw.report is not None:
            (entry / "build-info.txt").write_text(raw.report.render())
        (entry / "key").write_text(key)  # written last: a partial entry never matches
