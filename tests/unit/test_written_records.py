"""The records a no-change rebuild recalls wheels and audits from
(pipeline/written.py, audit/record.py), the key that signs them (cachedir.py) and the
digest of polywheel's own files (fingerprint.py)."""

from __future__ import annotations

import copy
import hashlib
import hmac
import json
import subprocess
import sys
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from polywheel import cachedir
from polywheel.audit import record
from polywheel.audit.binary import BinaryAudit
from polywheel.audit.result import WheelAudit
from polywheel.fingerprint import folder_digest
from polywheel.pipeline import written
from polywheel.pipeline.inputs import file_state


def full_audit() -> WheelAudit:
    """An audit with every field away from its default."""
    binary = BinaryAudit(
        name="pkg/_core.so",
        machine="x86_64",
        instructions=12345,
        level=3,
        features=Counter({"AVX2": 10, "FMA": 2}),
        other=Counter({"RDTSCP": 1}),
        functions={3: Counter({"hot": 9, "warm": 1}), 4: Counter({"hotter": 2})},
        allowed=Counter({"dispatch_avx512": 4}),
        allowed_level=4,
        sass={90, 100},
        ptx={90: "8.4"},
        cuda_targets={"sm_90a", "compute_90"},
        note="a note",
        problem="a problem",
    )
    other = BinaryAudit(name="pkg/_other.so", machine="EM_386", note="not decoded")
    claims = {"x86_64": {"level": ["v3"]}, "nvidia": {"sm_arch": ["90", "100"]}}
    findings: list[Any] = [("error", "lies"), ("warning", "careful")]
    return WheelAudit(
        "pkg-1.0-cp312-cp312-linux_x86_64-v3.whl", "v3", claims, [binary, other], findings
    )


def test_an_audit_record_holds_every_field() -> None:
    audit = full_audit()
    assert record.load(json.loads(json.dumps(record.dump(audit)))) == audit
    plain = WheelAudit("pkg-1.0-cp312-cp312-linux_x86_64.whl", None, None, [], [])
    assert record.load(json.loads(json.dumps(record.dump(plain)))) == plain


def _set(doc: dict[str, Any], path: tuple[Any, ...], value: Any) -> dict[str, Any]:
    changed = copy.deepcopy(doc)
    target: Any = changed
    for part in path[:-1]:
        target = target[part]
    if value is KeyError:
        del target[path[-1]]
    else:
        target[path[-1]] = value
    return changed


@pytest.mark.parametrize(
    ("path", "value"),
    [
        (("binaries", 0, "instructions"), True),  # a bool is no count
        (("binaries", 0, "instructions"), -1),
        (("binaries", 0, "instructions"), 1.5),
        (("binaries", 0, "level"), "v3"),
        (("binaries", 0, "features", "AVX2"), "10"),
        (("binaries", 0, "functions"), {"v3": {}}),
        (("binaries", 0, "functions"), {"+3": {}}),
        (("binaries", 0, "functions"), {"99999999999": {}}),
        (("binaries", 0, "sass"), "90"),
        (("binaries", 0, "ptx"), {"90": 8.4}),
        (("binaries", 0, "note"), 1),
        (("binaries", 0, "extra"), 1),
        (("binaries", 0, "machine"), KeyError),
        (("binaries",), {}),
        (("findings", 0), ["fatal", "lies"]),
        (("findings", 0), ["error"]),
        (("claims", "x86_64", "level"), "v3"),
        (("claims",), []),
        (("label",), 3),
        (("wheel",), KeyError),
        (("extra",), None),
    ],
)
def test_an_audit_record_is_checked_field_by_field(path: tuple[Any, ...], value: Any) -> None:
    doc = json.loads(json.dumps(record.dump(full_audit())))
    with pytest.raises(ValueError):
        record.load(_set(doc, path, value))


@pytest.fixture
def cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    folder = tmp_path / "cache"
    monkeypatch.setenv("XDG_CACHE_HOME", str(folder))
    return folder


def test_the_key_is_made_once_and_kept_private(cache: Path) -> None:
    key = cachedir.secret_key("test")
    assert key is not None and len(key) == 32
    assert cachedir.secret_key("test") == key
    path = cache / "polywheel" / "keys" / "test"
    assert path.stat().st_mode & 0o777 == 0o600
    assert cachedir.secret_key("another") not in (None, key)


def test_no_key_where_others_could_read_or_replace_it(cache: Path) -> None:
    assert cachedir.secret_key("test") is not None
    folder = cache / "polywheel" / "keys"
    (folder / "test").chmod(0o640)
    assert cachedir.secret_key("test") is None
    (folder / "test").chmod(0o600)
    folder.chmod(0o777)
    assert cachedir.secret_key("test") is None
    folder.chmod(0o700)
    (folder / "test").write_bytes(b"short")
    assert cachedir.secret_key("test") is None


