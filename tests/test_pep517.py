"""The PEP 517 hooks through real frontends: python -m build and pip."""

from __future__ import annotations

import json
import sys
from collections.abc import Callable
from pathlib import Path

import pytest
from conftest import run
from wheel_utils import read_all_verified, variant_json

pytestmark = pytest.mark.compile


def build(project: Path, *args: str, check: bool = True):  # type: ignore[no-untyped-def]
    return run(
        [sys.executable, "-m", "build", "--no-isolation", "--outdir", "dist", *args],
        cwd=project,
        check=check,
    )


def names(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir()) if folder.exists() else []


def test_no_selection_builds_the_plain_wheel(copy_project: Callable[[str], Path]) -> None:
    project = copy_project("simple_c")
    build(project, "--wheel")
    (wheel,) = (project / "dist").glob("*.whl")
    assert wheel.name.endswith("-linux_x86_64.whl")
    assert variant_json(wheel) is None
    # No jobserver here: ninja's jobs run without polywheel's slot launcher.
    (rules,) = (project / "build").glob("*/*/CMakeFiles/rules.ninja")
    assert "job-slot" not in rules.read_text()


def test_one_label(copy_project: Callable[[str], Path]) -> None:
    project = copy_project("simple_c")
    proc = build(project, "--wheel", "-C", "variant-label=x86_64_v3")
    (wheel,) = (project / "dist").glob("*.whl")
    assert wheel.name.endswith("-linux_x86_64-x86_64_v3.whl")
    assert wheel.name in proc.stdout
    doc = variant_json(wheel)
    assert doc is not None and doc["variants"] == {"x86_64_v3": {"x86_64": {"level": ["v3"]}}}


def test_all_labels_and_sdist_route(copy_project: Callable[[str], Path]) -> None:
    project = copy_project("simple_c")
    build(project, "-C", "variant-label=:all:")  # sdist, then wheels from the sdist
    found = names(project / "dist")
    assert [n for n in found if n.endswith(".tar.gz")] == ["simple_c-0.1.0.tar.gz"]
    labels = sorted(n[:-4].rsplit("-", 1)[1] for n in found if n.endswith(".whl"))
    assert labels == ["x86_64_v1", "x86_64_v3", "x86_64_v4"]
    for wheel in (project / "dist").glob("*.whl"):
        read_all_verified(wheel)


def test_property_alias_selects_the_matching_label(copy_project: Callable[[str], Path]) -> None:
    project = copy_project("simple_c")
    build(project, "--wheel", "-C", "variant=x86_64::level::v4")
    (wheel,) = (project / "dist").glob("*.whl")
    assert wheel.name.endswith("-x86_64_v4.whl")


def test_unknown_label_fails_cleanly(copy_project: Callable[[str], Path]) -> None:
    project = copy_project("simple_c")
    proc = build(project, "--wheel", "-C", "variant-label=x86_64_v2", check=False)
    assert proc.returncode != 0
    assert "unknown -C variant-label 'x86_64_v2'" in proc.stderr + proc.stdout
    assert "x86_64_v1" in proc.stderr + proc.stdout
    assert not list((project / "dist").glob("*.whl"))


def test_null_without_null_variant(copy_project: Callable[[str], Path]) -> None:
    project = copy_project("simple_c")
    proc = build(project, "--wheel", "-C", "variant-label=null", check=False)
    assert proc.returncode != 0
    assert "declares none" in proc.stderr + proc.stdout


def test_pip_wheel_gives_the_plain_wheel(
    copy_project: Callable[[str], Path], tmp_path: Path
) -> None:
    project = copy_project("simple_c")
    out = tmp_path / "pipout"
    run(
        [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            "--no-build-isolation",
            "--no-deps",
            "-w",
            str(out),
            ".",
        ],
        cwd=project,
    )
    (wheel,) = out.glob("*.whl")
    assert wheel.name.endswith("-linux_x86_64.whl") and variant_json(wheel) is None


def test_prepare_metadata_agrees_with_build(
    copy_project: Callable[[str], Path], tmp_path: Path
) -> None:
    from pyproject_hooks import BuildBackendHookCaller

    project = copy_project("simple_c")
    hooks = BuildBackendHookCaller(str(project), "polywheel.build")
    settings = {"variant-label": "x86_64_v4"}
    meta = tmp_path / "meta"
    meta.mkdir()
    dist_info = hooks.prepare_metadata_for_build_wheel(str(meta), config_settings=settings)
    assert (meta / dist_info / "variant.json").is_file()
    assert "Requires-Dist: packaging" in (meta / dist_info / "METADATA").read_text()
    out = tmp_path / "out"
    out.mkdir()
    name = hooks.build_wheel(
        str(out), config_settings=settings, metadata_directory=str(meta / dist_info)
    )
    wheel = out / name
    assert (meta / dist_info / "variant.json").read_bytes() == read_all_verified(wheel)[
        f"{dist_info}/variant.json"
    ]


