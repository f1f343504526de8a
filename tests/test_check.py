"""`polywheel check` catches hand-broken wheels, folders and index files."""

from __future__ import annotations

import base64
import hashlib
import json
import shutil
import zipfile
from pathlib import Path

import pytest
from conftest import polywheel

from polywheel.conformance.files import check_paths

pytestmark = pytest.mark.compile


@pytest.fixture(scope="module")
def release(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("check") / "simple_c"
    shutil.copytree(Path(__file__).parent / "packages" / "simple_c", root)
    polywheel("build", "-o", "dist", cwd=root)
    return root / "dist"


def rewrite(
    src: Path, dst: Path, changes: dict[str, bytes | None], *, fix_record: bool = True
) -> Path:
    """Copy a wheel with some entries replaced (None deletes), RECORD optionally redone."""
    with zipfile.ZipFile(src) as zin:
        entries = {n: zin.read(n) for n in zin.namelist()}
    for name, data in changes.items():
        if data is None:
            entries.pop(name, None)
        else:
            entries[name] = data
    record = next(n for n in entries if n.endswith(".dist-info/RECORD"))
    if fix_record:
        lines = []
        for name, data in entries.items():
            if name == record:
                continue
            digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
            lines.append(f"{name},sha256={digest},{len(data)}")
        entries[record] = ("\n".join([*lines, f"{record},,"]) + "\n").encode()
    with zipfile.ZipFile(dst, "w") as zout:
        for name, data in entries.items():
            zout.writestr(name, data)
    return dst


def v3(release: Path) -> Path:
    return next(release.glob("*-x86_64_v3.whl"))


def codes(paths: list[Path]) -> set[str]:
    return {f"{f.problem.severity}{f.problem.rule}" for f in check_paths(paths)}


VJ = "simple_c-0.1.0.dist-info/variant.json"


def test_a_fresh_build_has_no_errors(release: Path) -> None:
    findings = check_paths([release])
    assert [f for f in findings if f.is_error] == []
    proc = polywheel("check", str(release), cwd=release)
    assert proc.returncode == 0 and "0 error(s)" in proc.stderr


def test_label_mismatch(release: Path, tmp_path: Path) -> None:
    broken = tmp_path / v3(release).name.replace("x86_64_v3", "x86_64_v2")
    shutil.copy(v3(release), broken)
    assert "E19" in codes([broken])
    proc = polywheel("check", str(broken), cwd=tmp_path, check=False)
    assert proc.returncode == 1 and "E19" in proc.stdout and broken.name in proc.stdout


def test_bad_record(release: Path, tmp_path: Path) -> None:
    broken = rewrite(
        v3(release),
        tmp_path / v3(release).name,
        {"simple_c/__init__.py": b"# changed\n"},
        fix_record=False,
    )
    assert "E8" in codes([broken])


def test_unsorted_values_and_missing_variant_json(release: Path, tmp_path: Path) -> None:
    doc = json.loads(zipfile.ZipFile(v3(release)).read(VJ))
    doc["variants"]["x86_64_v3"]["x86_64"]["level"] = ["v3", "v2"]
    unsorted = rewrite(v3(release), tmp_path / v3(release).name, {VJ: json.dumps(doc).encode()})
    assert "E15" in codes([unsorted])
    (tmp_path / "b").mkdir()
    missing = rewrite(v3(release), tmp_path / "b" / v3(release).name, {VJ: None})
    assert "E5" in codes([missing])


def test_conflicting_labels_across_wheels(release: Path, tmp_path: Path) -> None:
    folder = tmp_path / "mixed"
    folder.mkdir()
    shutil.copy(v3(release), folder)
    doc = json.loads(zipfile.ZipFile(v3(release)).read(VJ))
    doc["variants"]["x86_64_v3"]["x86_64"]["level"] = ["v4"]
    other = v3(release).name.replace("linux_x86_64", "manylinux_2_28_x86_64")
    rewrite(v3(release), folder / other, {VJ: json.dumps(doc).encode()})
    found = codes([folder])
    assert "E23" in found and "W27" in found


def test_index_missing_a_label(release: Path, tmp_path: Path) -> None:
    folder = tmp_path / "idx"
    shutil.copytree(release, folder)
    index = next(folder.glob("*-variants.json"))
    doc = json.loads(index.read_text())
    del doc["variants"]["x86_64_v4"]
    index.write_text(json.dumps(doc))
    assert "E30" in codes([index])
    misnamed = folder / "Simple-C-0.1.0-variants.json"
    index.rename(misnamed)
    assert "E28" in codes([misnamed])
