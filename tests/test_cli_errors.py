"""The command line on bad input and bad surroundings: one `polywheel: error: ...` line
naming the file, key or option, exit status 1, no traceback, nothing half-written.

Every case here fails before CMake runs, so no compiler is needed. The wheels are
made by hand (`fake_wheel`); a non-conforming one has an empty RECORD.
"""

from __future__ import annotations

import errno
import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest
from conftest import EXAMPLES, polywheel

from polywheel.cli import main
from polywheel.properties import VariantProperty
from polywheel.wheel.variant_json import dumps, make_variant_json
from polywheel.wheel.writer import record_hash

PLAIN = "pkg-1.0-cp311-cp311-linux_x86_64.whl"
LABELLED = "pkg-1.0-cp311-cp311-linux_x86_64-x86_64_v3.whl"
INDEX = "pkg-1.0-variants.json"


def fake_wheel(folder: Path, filename: str = PLAIN, *, record: bool = True) -> Path:
    """A small wheel carrying the variant.json of label x86_64_v3 (`record=False`: its
    RECORD is empty, so `polywheel check` refuses it)."""
    import zipfile

    dist_info = "pkg-1.0.dist-info"
    doc = make_variant_json(
        {"x86_64_v3": [VariantProperty("x86_64", "level", "v3")]},
        ["x86_64"],
        {"x86_64": {"requires": ["x86-64-variant-provider"]}},
        "variantlib",
    )
    members = {
        "pkg/__init__.py": b"X = 1\n",
        f"{dist_info}/METADATA": b"Metadata-Version: 2.1\nName: pkg\nVersion: 1.0\n",
        f"{dist_info}/WHEEL": b"Wheel-Version: 1.0\nRoot-Is-Purelib: false\n"
        b"Tag: cp311-cp311-linux_x86_64\n",
        f"{dist_info}/variant.json": dumps(doc),
    }
    lines = [f"{name},{record_hash(data)},{len(data)}" for name, data in members.items()]
    members[f"{dist_info}/RECORD"] = (
        "\n".join([*lines, f"{dist_info}/RECORD,,"]) + "\n" if record else ""
    ).encode()
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / filename
    with zipfile.ZipFile(path, "w") as zf:
        for name, data in members.items():
            zf.writestr(name, data)
    return path


