"""Skip a variant whose build would read exactly what its last one read.

CMake's own incremental build still costs a configure step, a no-op compile, an
install and a wheel per variant. When nothing the compiler, CMake or the metadata step
saw has changed, the previous raw wheel is reused outright. "Nothing" means:
- the same key: the variant's settings, the config-settings, the whole environment
  (less shell bookkeeping such as PWD), the interpreter, and the versions of polywheel,
  scikit-build-core, CMake and ninja;
- the same files, each with the same content: every input `pipeline/inputs.py` finds
  (ninja's dependency log, CMake's re-run inputs, the compilers, the project's files),
  and no project file added or removed.
A build whose inputs cannot be known (a generator other than Ninja) is never reused.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
import re
import shutil
import sys
from collections.abc import Mapping
from importlib import metadata
from pathlib import Path
from typing import Any

from polywheel import __version__
from polywheel.cmake.report import BuildReport, RawBuild, report_path
from polywheel.cmake.runner import variant_build_dir
from polywheel.matrix.spec import VariantSpec
from polywheel.pipeline.inputs import FileState, changed_files, collect_inputs, project_files
from polywheel.project import Project

__all__ = ["BuildCache"]

# Shell bookkeeping that changes between two runs in one terminal (and pytest's name of
# the running test) and feeds no build.
_VOLATILE_ENV = {
    "PYTEST_CURRENT_TEST",
    "PWD", "OLDPWD", "SHLVL", "_", "COLUMNS", "LINES", "TERM", "TERM_PROGRAM",
    "TERM_PROGRAM_VERSION", "TERM_SESSION_ID", "SSH_CLIENT", "SSH_CONNECTION", "SSH_TTY",
    "SSH_AUTH_SOCK", "DISPLAY", "WINDOWID", "TMUX", "TMUX_PANE", "STY", "XDG_SESSION_ID",
    "LS_COLORS", "PS1", "PROMPT_COMMAND", "HISTFILE", "HISTSIZE",
}  # fmt: skip


def _version(name: str) -> str:
    try:
        return metadata.version(name)
    except metadata.PackageNotFoundError:
        return "?"


class BuildCache:
    """Reused raw builds, one entry per variant, under `build/polywheel-cache/`."""

    def __init__(
        self, project: Project, out_dir: Path, config: Mapping[str, str | list[str]]
    ) -> None:
        self.root = project.root
        # Every variant's build folder, as a glob: one variant's build is running while
        # another's inputs are recorded.
        self.build_patterns = [
            re.sub(r"\{[^}]*\}", "*", variant_build_dir(project, label, config))
            for label in [*project.matrix.labels, "*"]
        ]
        work = project.root / "build"
        self.folder = work / "polywheel-cache"
        self.excluded = [self.folder, work / "polywheel-logs", work / "polywheel-state"]
        self.outputs = self._remember_output(work / "polywheel-state" / "outputs.json", out_dir)
        # Read once per run, not once per variant: each lookup scans the installed
        # distributions.
        self.tools = [__version__, *map(_version, ("scikit-build-core", "cmake", "ninja"))]

    @staticmethod
    def _remember_output(registry: Path, out_dir: Path) -> list[Path]:
        """Every folder polywheel wrote this project's wheels to, this one included:
        the wheels and index files there are outputs, not inputs of the next build."""
        try:
            known = [Path(p) for p in json.loads(registry.read_text())]
        except (OSError, ValueError, TypeError):
            known = []
        if out_dir.resolve() not in known:
            known.append(out_dir.resolve())
            registry.parent.mkdir(parents=True, exist_ok=True)
            registry.write_text(json.dumps(sorted(map(str, known))))
        return known

    def key(
        self,
        spec: VariantSpec | None,
        config: Mapping[str, str | list[str]],
        build_env: str | None = None,
    ) -> str:
        inputs = {
            # The isolated build environment, named by its resolved set (buildenv.py).
            "build_env": build_env,
            "spec": dataclasses.asdict(spec) if spec else None,
            "config": dict(config),
            "env": {k: v for k, v in os.environ.items() if k not in _VOLATILE_ENV},
            # The environment, not the interpreter's path: `python -m polywheel` and the
            # `polywheel` script of one venv name the interpreter differently.
            "python": [sys.prefix, sys.version],
            "tools": self.tools,
        }
        return hashlib.sha256(json.dumps(inputs, sort_keys=True, default=str).encode()).hexdigest()

    def _manifest(self, name: str) -> dict[str, Any]:
        try:
            doc = json.loads((self.folder / name / "manifest.json").read_text())
        except (OSError, ValueError):
            return {}
        return doc if isinstance(doc, dict) else {}

    @staticmethod
    def _files(manifest: Mapping[str, Any]) -> dict[str, FileState]:
        return {n: FileState.from_json(row) for n, row in manifest.get("files", {}).items()}

    def _project(self) -> list[str]:
        files = project_files(self.root, self.excluded, self.outputs, self.build_patterns)
        return sorted(str(p) for p in files)

    def lookup(self, name: str, key: str) -> RawBuild | None:
        """The previous raw build, if it read exactly what this one would."""
        entry = self.folder / name
        manifest = self._manifest(name)
        wheels = list(entry.glob("*.whl"))
        if manifest.get("key") != key or len(wheels) != 1:
            return None
        report = BuildReport.read(report_path(entry))
        changed, hidden = changed_files(self._files(manifest))
        if changed:
            self._make_visible(hidden, report)
            return None
        if self._project() != manifest.get("project"):
            return None  # a file was added or removed
        return RawBuild(wheels[0], report)

    def _make_visible(self, hidden: list[str], report: BuildReport | None) -> None:
        """Changed files whose mtime did not move: make ninja rebuild what they feed."""
        outside = False
        for name in hidden:
            path = Path(name)
            if path.is_relative_to(self.root) and os.access(path, os.W_OK):
                os.utime(path)  # now: newer than every object built from it
            else:
                outside = True
        if outside and report is not None and report.values.get("binary_dir"):
            # A header outside the project changed under an old mtime: without its
            # dependency log, ninja recompiles every object.
            (Path(report.values["binary_dir"]) / ".ninja_deps").unlink(missing_ok=True)

    def store(self, name: str, key: str, raw: RawBuild) -> None:
        entry = self.folder / name
        known = self._files(self._manifest(name))
        shutil.rmtree(entry, ignore_errors=True)
        if raw.report is None:
            return
        project = self._project()
        inputs = collect_inputs(raw.report, map(Path, project), known)
        if inputs is None:
            return
        entry.mkdir(parents=True)
        shutil.copyfile(raw.wheel, entry / raw.wheel.name)
        report_path(entry).write_text(raw.report.render())
        manifest = {
            "key": key,
            "project": project,
            "files": {n: state.to_json() for n, state in inputs.items()},
        }
        # Written last: a partial entry never matches.
        (entry / "manifest.json").write_text(json.dumps(manifest))
