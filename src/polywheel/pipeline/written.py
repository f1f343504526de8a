"""The wheels a reused build would write, found already written: not written or
audited again.

A no-change rebuild reuses each variant's raw build (pipeline/reuse.py). Writing its
wheels again would give the same bytes, and auditing them the same audit: both are
functions of what they read, which is the raw wheel, the plan (the wheel's name and
label, variant.json, the requirements, the audit's settings and allowed binaries, the
environment), polywheel's own files and iced's version. So each variant's cache entry
keeps a record, next to the raw wheel: the plan's digest, the raw wheel's state, and
each written wheel's state and audit. When the plan is the same and the raw wheel and
each wheel in the output folder are unchanged (by inode, size, ctime and mtime, else by
content: pipeline/inputs.py), the wheels there are this run's, and so are their audits.

A record is read from disk. It vouches for audits, so it must be signed with a key
only this user can read (`cachedir.secret_key`): nobody else who can write the
project's folder can forge one. It is bounded and checked field by field (anything else
is no record), and it names no path: the wheels' names are the ones this run would
write.
"""

from __future__ import annotations

import dataclasses
import hashlib
import hmac
import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from polywheel.audit import record
from polywheel.audit.binary import AuditAllow
from polywheel.audit.result import WheelAudit
from polywheel.cachedir import secret_key
from polywheel.fingerprint import code_digest, environment, installed_version
from polywheel.pipeline.inputs import FileState, file_state
from polywheel.wheel.writer import atomic_output

__all__ = [
    "Record",
    "Written",
    "look_up_dependencies",
    "plan_digest",
    "read",
    "recall",
    "write",
    "written",
]

# A record holds every function counted above x86-64-v1 in each binary: large for a
# large library, but never this large; a bigger file is not read (the wheels are then
# written and audited again).
_MAX_RECORD = 64 << 20
_HEX = set("0123456789abcdef")
# Records are signed with this user's key (cachedir.secret_key): a record anybody who
# can write the project's folder could have forged would vouch for a wheel's audit.
_KEY = "written-records"


@dataclasses.dataclass(frozen=True)
class Written:
    """One wheel as written, and its audit (None when the audit was off)."""

    state: FileState
    audit: WheelAudit | None


@dataclasses.dataclass(frozen=True)
class Record:
    """What one variant's wheels were written from, and what was written."""

    plan: str
    wheel: Written | None
    plain: Written | None
    # The raw wheel's state, known once the raw wheel is kept (pipeline/reuse.py).
    raw: FileState | None = None


def _dependencies() -> dict[str, str]:
    return {"polywheel": code_digest(), "iced-x86": installed_version("iced-x86")}


def look_up_dependencies() -> None:
    """Look up what every plan depends on besides the environment (both cached per
    process): where workers are forks, their server does it once for all of them."""
    _dependencies()


def plan_digest(
    raw_wheel: Path,
    wheels: Sequence[Path | None],
    variant_json: bytes | None,
    requires: Sequence[str],
    audit: tuple[AuditAllow | None, bytes | None],
) -> str:
    """The digest of what writing and auditing the wheels of one raw build read: the
    wheels to write (None: not this kind), their variant.json and requirements, what the
    audit allows (None: it is off) and what the plain wheel is held to, with what every
    plan depends on (polywheel's files, iced's version, the environment)."""
    allow, plain_claims = audit
    allowed = None if allow is None else [allow.functions, allow.sections, sorted(allow.binaries)]
    plan = {
        "raw": raw_wheel.name,
        "wheels": [p.name if p else None for p in wheels],
        "variant_json": variant_json.decode() if variant_json is not None else None,
        "requires": list(requires),
        "audit": allowed,
        "plain_claims": plain_claims.decode() if plain_claims is not None else None,
        **_dependencies(),
        "env": environment(),
    }
    return hashlib.sha256(json.dumps(plan, sort_keys=True).encode()).hexdigest()


