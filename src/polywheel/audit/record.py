"""An audit kept on disk, losslessly: what `pipeline/written.py` recalls for a wheel
that is byte for byte the one audited.

Unlike `WheelAudit.to_json` (a report: the 20 hottest functions, names instead of
numbers), a record holds every field, so a recalled audit is the audit. A record is
read from disk, so `load` trusts nothing in it: each field must have its exact type
and range, or it raises ValueError and the caller audits again.
"""

from __future__ import annotations

from collections import Counter
from typing import Any

from polywheel.audit.binary import BinaryAudit
from polywheel.audit.result import Claims, WheelAudit
from polywheel.namespaces import AuditFinding

__all__ = ["dump", "load"]

_SEVERITIES = ("error", "warning")


def _binary(audit: BinaryAudit) -> dict[str, Any]:
    return {
        "name": audit.name,
        "machine": audit.machine,
        "instructions": audit.instructions,
        "level": audit.level,
        "features": dict(audit.features),
        "other": dict(audit.other),
        "functions": {str(level): dict(counts) for level, counts in audit.functions.items()},
        "allowed": dict(audit.allowed),
        "allowed_level": audit.allowed_level,
        "sass": sorted(audit.sass),
        "ptx": {str(number): isa for number, isa in audit.ptx.items()},
        "cuda_targets": sorted(audit.cuda_targets),
        "note": audit.note,
        "problem": audit.problem,
    }


def _claims_json(claims: Claims) -> dict[str, dict[str, list[str]]]:
    return {ns: {f: list(v) for f, v in features.items()} for ns, features in claims.items()}


def dump(audit: WheelAudit) -> dict[str, Any]:
    """Every field of `audit`, as JSON values."""
    return {
        "wheel": audit.wheel,
        "label": audit.label,
        "claims": None if audit.claims is None else _claims_json(audit.claims),
        "binaries": [_binary(b) for b in audit.binaries],
        "findings": [[severity, message] for severity, message in audit.findings],
    }


def _of(value: object, kind: type[Any], what: str) -> Any:
    # bool is an int to isinstance; no field of a record is a bool.
    if not isinstance(value, kind) or isinstance(value, bool):
        raise ValueError(f"{what}: not a {kind.__name__}")
    return value


def _count(value: object, what: str) -> int:
    number: int = _of(value, int, what)
    if number < 0:
        raise ValueError(f"{what}: negative")
    return number


def _optional_str(value: object, what: str) -> str | None:
    return None if value is None else _of(value, str, what)


def _counter(value: object, what: str) -> Counter[str]:
    counts: dict[object, object] = _of(value, dict, what)
    return Counter({_of(k, str, what): _count(n, what) for k, n in counts.items()})


def _numbered(value: object, what: str) -> dict[int, object]:
    """A JSON object keyed by decimal numbers (JSON keys are strings)."""
    items: dict[object, object] = _of(value, dict, what)
    found = {}
    for key, item in items.items():
        text = _of(key, str, what)
        if not (text.isascii() and text.isdigit() and len(text) < 8):
            raise ValueError(f"{what}: key {text!r} is not a number")
        found[int(text)] = item
    return found


def _load_binary(value: object) -> BinaryAudit:
    doc: dict[str, object] = _of(value, dict, "binary")
    if set(doc) != set(_binary(BinaryAudit("", ""))):
        raise ValueError("binary: unexpected fields")
    return BinaryAudit(
        name=_of(doc["name"], str, "name"),
        machine=_of(doc["machine"], str, "machine"),
        instructions=_count(doc["instructions"], "instructions"),
        level=_count(doc["level"], "level"),
        features=_counter(doc["features"], "features"),
        other=_counter(doc["other"], "other"),
        functions={
            level: _counter(counts, "functions")
            for level, counts in _numbered(doc["functions"], "functions").items()
        },
        allowed=_counter(doc["allowed"], "allowed"),
        allowed_level=_count(doc["allowed_level"], "allowed_level"),
        sass={_count(n, "sass") for n in _of(doc["sass"], list, "sass")},
        ptx={n: _of(isa, str, "ptx") for n, isa in _numbered(doc["ptx"], "ptx").items()},
        cuda_targets={_of(t, str, "cuda") for t in _of(doc["cuda_targets"], list, "cuda")},
        note=_optional_str(doc["note"], "note"),
        problem=_optional_str(doc["problem"], "problem"),
    )


def _finding(value: object) -> AuditFinding:
    pair: list[object] = _of(value, list, "finding")
    if len(pair) != 2 or pair[0] not in _SEVERITIES:
        raise ValueError("finding: not [severity, message]")
    return ("error" if pair[0] == "error" else "warning", _of(pair[1], str, "finding"))


def _claims(value: object) -> dict[str, dict[str, list[str]]] | None:
    if value is None:
        return None
    namespaces: dict[object, object] = _of(value, dict, "claims")
    return {
        _of(ns, str, "claims"): {
            _of(feature, str, "claims"): [_of(v, str, "claims") for v in _of(vs, list, "claims")]
            for feature, vs in _of(features, dict, "claims").items()
        }
        for ns, features in namespaces.items()
    }


def load(value: object) -> WheelAudit:
    """The audit `dump` wrote; ValueError for anything else."""
    doc: dict[str, object] = _of(value, dict, "audit")
    if set(doc) != {"wheel", "label", "claims", "binaries", "findings"}:
        raise ValueError("audit: unexpected fields")
    return WheelAudit(
        wheel=_of(doc["wheel"], str, "wheel"),
        label=_optional_str(doc["label"], "label"),
        claims=_claims(doc["claims"]),
        binaries=[_load_binary(b) for b in _of(doc["binaries"], list, "binaries")],
        findings=[_finding(f) for f in _of(doc["findings"], list, "findings")],
    )
