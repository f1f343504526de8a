"""`polywheel build` on real CMake projects: wheels, variant.json, flags, index."""

from __future__ import annotations

import hashlib
import json
import shutil
from collections.abc import Callable
from pathlib import Path

import pytest
from conftest import polywheel
from wheel_utils import (
    call_in_wheel,
    metadata,
    read_all_verified,
    record_lines,
    skip_unless_host_runs,
    variant_json,
)

pytestmark = pytest.mark.compile
LEVELS = ("v1", "v3", "v4")


@pytest.fixture(scope="module")
def simple_build(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path, str]:
    root = tmp_path_factory.mktemp("simple") / "simple_c"
    shutil.copytree(Path(__file__).parent / "packages" / "simple_c", root)
    proc = polywheel(
        "build", "-o", "dist", "-j", "2", cwd=root, env={"SOURCE_DATE_EPOCH": "1700000000"}
    )
    return root, root / "dist", proc.stdout


def _wheels(dist: Path) -> dict[str | None, Path]:
    out: dict[str | None, Path] = {}
    for wheel in dist.glob("*.whl"):
        parts = wheel.name[:-4].split("-")
        out[parts[5] if len(parts) == 6 else None] = wheel
    return out


def test_one_wheel_per_variant_plus_plain_and_index(simple_build: tuple[Path, Path, str]) -> None:
    _root, dist, _out = simple_build
    wheels = _wheels(dist)
    assert sorted(wheels, key=str) == [None, "x86_64_v1", "x86_64_v3", "x86_64_v4"]
    assert sorted(p.name for p in dist.iterdir() if not p.name.endswith(".whl")) == [
        "simple_c-0.1.0-variants.json"
    ]
    assert not list(dist.glob(".*")), "no staging leftovers in the output folder"


def test_variant_json_matches_filename_and_record(simple_build: tuple[Path, Path, str]) -> None:
    _root, dist, _out = simple_build
    for label, wheel in _wheels(dist).items():
        contents = read_all_verified(wheel)  # raises on any RECORD hash mismatch
        doc = variant_json(wheel)
        if label is None:
            assert doc is None, "the plain wheel must not carry variant.json"
            continue
        assert doc is not None
        assert list(doc["variants"]) == [label]
        level = label.rsplit("_", 1)[1]
        assert doc["variants"][label] == {"x86_64": {"level": [level]}}
        assert doc["default-priorities"] == {"namespace": ["x86_64"]}
        assert doc["providers"] == {"x86_64": {"requires": ["x86-64-variant-provider"]}}
        assert any(
            line.startswith("simple_c-0.1.0.dist-info/variant.json,sha256=")
            for line in record_lines(wheel)
        )
        assert "simple_c-0.1.0.dist-info/variant.json" in contents


def test_index_file_lists_every_label(simple_build: tuple[Path, Path, str]) -> None:
    _root, dist, _out = simple_build
    index = json.loads((dist / "simple_c-0.1.0-variants.json").read_text())
    assert sorted(index["variants"]) == ["x86_64_v1", "x86_64_v3", "x86_64_v4"]
    for label, wheel in _wheels(dist).items():
        if label:
            doc = variant_json(wheel)
            assert doc is not None
            assert index["variants"][label] == doc["variants"][label]


@pytest.mark.parametrize(
    ("label", "avx2", "avx512"),
    [("x86_64_v1", False, False), ("x86_64_v3", True, False), ("x86_64_v4", True, True)],
)
def test_flags_reached_the_compiler(
    simple_build: tuple[Path, Path, str], tmp_path: Path, label: str, avx2: bool, avx512: bool
) -> None:
    _root, dist, _out = simple_build
    wheels = _wheels(dist)
    skip_unless_host_runs(label)
    features = call_in_wheel(wheels[label], tmp_path, "__import__('simple_c').features()")
    assert features == {"label": label, "avx2": avx2, "avx512f": avx512}


def test_plain_wheel_runs_the_v1_build(
    simple_build: tuple[Path, Path, str], tmp_path: Path
) -> None:
    _root, dist, _out = simple_build
    plain = call_in_wheel(_wheels(dist)[None], tmp_path, "__import__('simple_c').features()")
    assert plain == {"label": "x86_64_v1", "avx2": False, "avx512f": False}


def test_plain_wheel_reuses_the_v1_build(simple_build: tuple[Path, Path, str]) -> None:
    _root, dist, out = simple_build
    wheels = _wheels(dist)
    plain, v1 = read_all_verified(wheels[None]), read_all_verified(wheels["x86_64_v1"])
    so = [n for n in plain if n.endswith(".so")]
    assert len(so) == 1 and plain[so[0]] == v1[so[0]]
    assert "(plain)" in out and "reused" in out


