"""An unchanged variant is reused only when nothing its build read has changed.

Each test builds one variant, changes one input the way real life does (an edit that
keeps size and mtime, a file under a folder named `dist`, a symlink, an output folder
inside the sources, a header outside the project, an environment variable the
CMakeLists reads, a new git tag), builds again, and checks that the new wheel holds
the change.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import zipfile
from collections.abc import Callable
from pathlib import Path

import pytest
from conftest import needs, polywheel

pytestmark = pytest.mark.compile

V1 = ("build", "--variant", "x86_64_v1", "--no-plain")
TAG = 'static const char tag[] __attribute__((used)) = "tag-{}";\n'


def tagged(copy_project: Callable[[str], Path], tag: str = "AAAA") -> Path:
    project = copy_project("simple_c")
    source = project / "src" / "_core.c"
    source.write_text(source.read_text() + TAG.format(tag))
    return project


def wheel_bytes(dist: Path) -> bytes:
    (wheel,) = dist.glob("*-x86_64_v1.whl")
    with zipfile.ZipFile(wheel) as zf:
        return b"".join(zf.read(n) for n in sorted(zf.namelist()))


def edit_keeping_size_and_mtime(path: Path, old: str, new: str) -> None:
    assert len(old) == len(new)
    before = path.stat()
    path.write_text(path.read_text().replace(old, new))
    os.utime(path, ns=(before.st_atime_ns, before.st_mtime_ns))
    assert path.stat().st_size == before.st_size


def build(project: Path, out: str = "dist", env: dict[str, str] | None = None) -> str:
    return polywheel(*V1, "-o", out, cwd=project, env=env).stdout


def test_unchanged_inputs_are_reused(copy_project: Callable[[str], Path]) -> None:
    project = tagged(copy_project)
    build(project)
    assert "unchanged since the last build, reusing it" in build(project)


def test_an_edit_that_keeps_size_and_mtime_is_built(copy_project: Callable[[str], Path]) -> None:
    project = tagged(copy_project)
    build(project)
    edit_keeping_size_and_mtime(project / "src" / "_core.c", "tag-AAAA", "tag-BBBB")
    assert "unchanged" not in build(project)
    # ninja trusts mtimes too: the object must really have been compiled again.
    assert b"tag-BBBB" in wheel_bytes(project / "dist")


def test_files_under_a_folder_named_dist_count(copy_project: Callable[[str], Path]) -> None:
    project = tagged(copy_project)
    data = project / "src" / "simple_c" / "dist" / "data.txt"
    data.parent.mkdir()
    data.write_text("data-one")
    build(project, out="wheels")
    edit_keeping_size_and_mtime(data, "data-one", "data-two")
    assert "unchanged" not in build(project, out="wheels")
    assert b"data-two" in wheel_bytes(project / "wheels")


def test_a_symlinked_file_counts(copy_project: Callable[[str], Path]) -> None:
    project = tagged(copy_project)
    shared = project / "shared.txt"
    shared.write_text("shared-one")
    (project / "src" / "simple_c" / "linked.txt").symlink_to(Path("../..") / "shared.txt")
    build(project)
    edit_keeping_size_and_mtime(shared, "shared-one", "shared-two")
    assert "unchanged" not in build(project)
    assert b"shared-two" in wheel_bytes(project / "dist")


def test_an_output_folder_inside_the_sources_hides_nothing(
    copy_project: Callable[[str], Path],
) -> None:
    project = tagged(copy_project)
    build(project, out="src/wheels")
    edit_keeping_size_and_mtime(project / "src" / "_core.c", "tag-AAAA", "tag-CCCC")
    assert "unchanged" not in build(project, out="src/wheels")
    assert b"tag-CCCC" in wheel_bytes(project / "src" / "wheels")
    # The wheels written there are outputs, not inputs: the next run reuses the build.
    assert "unchanged since the last build" in build(project, out="src/wheels")


def test_a_header_outside_the_project_counts(
    copy_project: Callable[[str], Path], tmp_path: Path
) -> None:
    project = copy_project("simple_c")
    include = tmp_path / "outside" / "include"
    include.mkdir(parents=True)
    header = include / "outside.h"
    header.write_text('static const char outside[] __attribute__((used)) = "out-AAAA";\n')
    source = project / "src" / "_core.c"
    source.write_text('#include "outside.h"\n' + source.read_text())
    env = {"CPATH": str(include)}
    build(project, env=env)
    edit_keeping_size_and_mtime(header, "out-AAAA", "out-BBBB")
    assert "unchanged" not in build(project, env=env)
    assert b"out-BBBB" in wheel_bytes(project / "dist")


def test_an_environment_variable_the_project_reads_counts(
    copy_project: Callable[[str], Path],
) -> None:
    project = copy_project("simple_c")
    cmake = project / "CMakeLists.txt"
    cmake.write_text(
        cmake.read_text()
        + 'target_compile_definitions(_core PRIVATE "SIMPLE_ENV_TAG=\\"$ENV{SIMPLE_ENV_TAG}\\"")\n'
    )
    source = project / "src" / "_core.c"
    source.write_text(
        source.read_text() + "static const char env_tag[] __attribute__((used)) = SIMPLE_ENV_TAG;\n"
    )
    build(project, env={"SIMPLE_ENV_TAG": "env-one"})
    assert "unchanged" not in build(project, env={"SIMPLE_ENV_TAG": "env-two"})
    assert b"env-two" in wheel_bytes(project / "dist")


@needs("git")
def test_a_new_git_tag_counts(copy_project: Callable[[str], Path]) -> None:
    """setuptools_scm and its kind compute the version from tags."""
    project = tagged(copy_project)
    git = shutil.which("git")
    assert git is not None

    def run(*args: str) -> None:
        subprocess.run(
            [git, "-c", "user.name=t", "-c", "user.email=t@t", *args],
            cwd=project,
            check=True,
            capture_output=True,
        )

    run("init", "-q")
    run("add", "-A")
    run("commit", "-q", "-m", "one")
    build(project)
    assert "unchanged since the last build" in build(project)
    run("tag", "v0.2.0")
    assert "unchanged" not in build(project)
