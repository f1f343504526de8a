"""What one variant's build read, and whether any of it changed since.

The inputs are taken from what knows them, not guessed:
- ninja's dependency log (`ninja -t deps`: every source and header each object was
  compiled from, system and dependency headers included) and its graph
  (`ninja -t inputs`: sources and libraries the link steps name);
- CMake's re-run check (the implicit inputs of the `RERUN_CMAKE` rule in build.ninja:
  every CMakeLists.txt and module the configure step read);
- the compilers CMake used;
- the project's files, for what scikit-build-core packs and the metadata step reads
  (everything but build trees, virtual environments, polywheel's own output and what
  the packer leaves out: `__pycache__`, `*.pyc`, VCS internals other than refs and tags).

Each file is recorded with its content hash. A file counts as unchanged when its
inode, size, change time (ctime, which no tool can set back) and mtime are as
recorded, or else when its content hashes the same. A file whose content changed
while its mtime did not move forward ("mtimes lie": `touch -r`, restored caches) is
reported, so the caller can make ninja see it.
"""

from __future__ import annotations

import dataclasses
import fnmatch
import os
import re
import subprocess
from collections.abc import Iterable, Iterator, Mapping
from pathlib import Path

from polywheel.cmake.report import BuildReport
from polywheel.filehash import sha256_of

__all__ = [
    "Checked",
    "FileState",
    "Inputs",
    "changed_files",
    "collect_inputs",
    "file_state",
    "project_files",
]

_PACKER_SKIPS = {"__pycache__", ".tox", ".nox", "__pypackages__"}
_VCS = {".git", ".hg", ".svn"}


def _is_output(name: str) -> bool:
    """What polywheel writes into an output folder: wheels, index files, scratch."""
    return name.endswith((".whl", "-variants.json")) or name.startswith(".polywheel-")


@dataclasses.dataclass(frozen=True)
class FileState:
    ino: int
    size: int
    ctime_ns: int
    mtime_ns: int
    sha256: str

    def to_json(self) -> list[int | str]:
        return [self.ino, self.size, self.ctime_ns, self.mtime_ns, self.sha256]

    @classmethod
    def from_json(cls, row: list[int | str]) -> FileState:
        ino, size, ctime_ns, mtime_ns, sha256 = row
        return cls(int(ino), int(size), int(ctime_ns), int(mtime_ns), str(sha256))


Inputs = dict[str, FileState]


# The states hashed by this process: the variants of one matrix read the same
# compilers, headers and CMake modules, and each build's record would hash them again.
_hashed: dict[tuple[str, int, int, int, int], FileState] = {}
_HASHED_LIMIT = 200_000


def file_state(path: Path, known: FileState | None) -> FileState | None:
    """The file's state now; its hash is reused when nothing about the file moved
    (since `known` was recorded, or since this process hashed it)."""
    try:
        st = path.stat()
    except OSError:
        return None
    now = (st.st_ino, st.st_size, st.st_ctime_ns, st.st_mtime_ns)
    if known is not None and now == (known.ino, known.size, known.ctime_ns, known.mtime_ns):
        return known
    seen = _hashed.get((str(path), *now))
    if seen is not None:
        return seen
    try:
        state = FileState(*now, sha256_of(path))
    except OSError:
        return None
    if len(_hashed) >= _HASHED_LIMIT:
        _hashed.clear()
    _hashed[(str(path), *now)] = state
    return state


def project_files(
    root: Path,
    excluded: Iterable[Path],
    output_folders: Iterable[Path] = (),
    build_patterns: Iterable[str] = (),
) -> Iterator[Path]:
    """The project's files (symlinks followed), without build trees (folders holding a
    CMakeCache.txt or matching a `build_patterns` glob), virtual environments, excluded
    folders, what the wheel packer leaves out, and polywheel's own output in the folders
    it wrote to (wherever `-o` pointed: other files there still count)."""
    skip = {p.resolve() for p in excluded}
    outputs = {p.resolve() for p in output_folders}
    patterns = [p.strip("/") for p in build_patterns]
    top = root.resolve()
    seen: set[Path] = set()
    stack = [root.resolve()]
    while stack:
        folder = stack.pop()
        if folder in seen or folder in skip:
            continue
        seen.add(folder)
        relative = folder.relative_to(top).as_posix() if folder.is_relative_to(top) else ""
        if folder != top and (
            (folder / "CMakeCache.txt").is_file()
            or (folder / "pyvenv.cfg").is_file()
            or any(fnmatch.fnmatchcase(relative, p) for p in patterns)
        ):
            continue  # a build tree or a virtual environment: not sources
        try:
            entries = list(os.scandir(folder))
        except OSError:
            continue
        output_folder = folder in outputs
        for entry in entries:
            path = Path(entry.path)
            if entry.name in _VCS:
                yield from _vcs_refs(path)
            elif entry.is_dir():
                if not (
                    entry.name in _PACKER_SKIPS
                    or entry.name.endswith(".egg-info")
                    or (output_folder and _is_output(entry.name))
                ):
                    stack.append(path.resolve())
            elif (
                entry.is_file()
                and not entry.name.endswith(".pyc")
                and not (output_folder and _is_output(entry.name))
            ):
                yield path