def test_per_variant_dependencies(simple_build: tuple[Path, Path, str]) -> None:
    _root, dist, _out = simple_build
    wheels = _wheels(dist)
    assert "Requires-Dist: packaging" in metadata(wheels["x86_64_v4"])
    assert "Requires-Dist" not in metadata(wheels["x86_64_v3"])
    assert "Requires-Dist" not in metadata(wheels[None])


def test_each_variant_has_its_own_build_dir(simple_build: tuple[Path, Path, str]) -> None:
    root, _dist, _out = simple_build
    # The project sets build-dir = "build/{wheel_tag}"; polywheel appends the label.
    caches = sorted(p.parent.name for p in (root / "build").glob("*/*/CMakeCache.txt"))
    assert caches == ["x86_64_v1", "x86_64_v3", "x86_64_v4"]


def test_reproducible_across_checkouts(
    simple_build: tuple[Path, Path, str], tmp_path: Path
) -> None:
    _root, dist, _out = simple_build
    again = tmp_path / "elsewhere" / "simple_c"
    shutil.copytree(Path(__file__).parent / "packages" / "simple_c", again)
    polywheel("build", "-o", "dist", cwd=again, env={"SOURCE_DATE_EPOCH": "1700000000"})

    def digests(folder: Path) -> dict[str, str]:
        return {
            p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(folder.iterdir())
        }

    assert digests(dist) == digests(again / "dist")


def test_reproducible_across_checkouts_with_file_paths_in_the_code(
    copy_project: Callable[[str], Path], tmp_path: Path
) -> None:
    """__FILE__ (and assert messages) would embed each checkout's own folder."""
    built = []
    for where in ("one", "two/deeper"):
        project = tmp_path / where / "simple_c"
        shutil.copytree(Path(__file__).parent / "packages" / "simple_c", project)
        source = project / "src" / "_core.c"
        source.write_text(
            source.read_text() + "const char *simple_file(void) { return __FILE__; }\n"
        )
        env = {"SOURCE_DATE_EPOCH": "1700000000"}
        polywheel("build", "-o", "dist", "--variant", "x86_64_v1", cwd=project, env=env)
        (wheel,) = (project / "dist").glob("*-x86_64_v1.whl")
        built.append(wheel.read_bytes())
    assert built[0] == built[1]
    assert b"one/simple_c" not in built[0]


def test_rebuild_is_incremental(simple_build: tuple[Path, Path, str]) -> None:
    root, dist, _out = simple_build
    env = {"SOURCE_DATE_EPOCH": "1700000000"}  # as in the first build: same inputs
    # Nothing changed: the previous build is reused without running CMake at all.
    proc = polywheel("build", "-o", "dist2", "--variant", "x86_64_v3", cwd=root, env=env)
    assert "x86_64_v3: unchanged since the last build" in proc.stdout
    (again,) = (root / "dist2").glob("*.whl")
    (first,) = dist.glob("*-x86_64_v3.whl")
    assert again.read_bytes() == first.read_bytes()
    # --rebuild runs CMake from a fresh cache, whatever was reused or cached before.
    polywheel("build", "-o", "dist3", "--variant", "x86_64_v3", "--rebuild", cwd=root, env=env)
    log = (root / "build" / "polywheel-logs" / "x86_64_v3.log").read_text()
    assert "compiler identification" in log
    # Any other input change (here the environment) means a real build again.
    proc = polywheel("build", "-o", "dist4", "--variant", "x86_64_v3", cwd=root)
    assert "unchanged" not in proc.stdout


def test_changed_source_is_rebuilt(copy_project: Callable[[str], Path]) -> None:
    project = copy_project("simple_c")
    polywheel("build", "-o", "dist", "--variant", "x86_64_v1", cwd=project)
    source = project / "src" / "_core.c"
    source.write_text(source.read_text() + "\n/* changed */\n")
    proc = polywheel("build", "-o", "dist", "--variant", "x86_64_v1", cwd=project)
    assert "unchanged" not in proc.stdout
    log = (project / "build" / "polywheel-logs" / "x86_64_v1.log").read_text()
    assert "Building C object" in log


def test_matrix_command(simple_build: tuple[Path, Path, str]) -> None:
    root, _dist, _out = simple_build
    data = json.loads(polywheel("matrix", "--json", cwd=root).stdout)
    assert [v["label"] for v in data["variants"]] == ["x86_64_v1", "x86_64_v3", "x86_64_v4"]
    assert data["variants"][1]["compile_options"]["gnu"] == ["-march=x86-64-v3"]
    assert data["variants"][0]["plain_wheel"] is True
    text = polywheel("matrix", cwd=root).stdout
    assert "-march=x86-64-v4" in text and "(plain wheel)" in text


