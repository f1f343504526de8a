"""Skip a variant whose build would read exactly what its last one read.

CMake's own incremental build still costs a configure step, a no-op compile, an
install and a wheel per variant. When nothing the compiler, CMake or the metadata step
saw has changed, the previous raw wheel is reused outright. "Nothing" means:
- the same key: the variant's settings, the config-settings, the whole environment
  (less shell bookkeeping such as PWD), the interpreter, polywheel's own files (not
  only its version) and the versions of scikit-build-core, CMake and ninja;
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
from pathlib import Path
from typing import Any

from polywheel import __version__
from polywheel.cmake.report import BuildReport, RawBuild, report_path
from polywheel.cmake.runner import variant_build_dir
from polywheel.fingerprint import code_digest, environment, installed_version
from polywheel.matrix.spec import VariantSpec
from polywheel.pipeline import written
from polywheel.pipeline.inputs import (
    Checked,
    FileState,
    changed_files,
    collect_inputs,
    file_state,
    project_files,
)
from polywheel.project import Project

__all__ = ["BuildCache"]

# The record of the wheels written from an entry's raw build (pipeline/written.py).
_WRITTEN = "written.json"


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
        tools = ("scikit-build-core", "cmake", "ninja")
        self.tools = [__version__, code_digest(), *map(installed_version, tools)]
        # What the lookups found, which all happen before any build of the run: each
        # input's state, and the project's files.
        self._checked: Checked = {}
        self._project_now: list[str] | None = None
        self._recorded: dict[str, written.Record | None] = {}

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
            "env": environment(),
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
        changed, hidden = changed_files(self._files(manifest), self._checked)
        if changed:
            self._make_visible(hidden, report)
            return None
        if self._project_now is None:
            self._project_now = self._project()
        if self._project_now != manifest.get("project"):
            return None  # a file was added or removed
        self._recorded[name] = written.read(entry / _WRITTEN)
        return RawBuild(wheels[0], report)

    def recorded(self, name: str) -> written.Record | None:
        """The record of the wheels written from the raw build `lookup` found."""
        return self._recorded.get(name)

    def remember(self, name: str, raw: RawBuild, kept: written.Record | None) -> None:
        """Keep the record of the wheels written from a reused raw build (one recalled
        is kept already)."""
        if kept is not None and kept is not self._recorded.get(name):
            self._keep_record(self.folder / name, raw.wheel, kept)

    @staticmethod
    def _keep_record(entry: Path, raw_wheel: Path, kept: written.Record) -> None:
        """Keep `kept` in `entry` with the state of the raw wheel kept there."""
        state = file_state(raw_wheel, None)
        if state is not None:
            written.write(entry / _WRITTEN, dataclasses.replace(kept, raw=state))

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

    def store(self, name: str, key: str, raw: RawBuild, kept: written.Record | None) -> None:
        """Keep a raw build just made, with the record of the wheels written from it."""
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
        if kept is not None:
            self._keep_record(entry, entry / raw.wheel.name, kept)
        manifest = {
            "key": key,
            "project": project,
            "files": {n: state.to_json() for n, state in inputs.items()},
        }
        # Written last: a partial entry never matches.
        (entry / "manifest.json").write_text(json.dumps(manifest))