def _vcs_refs(vcs: Path) -> Iterator[Path]:
    """What a version computed from the repository (setuptools_scm) reads: HEAD, tags."""
    for name in ("HEAD", "packed-refs"):
        if (vcs / name).is_file():
            yield vcs / name
    refs = vcs / "refs"
    if refs.is_dir():
        yield from (p for p in refs.rglob("*") if p.is_file())


def _unescape_ninja(text: str) -> list[str]:
    """Split a build.ninja path list on unescaped spaces ($ escapes space, : and $)."""
    return [re.sub(r"\$([ :$])", r"\1", part) for part in re.split(r"(?<!\$) ", text) if part]


def _ninja_inputs(build_dir: Path, ninja: str) -> set[Path] | None:
    found: set[Path] = set()
    for tool in ("deps", "inputs"):
        try:
            out = subprocess.run(
                [ninja, "-C", str(build_dir), "-t", tool],
                capture_output=True,
                text=True,
                check=True,
                timeout=120,
            ).stdout
        except (OSError, subprocess.SubprocessError):
            return None
        for line in out.splitlines():
            if tool == "deps" and not line.startswith("    "):
                continue
            found.add(build_dir / line.strip())
    manifest = (build_dir / "build.ninja").read_text(errors="replace")
    for match in re.finditer(r"^build build\.ninja.*?: RERUN_CMAKE \| (.*)$", manifest, re.M):
        found |= {build_dir / p for p in _unescape_ninja(match.group(1))}
    return found


def collect_inputs(
    report: BuildReport, project: Iterable[Path], previous: Mapping[str, FileState]
) -> Inputs | None:
    """Every file the build read (`project`: the project's files), with its state; None
    when they cannot be known (a generator other than Ninja): such a build is never
    reused. `previous` states spare hashing files that did not move."""
    values = report.values
    build_dir = Path(values.get("binary_dir", ""))
    ninja = values.get("make_program", "")
    if values.get("generator") != "Ninja" or not build_dir.is_dir() or not ninja:
        return None
    read = _ninja_inputs(build_dir, ninja)
    if read is None:
        return None
    read |= {Path(values[k]) for k in values if k.endswith("_compiler") and values[k]}
    build_tree = build_dir.resolve()
    paths = {p.resolve() for p in read if p.name != "."}
    paths = {p for p in paths if not p.is_relative_to(build_tree) and p.is_file()}
    paths |= set(project)
    inputs: Inputs = {}
    for path in sorted(paths):
        state = file_state(path, previous.get(str(path)))
        if state is not None:
            inputs[str(path)] = state
    return inputs


Checked = dict[tuple[str, FileState], "FileState | None"]


def changed_files(
    recorded: Mapping[str, FileState], checked: Checked | None = None
) -> tuple[list[str], list[str]]:
    """(files whose content changed or that are gone, those of them whose mtime did not
    move forward, so that ninja would not see the change). `checked`: the states found
    for the files of other records of one run (the variants of a matrix read mostly
    the same headers and compilers), each file looked at once."""
    changed, hidden = [], []
    seen: Checked = {} if checked is None else checked
    for name, known in recorded.items():
        if (name, known) in seen:
            now = seen[name, known]
        else:
            now = seen[name, known] = file_state(Path(name), known)
        if now is None:
            changed.append(name)
        elif now.sha256 != known.sha256:
            changed.append(name)
            if now.mtime_ns <= known.mtime_ns:
                hidden.append(name)
    return changed, hidden