def test_polywheel_index_command(simple_build: tuple[Path, Path, str], tmp_path: Path) -> None:
    _root, dist, _out = simple_build
    folder = tmp_path / "release"
    folder.mkdir()
    for wheel in dist.glob("*.whl"):
        shutil.copy(wheel, folder)
    polywheel("index", str(folder), cwd=tmp_path)
    assert (folder / "simple_c-0.1.0-variants.json").read_bytes() == (
        dist / "simple_c-0.1.0-variants.json"
    ).read_bytes()


def test_defines_from_pyproject_and_variant_both_reach_cmake(
    copy_project: Callable[[str], Path],
) -> None:
    project = copy_project("simple_c")
    pyproject = project / "pyproject.toml"
    text = pyproject.read_text().replace(
        'build-dir = "build/{wheel_tag}"',
        'build-dir = "build/{wheel_tag}"\ncmake.define = { FROM_TOML = "toml" }',
    )
    text = text.replace(
        'label = "x86_64_v3"\n', 'label = "x86_64_v3"\ncmake-define = { FROM_VARIANT = "v" }\n'
    )
    pyproject.write_text(text)
    cmake = project / "CMakeLists.txt"
    cmake.write_text(cmake.read_text() + 'message(STATUS "seen: ${FROM_TOML} ${FROM_VARIANT}")\n')
    polywheel("build", "-o", "dist", "--variant", "x86_64_v3", cwd=project)
    log = (project / "build" / "polywheel-logs" / "x86_64_v3.log").read_text()
    assert "seen: toml v" in log


def test_strict_pep825_format(copy_project: Callable[[str], Path]) -> None:
    import jsonschema

    project = copy_project("simple_c")
    pyproject = project / "pyproject.toml"
    pyproject.write_text(
        pyproject.read_text().replace(
            "[[tool.variants.variant]]",
            '[tool.variants]\nformat = "pep825"\n\n[[tool.variants.variant]]',
            1,
        )
    )
    polywheel("build", "-o", "dist", cwd=project)
    schema = json.loads((Path(__file__).parent / "schemas" / "pep825-v0.1.1.json").read_text())
    index = json.loads((project / "dist" / "simple_c-0.1.0-variants.json").read_text())
    jsonschema.validate(index, schema)
    assert index["$schema"] == "https://variants-schema.wheelnext.dev/peps/825/v0.1.1.json"
    for wheel in (project / "dist").glob("*-x86_64_v?.whl"):
        doc = variant_json(wheel)
        jsonschema.validate(doc, schema)
        assert doc is not None and set(doc) == {"$schema", "default-priorities", "variants"}


def test_relative_project_and_output_paths(copy_project: Callable[[str], Path]) -> None:
    project = copy_project("simple_c")
    # As in the README: run from elsewhere, with both paths relative to the cwd.
    polywheel("build", project.name, "-o", "out", "--variant", "x86_64_v3", cwd=project.parent)
    (wheel,) = (project.parent / "out").glob("*.whl")
    assert wheel.name.endswith("-x86_64_v3.whl")
    assert not (project / "out").exists()


def test_project_without_variants_gets_its_plain_wheel(copy_project: Callable[[str], Path]) -> None:
    project = copy_project("simple_c")
    pyproject = project / "pyproject.toml"
    pyproject.write_text(pyproject.read_text().split("[[tool.variants.variant]]")[0])
    proc = polywheel("build", "-o", "dist", cwd=project)
    (wheel,) = (project / "dist").glob("*.whl")
    assert wheel.name.endswith("-linux_x86_64.whl") and variant_json(wheel) is None
    assert not list((project / "dist").glob("*.json"))
    assert "(plain)" in proc.stdout


def test_cli_rejects_pep517_selection_keys_and_dedupes(copy_project: Callable[[str], Path]) -> None:
    project = copy_project("simple_c")
    proc = polywheel("build", "-C", "variant-label=x86_64_v3", cwd=project, check=False)
    assert proc.returncode == 1 and "--variant LABEL" in proc.stderr
    polywheel("build", "-o", "d", "--variant", "x86_64_v3", "--variant", "x86_64_v3", cwd=project)
    assert len(list((project / "d").glob("*.whl"))) == 1


def test_outputs_have_ordinary_permissions(simple_build: tuple[Path, Path, str]) -> None:
    import os

    _root, dist, _out = simple_build
    umask = os.umask(0)
    os.umask(umask)
    for path in dist.iterdir():
        assert path.stat().st_mode & 0o777 == 0o666 & ~umask, path


def test_matrix_labels_for_ci(copy_project: Callable[[str], Path]) -> None:
    project = copy_project("simple_c")
    out = polywheel("matrix", "--labels", cwd=project).stdout
    assert json.loads(out) == ["x86_64_v1", "x86_64_v3", "x86_64_v4"]