def test_editable_install(copy_project: Callable[[str], Path], tmp_path: Path) -> None:
    project = copy_project("simple_c")
    out = tmp_path / "ed"
    from pyproject_hooks import BuildBackendHookCaller

    hooks = BuildBackendHookCaller(str(project), "polywheel.build")
    name = hooks.build_editable(str(out), config_settings={"variant-label": "x86_64_v3"})
    assert name.endswith("-linux_x86_64.whl"), "editable wheels carry no label"
    assert variant_json(out / name) is None


def test_sdist_marks_requires_dist_dynamic(copy_project: Callable[[str], Path]) -> None:
    import tarfile

    project = copy_project("simple_c")
    build(project, "--sdist")
    with tarfile.open(project / "dist" / "simple_c-0.1.0.tar.gz") as tar:
        pkg_info = tar.extractfile("simple_c-0.1.0/PKG-INFO")
        assert pkg_info is not None
        text = pkg_info.read().decode()
    # The x86_64_v4 variant adds a dependency the sdist cannot know about.
    assert "Dynamic: Requires-Dist" in text.split("\n\n", 1)[0]


def test_get_requires_reads_the_matrix_only_where_it_can_add_to_the_answer(
    copy_project: Callable[[str], Path],
) -> None:
    """The frontend starts a process for the hook: without a selection and without any
    `build-requires`, scikit-build-core's answer is the whole answer, and polywheel's
    settings are not even imported."""
    project = copy_project("simple_c")
    code = (
        "import json, sys, polywheel.build as b\n"
        "print(json.dumps([b.get_requires_for_build_wheel(json.loads(sys.argv[1])),"
        " 'polywheel.settings' in sys.modules]))"
    )

    def ask(settings: dict[str, str]) -> tuple[list[str], bool]:
        out = run([sys.executable, "-c", code, json.dumps(settings)], cwd=project).stdout
        requires, loaded = json.loads(out.splitlines()[-1])
        return requires, loaded

    base, loaded = ask({})
    assert not loaded and "cython" not in base
    assert ask({"variant-label": "x86_64_v3"}) == (base, True)
    pyproject = project / "pyproject.toml"
    pyproject.write_text(
        pyproject.read_text().replace(
            'properties = ["x86_64 :: level :: v1"]',
            'properties = ["x86_64 :: level :: v1"]\nbuild-requires = ["cython"]',
        )
    )
    assert ask({}) == ([*base, "cython"], True)
    assert ask({"variant-label": "x86_64_v3"}) == (base, True)


def test_a_build_finds_cmake_and_numpys_headers_without_importing_their_packages(
    copy_project: Callable[[str], Path],
) -> None:
    # scikit-build-core imports them in every build only for these paths (~20 and ~60 ms
    # of each build); polywheel finds the same ones where the packages are installed.
    numpy = pytest.importorskip("numpy")
    import cmake

    project = copy_project("simple_c")
    code = (
        "import sys, polywheel.build as b; b.build_wheel('dist'); "
        "print('numpy' in sys.modules, 'cmake' in sys.modules)"
    )
    proc = run([sys.executable, "-c", code], cwd=project)
    assert proc.stdout.splitlines()[-1] == "False False"
    (cache,) = (project / "build").glob("*/*/CMakeCache.txt")
    entries = cache.read_text().splitlines()
    assert sorted(line for line in entries if "_NumPy_INCLUDE_DIR" in line) == [
        f"Python3_NumPy_INCLUDE_DIR:PATH={numpy.get_include()}",
        f"Python_NumPy_INCLUDE_DIR:PATH={numpy.get_include()}",
    ]
    assert f"CMAKE_COMMAND:INTERNAL={cmake.CMAKE_BIN_DIR}/cmake" in entries


def test_a_hook_writes_its_wheel_without_the_digest_of_a_written_record(
    copy_project: Callable[[str], Path],
) -> None:
    # A hook keeps no record of what it writes (pipeline/written.py): it has no cache
    # entry to keep one in, so it does not pay for the digest a record is keyed on.
    project = copy_project("simple_c")
    code = (
        "import polywheel.build as b, polywheel.pipeline.written as w\n"
        "def refuse(*args, **kwargs):\n"
        "    raise AssertionError('a PEP 517 hook computed a written-record plan')\n"
        "w.plan_digest = refuse\n"
        "print(b.build_wheel('dist'))\n"
    )
    proc = run([sys.executable, "-c", code], cwd=project)
    assert (project / "dist" / proc.stdout.splitlines()[-1]).is_file()
