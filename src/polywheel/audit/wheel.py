"""`polywheel audit`: does the machine code in a wheel match the variant it claims?

Every ELF file in the wheel is decoded (x86-64 instructions, CUDA fat binaries), and
each well-known namespace compares what was found with what the wheel's variant.json
claims of it. A wheel without variant.json is a plain wheel: it installs anywhere, so
its CPU code must run on the baseline.
"""

from __future__ import annotations

import contextlib
import mmap
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from polywheel.audit.binary import NO_ALLOW, AuditAllow, BinaryAudit
from polywheel.audit.elf import DECODE_ERRORS, Buffer, open_elf
from polywheel.audit.fatbin import read_fatbins
from polywheel.audit.parallel import map_forked
from polywheel.audit.result import WheelAudit
from polywheel.audit.x86 import decode_x86
from polywheel.errors import PolywheelError, WheelFormatError
from polywheel.namespaces import KNOWN, AuditFinding
from polywheel.wheel.reader import open_wheel
from polywheel.wheel.variant_json import check_variant_json

__all__ = ["WheelAudit", "audit_binary", "audit_paths", "audit_wheel", "judge"]

Member = tuple[str, int]  # an ELF file in a wheel: its name and size


def audit_binary(
    name: str, data: Buffer, allow: AuditAllow = NO_ALLOW, jobs: int = 1
) -> BinaryAudit | None:
    """None for a file that is not ELF. A file that lies about its layout is answered
    with a `problem`, never an exception, after bounded work."""
    if data[:4] != b"\x7fELF":
        return None
    try:
        elf = open_elf(data)
    except DECODE_ERRORS as exc:
        return BinaryAudit(name, "unknown", problem=f"unreadable ELF: {exc}")
    machine = elf.machine
    if machine == "EM_X86_64":
        audit = BinaryAudit(name, "x86_64")
    elif machine == "EM_AARCH64":
        audit = BinaryAudit(name, "aarch64", note="aarch64 code is not decoded yet (only CUDA)")
    else:
        audit = BinaryAudit(name, machine, note="this architecture is not decoded")
    try:
        if audit.machine == "x86_64":
            decode_x86(elf, data, audit, allow, jobs)
        read_fatbins(elf, data, audit)
    except DECODE_ERRORS as exc:
        audit.problem = f"{type(exc).__name__}: {exc}"
    return audit


def judge(wheel: str, binaries: list[BinaryAudit], doc: Any | None) -> WheelAudit:
    """Compare decoded binaries with a variant.json (None: judge them as a plain wheel)."""
    label, claims = next(iter(doc["variants"].items())) if doc is not None else (None, None)
    findings: list[AuditFinding] = [
        ("error", f"cannot decode {b.name!r}: {b.problem}; its code was not checked")
        for b in binaries
        if b.problem
    ]
    for namespace in KNOWN.values():
        scope = None if claims is None else claims.get(namespace.name, {})
        findings += namespace.audit(scope, binaries)
    return WheelAudit(wheel, label, claims, binaries, findings)


def _release(data: Buffer) -> None:
    if isinstance(data, mmap.mmap):
        # A view still held (by a traceback) only delays the release to its collection.
        with contextlib.suppress(BufferError):
            data.close()


def _audit_members(
    path: Path, members: Sequence[Member], allow: AuditAllow, jobs: int
) -> list[BinaryAudit] | PolywheelError:
    """The ELF members of the wheel, one library in memory at a time. The wheel is
    opened here, so that each forked process reads through a file of its own."""
    binaries: list[BinaryAudit] = []
    try:
        with open_wheel(path) as reader:
            for name, _size in members:
                if not reader.has(name):
                    raise WheelFormatError(f"{path.name} changed while it was audited")
                data = reader.read_buffer(name)
                try:
                    result = audit_binary(name, data, allow.for_binary(name), jobs)
                finally:
                    _release(data)
                if result is not None:
                    binaries.append(result)
    except PolywheelError as exc:
        return exc  # raised by the caller, from whichever process met it
    return binaries


def _shares(members: Sequence[Member], parts: int) -> list[list[Member]]:
    """`parts` lists of members with about as many bytes each, largest first into the
    lightest list; each list keeps the wheel's order."""
    loads = [0] * parts
    chosen: list[list[tuple[int, Member]]] = [[] for _ in range(parts)]
    for position, member in sorted(enumerate(members), key=lambda m: -m[1][1]):
        lightest = loads.index(min(loads))
        loads[lightest] += member[1]
        chosen[lightest].append((position, member))
    return [[member for _p, member in sorted(share)] for share in chosen if share]


def _audit_all(
    path: Path, members: Sequence[Member], allow: AuditAllow, jobs: int
) -> list[BinaryAudit]:
    """With `jobs` > 1, a library of at least a `jobs`-th of all the bytes is decoded in
    `jobs` processes on its own; the others are shared out between `jobs` processes,
    whole."""
    total = sum(size for _n, size in members)
    large = [(name, size) for name, size in members if jobs > 1 and size * jobs >= total]
    rest = [member for member in members if member not in large]
    outcomes = [_audit_members(path, large, allow, jobs)] if large else []
    outcomes += map_forked(
        lambda share: _audit_members(path, share, allow, 1), _shares(rest, max(1, jobs))
    )
    found: dict[str, BinaryAudit] = {}
    for outcome in outcomes:
        if isinstance(outcome, PolywheelError):
            raise outcome
        found.update((b.name, b) for b in outcome)
    return [found[name] for name, _size in members if name in found]


def audit_wheel(path: Path, allow: AuditAllow = NO_ALLOW, jobs: int = 1) -> WheelAudit:
    """`jobs` > 1 decodes the libraries in that many processes (`polywheel audit` does;
    builds do not, their other cores are compiling)."""
    with open_wheel(path) as reader:
        doc = reader.variant_json()
        members = []
        for info in reader.files:
            if info.file_size < 64:
                continue
            with reader.open_member(info.filename) as f:
                if f.read(4) == b"\x7fELF":
                    members.append((info.filename, info.file_size))
    binaries = _audit_all(path, members, allow, jobs)
    if doc is not None:
        check_variant_json(doc, path.name, expected_label=reader.name.label)
    elif reader.name.label is not None:
        raise WheelFormatError(f"{path.name}: a labelled wheel must contain variant.json")
    return judge(path.name, binaries, doc)


def audit_paths(paths: Sequence[Path], allow: AuditAllow, jobs: int = 1) -> list[WheelAudit]:
    wheels: list[Path] = []
    for path in paths:
        wheels += sorted(path.glob("*.whl")) if path.is_dir() else [path]
    return [audit_wheel(w, allow, jobs) for w in wheels]
