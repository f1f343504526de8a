"""PEP 850's ABI Dependency provider: one wheel per major release of a dependency whose
C ABI changed, each built in an isolated environment holding that release.

`abidep` is made here: its header's struct has two ints in 1.0 and three doubles in
2.0. Each variant's `abi_dependency :: abidep` property and `Requires-Dist` come from
the release its build environment really held, and its compiled code shows which
header it saw. uv 0.13.9 parses the provider but does not evaluate it: it installs the
plain wheel, whose requirement then brings a matching abidep.
"""

from __future__ import annotations

import json
import shutil
import sys
from pathlib import Path

import hostile
import pytest
from conftest import isolated_build, run
from wheel_utils import call_in_wheel, metadata, variant_json

from polywheel.pipeline.buildenv import find_uv

pytestmark = [pytest.mark.compile, pytest.mark.network]

HEADERS = {
    "1.0": "#define ABIDEP_MAJOR 1\nstruct abidep_point { int x, y; };\n",
    "2.0": "#define ABIDEP_MAJOR 2\nstruct abidep_point { double x, y, z; };\n",
}


def _abidep_wheel(folder: Path, version: str) -> Path:
    """A pure wheel shipping abidep.h and `get_include()`, with a correct RECORD."""
    init = (
        b"import os\n\ndef get_include():\n"
        b"    return os.path.join(os.path.dirname(__file__), 'include')\n"
    )
    payload = [("abidep/__init__.py", init), ("abidep/include/abidep.h", HEADERS[version].encode())]
    return hostile.wheel(
        folder, distribution="abidep", version=version, tags="py3-none-any", label=None,
        payload=payload,
    )  # fmt: skip


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path, dict[str, str]]:
    """(dist, wheelhouse, environment) after one `polywheel build` of abi_user."""
    uv = find_uv()
    if uv is None:
        pytest.skip("uv not found")
    tmp = tmp_path_factory.mktemp("abi")
    wheelhouse = tmp / "wheelhouse"
    wheelhouse.mkdir()
    for version in HEADERS:
        _abidep_wheel(wheelhouse, version)
    project = tmp / "abi_user"
    shutil.copytree(Path(__file__).parent / "packages" / "abi_user", project)
    env = {"XDG_CACHE_HOME": str(tmp / "cache"), "UV_FIND_LINKS": str(wheelhouse), "UV": str(uv)}
    proc = isolated_build(project, **env)
    if proc.returncode != 0 and "resolve" in proc.stderr and "abidep" not in proc.stderr:
        pytest.skip(f"the build environment could not be resolved offline: {proc.stderr}")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return project / "dist", wheelhouse, env


def _wheel(dist: Path, label: str) -> Path:
    (wheel,) = dist.glob(f"abi_user-1.0-*-{label}.whl")
    return wheel


@pytest.mark.parametrize(("label", "major", "size"), [("abidep1", 1, 8), ("abidep2", 2, 24)])
def test_each_variant_is_labelled_by_the_release_it_was_built_against(
    built: tuple[Path, Path, dict[str, str]], tmp_path: Path, label: str, major: int, size: int
) -> None:
    dist, _wheelhouse, _env = built
    wheel = _wheel(dist, label)
    doc = variant_json(wheel)
    assert doc is not None
    assert doc["variants"] == {label: {"abi_dependency": {"abidep": [str(major)]}}}
    assert doc["providers"] == {"abi_dependency": {"builtin": "abi_dependency"}}
    assert doc["$schema"] == "https://variants-schema.wheelnext.dev/peps/850/v0.2.0.json"
    assert f"Requires-Dist: abidep=={major}.*" in metadata(wheel).splitlines()
    # The code saw that release's header: the struct's size and the header's macro.
    core = "__import__('abi_user._core', fromlist=['_core'])"
    assert call_in_wheel(wheel, tmp_path / "a", f"{core}.point_size()") == size
    assert call_in_wheel(wheel, tmp_path / "b", f"{core}.built_against()") == major


def test_the_plain_wheel_and_the_index(built: tuple[Path, Path, dict[str, str]]) -> None:
    dist, _wheelhouse, _env = built
    (plain,) = (p for p in dist.glob("abi_user-1.0-*.whl") if p.name.count("-") == 4)
    assert variant_json(plain) is None
    # The plain wheel is the first variant's build: it must pin that release too.
    assert "Requires-Dist: abidep==1.*" in metadata(plain).splitlines()
    index = json.loads((dist / "abi_user-1.0-variants.json").read_text())
    assert index["default-priorities"] == {"namespace": ["abi_dependency"]}
    assert set(index["variants"]) == {"abidep1", "abidep2"}
    run([sys.executable, "-m", "polywheel", "check", str(dist)], cwd=dist)


def test_uv_does_not_evaluate_the_provider_and_installs_the_plain_wheel(
    built: tuple[Path, Path, dict[str, str]], tmp_path: Path
) -> None:
    """What uv 0.13.9 does today (docs/howto-abi.md): it skips the builtin provider, so
    no abi variant is selectable; the plain wheel's pin decides abidep's release."""
    dist, wheelhouse, env = built
    uv = env["UV"]
    venv = tmp_path / "venv"
    run([uv, "venv", "-q", "--python", sys.executable, str(venv)], cwd=tmp_path)
    python = str(venv / "bin" / "python")
    common = ["--python", python, "--no-index", "--find-links", str(wheelhouse)]
    run([uv, "pip", "install", "-q", *common, "abidep==2.0"], cwd=tmp_path)
    proc = run(
        [uv, "pip", "install", "-v", "--preview-features", "wheel-variants", *common,
         "--find-links", str(dist), "abi-user"],
        cwd=tmp_path,
    )  # fmt: skip
    log = proc.stdout + proc.stderr
    assert "abi_dependency" in log  # "Skipping unsupported wheel variant provider"
    installed = run([python, "-c", "import abi_user._core as c, importlib.metadata as m;"
                     "print(c.built_against(), m.version('abidep'))"], cwd=tmp_path)  # fmt: skip
    assert installed.stdout.split() == ["1", "1.0"]