def written(wheel: Path | None, audit: WheelAudit | None) -> Written | None:
    """The record of `wheel`, just written (None: no wheel of this kind, or one gone
    already, which no later run then recalls)."""
    state = file_state(wheel, None) if wheel is not None else None
    return Written(state, audit) if state is not None else None


def _unchanged(path: Path, known: FileState) -> bool:
    now = file_state(path, known)
    return now is not None and now.sha256 == known.sha256


def recall(
    kept: Record | None, plan: str, raw_wheel: Path, wheel: Path | None, plain: Path | None
) -> Record | None:
    """`kept` when it applies: the same plan, the same raw wheel, and the wheels this
    run would write (`wheel`, `plain`: their paths, None for a kind not written) there
    and unchanged."""
    if kept is None or kept.plan != plan or kept.raw is None:
        return None
    if not _unchanged(raw_wheel, kept.raw):
        return None
    for path, was in ((wheel, kept.wheel), (plain, kept.plain)):
        if (path is None) != (was is None):
            return None
        if path is not None and was is not None and not _unchanged(path, was.state):
            return None
    return kept


def _written_json(item: Written | None) -> dict[str, Any] | None:
    if item is None:
        return None
    return {
        "state": item.state.to_json(),
        "audit": None if item.audit is None else record.dump(item.audit),
    }


def _signature(key: bytes, body: bytes) -> bytes:
    return hmac.new(key, body, hashlib.sha256).hexdigest().encode()


def write(path: Path, kept: Record) -> None:
    """Keep `kept` at `path`, signed, whole or not at all (no record where this user
    has no private key, or for one too large)."""
    assert kept.raw is not None
    doc = {
        "plan": kept.plan,
        "raw": kept.raw.to_json(),
        "wheel": _written_json(kept.wheel),
        "plain": _written_json(kept.plain),
    }
    body = json.dumps(doc, separators=(",", ":")).encode()
    key = secret_key(_KEY)
    if key is None or len(body) > _MAX_RECORD:
        path.unlink(missing_ok=True)
        return
    with atomic_output(path) as scratch:
        scratch.write_bytes(_signature(key, body) + b"\n" + body)


def _state(value: object) -> FileState:
    row = value if isinstance(value, list) else None
    if row is None or len(row) != 5:
        raise ValueError("state: not a list of five")
    ino, size, ctime_ns, mtime_ns, digest = row
    numbers = (ino, size, ctime_ns, mtime_ns)
    if not all(isinstance(n, int) and not isinstance(n, bool) and n >= 0 for n in numbers):
        raise ValueError("state: not four counts")
    if not (isinstance(digest, str) and len(digest) == 64 and set(digest) <= _HEX):
        raise ValueError("state: not a SHA-256")
    return FileState(ino, size, ctime_ns, mtime_ns, digest)


def _written(value: object) -> Written | None:
    if value is None:
        return None
    if not isinstance(value, dict) or set(value) != {"state", "audit"}:
        raise ValueError("wheel: unexpected fields")
    audit = value["audit"]
    return Written(_state(value["state"]), None if audit is None else record.load(audit))


def read(path: Path) -> Record | None:
    """The record kept at `path`; None when there is none, or it is not a whole record
    signed with this user's key."""
    try:
        key = secret_key(_KEY)
        if key is None:
            return None
        with path.open("rb") as f:
            data = f.read(_MAX_RECORD + 66)
        signature, _, body = data.partition(b"\n")
        if len(body) > _MAX_RECORD or not hmac.compare_digest(signature, _signature(key, body)):
            return None
        doc = json.loads(body)
        if not isinstance(doc, dict) or set(doc) != {"plan", "raw", "wheel", "plain"}:
            return None
        plan = doc["plan"]
        if not isinstance(plan, str):
            return None
        return Record(plan, _written(doc["wheel"]), _written(doc["plain"]), _state(doc["raw"]))
    except (OSError, ValueError, RecursionError):
        return None
