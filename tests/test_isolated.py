"""`python -m build` with build isolation, as a maintainer runs it: the build
environment gets polywheel from a local wheelhouse and everything else from the index."""

from __future__ import annotations

import os
import sys
from collections.abc import Callable
from pathlib import Path

import pytest
from conftest import run
from wheel_utils import read_all_verified, variant_json

pytestmark = [pytest.mark.compile, pytest.mark.isolated]
ROOT = Path(__file__).parent.parent


@pytest.fixture(scope="module")
def wheelhouse(tmp_path_factory: pytest.TempPathFactory) -> Path:
    house = tmp_path_factory.mktemp("wheelhouse")
    run([sys.executable, "-m", "pip", "wheel", "--no-deps", "-w", str(house), str(ROOT)], cwd=ROOT)
    return house


def test_isolated_build_of_one_variant(
    copy_project: Callable[[str], Path], wheelhouse: Path
) -> None:
    project = copy_project("simple_c")
    env = {"PIP_FIND_LINKS": str(wheelhouse), "PIP_DISABLE_PIP_VERSION_CHECK": "1"}
    proc = run(
        [sys.executable, "-m", "build", "--wheel", "-o", "dist", "-C", "variant-label=x86_64_v3"],
        cwd=project,
        env={**env, "PATH": os.environ["PATH"]},
        check=False,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    (wheel,) = (project / "dist").glob("*.whl")
    assert wheel.name.endswith("-x86_64_v3.whl")
    read_all_verified(wheel)
    doc = variant_json(wheel)
    assert doc is not None and list(doc["variants"]) == ["x86_64_v3"]