def junk(path: Path) -> Path:
    """Random bytes under a wheel's name."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(os.urandom(512))
    return path


def error_line(proc: subprocess.CompletedProcess[str]) -> str:
    """The one error line: exit status 1, no traceback, exactly one `polywheel: error:`."""
    assert proc.returncode == 1, proc.stdout + proc.stderr
    assert "Traceback" not in proc.stderr, proc.stderr
    lines = [line for line in proc.stderr.splitlines() if line.startswith("polywheel: error: ")]
    assert len(lines) == 1, proc.stderr
    return lines[0]


def snapshot(folder: Path) -> dict[str, bytes]:
    """Every file under `folder` (hidden ones too) with its bytes."""
    return {
        str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()
    }


# --- 1. the output folder of `polywheel build` ------------------------------------------


def test_build_output_is_a_file(copy_project: Callable[[str], Path], tmp_path: Path) -> None:
    project = copy_project("simple_c")
    (tmp_path / "out").write_text("not a folder")
    line = error_line(polywheel("build", "-o", str(tmp_path / "out"), cwd=project, check=False))
    assert line == (
        f"polywheel: error: -o {tmp_path / 'out'} is a file; the output must be a folder "
        "(it is created if missing)"
    )
    assert (tmp_path / "out").read_text() == "not a folder"
    assert not (project / "build").exists(), "nothing was built"


def test_build_output_inside_a_file(copy_project: Callable[[str], Path], tmp_path: Path) -> None:
    # What a folder that cannot be created looks like to root, who may write anywhere.
    project = copy_project("simple_c")
    (tmp_path / "file").write_text("")
    out = tmp_path / "file" / "dist"
    line = error_line(polywheel("build", "-o", str(out), cwd=project, check=False))
    assert line == f"polywheel: error: cannot write {out}: Not a directory"
    assert not (project / "build").exists()


def test_build_output_folder_not_writable(
    copy_project: Callable[[str], Path],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    # Simulated: the tests run as root, whom a read-only folder does not stop. What is
    # covered is that the first write into the folder is tried before anything is
    # built, and how its failure is reported.
    import tempfile

    project = copy_project("simple_c")
    out = tmp_path / "dist"

    def read_only(*args: object, **kwargs: object) -> None:
        raise OSError(errno.EROFS, os.strerror(errno.EROFS), str(out / ".tmpabc"))

    monkeypatch.setattr(tempfile, "TemporaryFile", read_only)
    assert main(["build", str(project), "-o", str(out)]) == 1
    captured = capsys.readouterr()
    assert captured.err == f"polywheel: error: cannot write {out}: Read-only file system\n"
    assert not (project / "build").exists()


@pytest.mark.parametrize(
    ("filename", "shown"),
    [
        (None, "{out}"),  # a full disk: write() names no file
        ("{out}/.polywheel-123-abc.tmp", "{out}"),  # a scratch file: the folder is named
        ("{out}/pkg-1.0-variants.json", "{out}/pkg-1.0-variants.json"),
    ],
)
def test_build_write_failure_is_reported_at_the_boundary(
    copy_project: Callable[[str], Path],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    filename: str | None,
    shown: str,
) -> None:
    # Simulated: no disk can be filled here. The OSError comes from where the wheels
    # and the index are written, the scheduler (or a worker, which hands it back).
    from polywheel.pipeline import scheduler

    project = copy_project("simple_c")
    out = tmp_path / "dist"

    def disk_full(*args: object, **kwargs: object) -> None:
        where = None if filename is None else filename.format(out=out)
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), where)

    monkeypatch.setattr(scheduler, "build_matrix", disk_full)
    assert main(["build", str(project), "-o", str(out)]) == 1
    captured = capsys.readouterr()
    assert captured.err == (
        f"polywheel: error: cannot write {shown.format(out=out)}: No space left on device\n"
    )


# --- 2. a file where the project folder belongs -----------------------------------------


@pytest.mark.parametrize("command", ["build", "matrix"])
def test_project_path_is_a_file(
    copy_project: Callable[[str], Path], tmp_path: Path, command: str
) -> None:
    project = copy_project("simple_c")
    proc = polywheel(command, "simple_c/pyproject.toml", cwd=tmp_path, check=False)
    assert error_line(proc) == (
        f"polywheel: error: polywheel {command} takes the project folder; got a file: "
        "simple_c/pyproject.toml; use simple_c"
    )
    assert not (project / "build").exists() and not (tmp_path / "dist").exists()


def test_project_path_is_a_file_in_the_current_folder(copy_project: Callable[[str], Path]) -> None:
    project = copy_project("simple_c")
    proc = polywheel("matrix", "pyproject.toml", cwd=project, check=False)
    assert error_line(proc).endswith("got a file: pyproject.toml; use .")


@pytest.mark.parametrize("command", ["build", "matrix"])
def test_project_folder_missing(tmp_path: Path, command: str) -> None:
    proc = polywheel(command, "nowhere", cwd=tmp_path, check=False)
    assert error_line(proc) == (
        f"polywheel: error: polywheel {command} takes the project folder; nowhere does not exist"
    )
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize(
    ("content", "fragment"),
    [
        (None, "cannot read {path}: Is a directory"),
        (b"\xff\xfe[tool]\n", "{path} is not valid TOML: it is not UTF-8 text"),
    ],
)
def test_unreadable_pyproject(tmp_path: Path, content: bytes | None, fragment: str) -> None:
    path = tmp_path / "project" / "pyproject.toml"
    if content is None:
        path.mkdir(parents=True)
    else:
        path.parent.mkdir()
        path.write_bytes(content)
    proc = polywheel("matrix", "project", cwd=tmp_path, check=False)
    assert fragment.format(path=Path("project/pyproject.toml")) in error_line(proc)


# --- 3. relabel, repair, index on missing and corrupt input ------------------------------


@pytest.mark.parametrize("command", ["relabel", "repair"])
@pytest.mark.parametrize("name", [PLAIN, "notes.txt"])
def test_missing_wheel(tmp_path: Path, command: str, name: str) -> None:
    proc = polywheel(command, name, cwd=tmp_path, check=False)
    assert error_line(proc) == f"polywheel: error: no such file: {name}"
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("command", ["relabel", "repair"])
def test_folder_instead_of_a_wheel(tmp_path: Path, command: str) -> None:
    (tmp_path / PLAIN).mkdir()
    proc = polywheel(command, PLAIN, cwd=tmp_path, check=False)
    assert error_line(proc) == (
        f"polywheel: error: polywheel {command} takes wheel files; {PLAIN} is a folder"
    )


@pytest.mark.parametrize(
    "args", [["relabel", PLAIN], ["relabel", PLAIN, "-o", "out"], ["repair", LABELLED]]
)
def test_corrupt_wheel(tmp_path: Path, args: list[str]) -> None:
    junk(tmp_path / args[1])
    before = snapshot(tmp_path)
    line = error_line(polywheel(*args, cwd=tmp_path, check=False))
    assert line.startswith(f"polywheel: error: {args[1]}: ") and "not a zip archive" in line
    assert snapshot(tmp_path) == before, "nothing written, nothing removed"


def test_relabel_in_place_keeps_a_wheel_it_refuses(tmp_path: Path) -> None:
    wheel = fake_wheel(tmp_path, record=False)
    before = snapshot(tmp_path)
    line = error_line(polywheel("relabel", PLAIN, cwd=tmp_path, check=False))
    assert line == (
        f"polywheel: error: {PLAIN} does not conform, so it is not relabelled: "
        f"E8 {PLAIN}: pkg-1.0.dist-info/METADATA is not listed in RECORD"
    )
    assert snapshot(tmp_path) == before, "the input wheel is still there, unchanged"
    assert wheel.exists()


def test_relabel_copy_refused_writes_nothing(tmp_path: Path) -> None:
    fake_wheel(tmp_path, record=False)
    proc = polywheel("relabel", PLAIN, "-o", "out", cwd=tmp_path, check=False)
    assert "does not conform" in error_line(proc)
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize("second", ["missing", "refused"])
def test_relabel_checks_every_wheel_before_renaming_any(tmp_path: Path, second: str) -> None:
    fake_wheel(tmp_path / "a")
    if second == "refused":
        fake_wheel(tmp_path / "b", record=False)
    before = snapshot(tmp_path)
    proc = polywheel("relabel", f"a/{PLAIN}", f"b/{PLAIN}", cwd=tmp_path, check=False)
    error_line(proc)
    assert proc.stdout == ""
    assert snapshot(tmp_path) == before


def test_relabel_good_wheel(tmp_path: Path) -> None:
    fake_wheel(tmp_path)
    proc = polywheel("relabel", PLAIN, cwd=tmp_path)
    assert proc.stdout.strip() == LABELLED
    assert [p.name for p in tmp_path.iterdir()] == [LABELLED]


def test_repair_refusing_its_output_keeps_the_older_wheel(tmp_path: Path) -> None:
    # The stand-in repair tool copies the wheel; its empty RECORD does not conform.
    fake_wheel(tmp_path, LABELLED, record=False)
    (tmp_path / "wheelhouse").mkdir()
    (tmp_path / "wheelhouse" / LABELLED).write_bytes(b"an earlier, good wheel")
    script = "import shutil, sys; shutil.copy(sys.argv[1], sys.argv[2])"
    tool = [sys.executable, "-c", script, "{wheel}", "{dest_dir}"]
    proc = polywheel("repair", LABELLED, "--", *tool, cwd=tmp_path, check=False)
    assert "does not conform" in error_line(proc)
    assert snapshot(tmp_path / "wheelhouse") == {LABELLED: b"an earlier, good wheel"}


def test_index_missing_folder(tmp_path: Path) -> None:
    proc = polywheel("index", "nowhere", cwd=tmp_path, check=False)
    assert error_line(proc) == "polywheel: error: no such folder: nowhere"


def test_index_of_a_file(tmp_path: Path) -> None:
    fake_wheel(tmp_path, LABELLED)
    proc = polywheel("index", LABELLED, cwd=tmp_path, check=False)
    assert error_line(proc) == (
        f"polywheel: error: polywheel index takes the folder of the wheels; got a file: "
        f"{LABELLED}; use ."
    )


def test_index_with_a_corrupt_wheel_writes_nothing(tmp_path: Path) -> None:
    fake_wheel(tmp_path / "dist", LABELLED)
    junk(tmp_path / "dist" / LABELLED.replace("x86_64_v3", "x86_64_v4"))
    before = snapshot(tmp_path)
    line = error_line(polywheel("index", "dist", cwd=tmp_path, check=False))
    assert "pkg-1.0-cp311-cp311-linux_x86_64-x86_64_v4.whl: E0: not a zip archive" in line
    assert snapshot(tmp_path) == before


def test_index_that_cannot_be_written(tmp_path: Path) -> None:
    fake_wheel(tmp_path / "dist", LABELLED)
    (tmp_path / "dist" / INDEX).mkdir()  # the index file's name is taken by a folder
    proc = polywheel("index", "dist", cwd=tmp_path, check=False)
    assert error_line(proc) == f"polywheel: error: cannot write dist/{INDEX}: Is a directory"
    assert sorted(p.name for p in (tmp_path / "dist").iterdir()) == sorted([INDEX, LABELLED])


# --- 4. output into a closed pipe ---------------------------------------------------------


@pytest.mark.parametrize(
    "args",
    [
        ["matrix", str(EXAMPLES / "simd")],
        ["matrix", str(EXAMPLES / "simd"), "--json"],
        ["check", "dist"],
    ],
    ids=["matrix", "matrix-json", "check"],
)
@pytest.mark.parametrize("unbuffered", [True, False], ids=["unbuffered", "buffered"])
def test_closed_pipe_ends_quietly(tmp_path: Path, args: list[str], unbuffered: bool) -> None:
    fake_wheel(tmp_path / "dist", LABELLED)
    fake_wheel(tmp_path / "dist", record=False)
    env = {k: v for k, v in os.environ.items() if k != "PYTHONUNBUFFERED"}
    if unbuffered:
        env["PYTHONUNBUFFERED"] = "1"
    # Like `polywheel ... | head -0`: the reader is gone before the first line is written.
    with subprocess.Popen(
        [sys.executable, "-m", "polywheel", *args],
        cwd=tmp_path,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    ) as proc:
        assert proc.stdout is not None and proc.stderr is not None
        proc.stdout.close()
        stderr = proc.stderr.read()
        assert proc.wait(timeout=60) == 141, stderr
    assert stderr == ""


# --- 5-7. settings errors from the command line -------------------------------------------


def write_project(folder: Path, variants: str) -> Path:
    folder.mkdir()
    (folder / "pyproject.toml").write_text(
        '[project]\nname = "pkg"\nversion = "1.0"\n\n[tool.variants]\n' + variants
    )
    return folder


def test_invalid_dependency(tmp_path: Path) -> None:
    write_project(
        tmp_path / "p",
        '[[tool.variants.variant]]\nlabel = "v3"\nproperties = ["x86_64 :: level :: v3"]\n'
        'dependencies = ["numpy >=="]\n',
    )
    proc = polywheel("matrix", "p", cwd=tmp_path, check=False)
    assert error_line(proc) == (
        "polywheel: error: `tool.variants.variant[0].dependencies[0]`: 'numpy >==' is not a "
        "valid requirement (PEP 508): expected semicolon (after name with no version "
        "specifier) or end"
    )


def test_bad_env_name(tmp_path: Path) -> None:
    write_project(
        tmp_path / "p",
        '[[tool.variants.variant]]\nlabel = "v3"\nproperties = ["x86_64 :: level :: v3"]\n'
        'env = { "A B" = "x" }\n',
    )
    proc = polywheel("matrix", "p", cwd=tmp_path, check=False)
    assert error_line(proc) == (
        "polywheel: error: `tool.variants.variant[0].env.\"A B\"`: 'A B' is not an environment "
        "variable name: use letters, digits and _, not starting with a digit"
    )


@pytest.mark.parametrize("command", ["matrix", "build"])
def test_exclude_removing_everything(tmp_path: Path, command: str) -> None:
    project = write_project(
        tmp_path / "p",
        'exclude = [{ cpu = "v3" }]\n\n[tool.variants.axes.cpu]\n'
        'v3 = { properties = ["x86_64 :: level :: v3"] }\n',
    )
    proc = polywheel(command, "p", cwd=tmp_path, check=False)
    assert error_line(proc) == (
        "polywheel: error: `tool.variants.exclude`: excludes every combination of the axes "
        "(1 of 1), so [tool.variants.axes] adds no variant"
    )
    assert sorted(p.name for p in project.iterdir()) == ["pyproject.toml"]
    assert not (tmp_path / "dist").exists()


# --- 8. a corrupt wheel in the output folder of `polywheel build` -------------------------


@pytest.mark.parametrize(
    "name",
    ["simple_c-0.1.0-cp311-cp311-linux_x86_64-x86_64_v2.whl", "notes.whl"],
    ids=["corrupt-variant-wheel", "not-a-wheel-name"],
)
def test_build_refuses_an_output_folder_it_cannot_index(
    copy_project: Callable[[str], Path], name: str
) -> None:
    project = copy_project("simple_c")
    junk(project / "dist" / name)
    proc = polywheel("build", cwd=project, check=False)
    line = error_line(proc)
    assert line.startswith(f"polywheel: error: cannot index the output folder dist: {name}: ")
    assert "hint: polywheel build writes the index file from every variant wheel" in proc.stderr
    assert not (project / "build").exists(), "refused before anything was built"
    assert [p.name for p in (project / "dist").iterdir()] == [name]


@pytest.mark.compile
def test_build_replaces_a_corrupt_wheel_of_a_variant_it_builds(
    copy_project: Callable[[str], Path],
) -> None:
    # The wheel this build writes under the same name replaces the corrupt one, so the
    # folder can be indexed after all: not refused.
    import sysconfig
    import zipfile

    python = f"cp{sys.version_info.major}{sys.version_info.minor}"
    platform = sysconfig.get_platform().replace("-", "_").replace(".", "_")
    name = f"simple_c-0.1.0-{python}-{python}-{platform}-x86_64_v3.whl"
    project = copy_project("simple_c")
    stale = junk(project / "dist" / name)
    proc = polywheel("build", "--variant", "x86_64_v3", cwd=project)
    assert "Traceback" not in proc.stderr
    assert zipfile.is_zipfile(stale), "replaced by the new build"


# --- 8. more of the same family -----------------------------------------------------------


def test_audit_missing_path(tmp_path: Path) -> None:
    proc = polywheel("audit", PLAIN, "dist", cwd=tmp_path, check=False)
    assert error_line(proc) == f"polywheel: error: no such file or folder: {PLAIN}, dist"


def test_audit_folder_without_wheels(tmp_path: Path) -> None:
    # It used to print an empty line and exit 0: a CI step auditing the wrong folder passed.
    (tmp_path / "dist").mkdir()
    proc = polywheel("audit", "dist", cwd=tmp_path, check=False)
    assert error_line(proc) == "polywheel: error: no wheels to audit in dist"


def test_relabel_the_same_wheel_twice(tmp_path: Path) -> None:
    fake_wheel(tmp_path)
    proc = polywheel("relabel", PLAIN, f"./{PLAIN}", cwd=tmp_path)
    assert proc.stdout.strip() == LABELLED
    assert [p.name for p in tmp_path.iterdir()] == [LABELLED]