def files(tmp_path: Path) -> tuple[Path, Path, Path]:
    raw, wheel, plain = tmp_path / "raw.whl", tmp_path / "v3.whl", tmp_path / "plain.whl"
    for path in (raw, wheel, plain):
        path.write_bytes(path.name.encode() * 100)
    return raw, wheel, plain


def kept(raw: Path, wheel: Path, plain: Path | None, plan: str = "plan") -> written.Record:
    state = file_state(raw, None)
    assert state is not None
    return written.Record(
        plan, written.written(wheel, full_audit()), written.written(plain, None), state
    )


def test_a_record_is_recalled_while_all_it_names_is_unchanged(tmp_path: Path, cache: Path) -> None:
    raw, wheel, plain = files(tmp_path)
    record_path = tmp_path / "written.json"
    written.write(record_path, kept(raw, wheel, plain))
    back = written.read(record_path)
    assert back == kept(raw, wheel, plain)
    assert written.recall(back, "plan", raw, wheel, plain) == back
    assert written.recall(back, "other plan", raw, wheel, plain) is None
    assert written.recall(back, "plan", raw, wheel, None) is None  # a wheel not wanted now
    assert written.recall(back, "plan", raw, wheel, tmp_path / "gone.whl") is None
    plain.write_bytes(b"changed")
    assert written.recall(back, "plan", raw, wheel, plain) is None
    raw.write_bytes(b"another raw build")
    assert written.recall(written.read(record_path), "plan", raw, wheel, None) is None


def signed(body: bytes) -> bytes:
    key = cachedir.secret_key("written-records")
    assert key is not None
    return hmac.new(key, body, hashlib.sha256).hexdigest().encode() + b"\n" + body


def test_a_record_must_be_whole_signed_and_well_formed(tmp_path: Path, cache: Path) -> None:
    raw, wheel, plain = files(tmp_path)
    path = tmp_path / "written.json"
    written.write(path, kept(raw, wheel, plain))
    data = path.read_bytes()
    signature, _, body = data.partition(b"\n")
    doc = json.loads(body)
    assert written.read(path) is not None
    for damaged in (
        data[:-1],  # cut short
        data + b" ",
        signature + b"\n" + body.replace(b'"plan"', b'"plan" '),  # not what was signed
        b"",
        b"\n",
    ):
        path.write_bytes(damaged)
        assert written.read(path) is None
    bad_states = (
        [1, 2, 3, 4],
        [1, 2, 3, -4, "0" * 64],
        [1, 2, 3, True, "0" * 64],
        [1, 2, 3, 4, "0x" + "0" * 62],
        [1, 2, 3, 4, "G" * 64],
    )
    for state in bad_states:
        path.write_bytes(signed(json.dumps({**doc, "raw": state}).encode()))
        assert written.read(path) is None
    for wrong in ({**doc, "extra": 1}, {**doc, "plan": 1}, {**doc, "wheel": {"state": doc["raw"]}}):
        path.write_bytes(signed(json.dumps(wrong).encode()))
        assert written.read(path) is None
    path.write_bytes(signed(json.dumps(doc).encode()))
    assert written.read(path) == kept(raw, wheel, plain)


def test_the_code_digest_follows_every_file_but_compiled_ones(tmp_path: Path) -> None:
    package = tmp_path / "pkg"
    (package / "sub").mkdir(parents=True)
    (package / "a.py").write_text("a = 1\n")
    (package / "sub" / "b.c").write_text("int b;\n")
    first = folder_digest(package)
    (package / "__pycache__").mkdir()
    (package / "__pycache__" / "a.cpython-311.pyc").write_bytes(b"compiled")
    assert folder_digest(package) == first
    (package / "sub" / "b.c").write_text("int c;\n")
    assert folder_digest(package) != first
    (package / "sub" / "b.c").write_text("int b;\n")
    assert folder_digest(package) == first
    (package / "sub" / "b.c").rename(package / "b.c")
    assert folder_digest(package) != first


def test_the_workers_server_looks_up_what_every_record_names() -> None:
    # Workers are forks of the server: what it looked up, none of them looks up again.
    code = (
        "import polywheel.pipeline.preload\n"
        "from polywheel import fingerprint as f\n"
        "print(f.code_digest.cache_info().currsize, f.installed_version.cache_info().currsize)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    digests, versions = out.stdout.split()
    assert digests == "1"
    assert int(versions) >= 1
