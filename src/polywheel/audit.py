"""`polywheel audit`: does the machine code in a wheel match the variant it claims?

Every ELF file in the wheel is decoded: x86-64 instructions with iced-x86 (which knows
the CPUID feature of each instruction) to find the micro-architecture level the code
needs, and CUDA fat binaries (`.nv_fatbin`) for the SASS architectures and PTX they
embed. The result is compared with the wheel's variant.json.
"""

from __future__ import annotations

import bisect
import dataclasses
import fnmatch
import io
import json
import struct
import zipfile
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any, Literal

from polywheel.errors import PolywheelError
from polywheel.filename import parse_wheel_name

__all__ = [
    "AuditAllow",
    "BinaryAudit",
    "WheelAudit",
    "audit_paths",
    "audit_wheel",
    "level_of_features",
    "render",
]

LEVEL_FEATURES: Mapping[int, frozenset[str]] = {
    2: frozenset({"SSE3", "SSSE3", "SSE4_1", "SSE4_2", "POPCNT", "CMPXCHG16B"}),
    3: frozenset({"AVX", "AVX2", "BMI1", "BMI2", "FMA", "F16C", "MOVBE", "LZCNT"}),
    4: frozenset({"AVX512F", "AVX512BW", "AVX512CD", "AVX512DQ", "AVX512VL"}),
}
# What every x86-64 CPU runs (x86-64 v1), plus hint-space instructions such as endbr64
# that older CPUs execute as no-ops. XSAVE (xgetbv) is here because compilers emit it
# only in CPU-detection code (libgcc's __builtin_cpu_init), after CPUID said it exists;
# the v3 level's XSAVE requirement is about the OS saving AVX state.
BASELINE = frozenset(
    {
        "INTEL8086", "INTEL186", "INTEL286", "INTEL386", "INTEL486", "X64", "FPU", "FPU287",
        "FPU387", "CMOV", "CX8", "CPUID", "TSC", "MMX", "SSE", "SSE2", "FXSR", "SYSCALL",
        "MULTIBYTENOP", "PAUSE", "CLFSH", "SEP", "MSR", "CET_IBT", "RDPMC", "XSAVE",
    }
)  # fmt: skip
_FATBIN_MAGIC = 0xBA55ED50
_EM_X86_64 = 62
_EM_AARCH64 = 183
Severity = Literal["error", "warning"]


@dataclasses.dataclass(frozen=True)
class AuditAllow:
    """Runtime-dispatched code the maintainer vouches for (NumPy-style CPU dispatch)."""

    functions: tuple[str, ...] = ()
    sections: tuple[str, ...] = ()

    def allows(self, function: str, section: str) -> bool:
        return any(fnmatch.fnmatchcase(function, g) for g in self.functions) or any(
            fnmatch.fnmatchcase(section, g) for g in self.sections
        )


def level_of_features(features: Iterable[str]) -> tuple[int, frozenset[str]]:
    """(x86-64 level an instruction needs, its features outside every level)."""
    level, other = 1, set()
    for feature in features:
        for number, names in LEVEL_FEATURES.items():
            if feature in names:
                level = max(level, number)
                break
        else:
            if feature not in BASELINE:
                other.add(feature)
    return level, frozenset(other)


@dataclasses.dataclass
class BinaryAudit:
    """What one ELF file of the wheel needs."""

    name: str
    machine: str
    instructions: int = 0
    level: int = 1
    features: Counter[str] = dataclasses.field(default_factory=Counter)
    other: Counter[str] = dataclasses.field(default_factory=Counter)
    # level -> function -> instruction count, for the levels above v1
    functions: dict[int, Counter[str]] = dataclasses.field(default_factory=dict)
    allowed: Counter[str] = dataclasses.field(default_factory=Counter)
    allowed_level: int = 1
    sass: set[int] = dataclasses.field(default_factory=set)
    ptx: dict[int, str] = dataclasses.field(default_factory=dict)
    note: str | None = None

    def to_json(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "machine": self.machine,
            "instructions": self.instructions,
            "level": f"v{self.level}",
            "features": dict(sorted(self.features.items())),
            "outside_levels": dict(sorted(self.other.items())),
            "functions": {
                f"v{k}": dict(v.most_common(20)) for k, v in sorted(self.functions.items())
            },
            "allowed": {
                "level": f"v{self.allowed_level}",
                "functions": dict(self.allowed.most_common()),
            },
            "cuda": {
                "sass": [f"sm_{a}" for a in sorted(self.sass)],
                "ptx": {f"compute_{a}": v for a, v in sorted(self.ptx.items())},
            },
            "note": self.note,
        }


@dataclasses.dataclass
class WheelAudit:
    wheel: str
    label: str | None
    claimed_level: int | None
    claimed_sm: frozenset[str]
    binaries: list[BinaryAudit]
    findings: list[tuple[Severity, str]]

    @property
    def needed_level(self) -> int:
        return max((b.level for b in self.binaries), default=1)

    @property
    def verdict(self) -> str:
        severities = {s for s, _ in self.findings}
        return "error" if "error" in severities else "warning" if severities else "ok"

    def to_json(self) -> dict[str, Any]:
        return {
            "wheel": self.wheel,
            "label": self.label,
            "claimed_level": f"v{self.claimed_level}" if self.claimed_level else None,
            "claimed_sm_arch": sorted(self.claimed_sm),
            "needed_level": f"v{self.needed_level}",
            "verdict": self.verdict,
            "findings": [{"severity": s, "message": m} for s, m in self.findings],
            "binaries": [b.to_json() for b in self.binaries],
        }


class _Functions:
    """Address → function name, from the symbol table, else from unwind info.

    Release builds are stripped of local symbols; `.eh_frame` still bounds every
    function, which then shows as `fn@0xADDR`.
    """

    def __init__(self, elf: Any) -> None:
        self.elf = elf
        self.starts: list[int] = []
        self.spans: list[tuple[int, str]] = []
        self._fde_loaded = False
        self._add(self._symbols())

    def _symbols(self) -> list[tuple[int, int, str]]:
        from elftools.elf.sections import SymbolTableSection

        for name in (".symtab", ".dynsym"):
            table = self.elf.get_section_by_name(name)
            if isinstance(table, SymbolTableSection):
                spans = [
                    (sym["st_value"], max(sym["st_size"], 1), sym.name)
                    for sym in table.iter_symbols()
                    if sym["st_info"]["type"] == "STT_FUNC" and sym["st_value"]
                ]
                if name == ".symtab" and spans:
                    return spans
                if name == ".dynsym":
                    return spans
        return []

    def _add(self, spans: Iterable[tuple[int, int, str]]) -> None:
        known = dict(zip(self.starts, self.spans, strict=True))
        for start, size, name in spans:
            known.setdefault(start, (start + size, name))
        self.starts = sorted(known)
        self.spans = [known[s] for s in self.starts]

    def _load_fdes(self) -> None:
        from elftools.dwarf.callframe import FDE

        self._fde_loaded = True
        try:
            info = self.elf.get_dwarf_info(follow_links=False)
            entries = info.EH_CFI_entries() if info.has_EH_CFI() else []
        except Exception:
            return
        self._add(
            (
                e.header["initial_location"],
                e.header["address_range"],
                f"fn@{e.header['initial_location']:#x}",
            )
            for e in entries
            if isinstance(e, FDE)
        )

    def name(self, ip: int, section: str) -> str:
        i = bisect.bisect_right(self.starts, ip) - 1
        if i >= 0 and ip < self.spans[i][0]:
            return self.spans[i][1]
        if not self._fde_loaded:
            self._load_fdes()
            return self.name(ip, section)
        return f"<{section}>"


def _decode_x86(elf: Any, audit: BinaryAudit, allow: AuditAllow) -> None:
    from iced_x86 import CpuidFeature, Decoder

    names = {
        v: k for k, v in vars(CpuidFeature).items() if not k.startswith("_") and isinstance(v, int)
    }
    functions = _Functions(elf)
    # The features of an instruction depend only on its opcode (`code`), so they are
    # classified once per code; the hot loop only counts codes and notes the addresses
    # of instructions above v1. Iterating the decoder is the fastest way through iced.
    by_code: dict[int, tuple[int, frozenset[str], tuple[str, ...]]] = {}
    interesting = bytearray(1 << 16)  # 0: not seen yet, 1: plain v1, 2: noteworthy
    for section in elf.iter_sections():
        if section["sh_type"] != "SHT_PROGBITS" or not section["sh_flags"] & 0x4:  # SHF_EXECINSTR
            continue
        counts = [0] * (1 << 16)
        hits: list[tuple[int, int]] = []  # (ip, code) of noteworthy instructions
        for instr in Decoder(64, section.data(), ip=section["sh_addr"]):
            code = instr.code
            counts[code] += 1
            kind = interesting[code]
            if kind == 0:
                feats = tuple(names.get(f, str(f)) for f in instr.cpuid_features())
                level, other = level_of_features(feats)
                by_code[code] = (level, other, feats)
                kind = interesting[code] = 2 if level > 1 or other else 1
            if kind == 2:
                hits.append((instr.ip, code))
        local = {code: n for code, n in enumerate(counts) if n}
        audit.instructions += sum(local.values())
        for opcode, count in local.items():
            for feature in by_code[opcode][2]:
                audit.features[feature] += count
        for ip, opcode in hits:
            level, other, feats = by_code[opcode]
            function = functions.name(ip, section.name)
            if allow.allows(function, section.name):
                audit.allowed[function] += 1
                audit.allowed_level = max(audit.allowed_level, level)
                for feature in feats:
                    audit.features[feature] -= 1  # reported under "allowed" instead
                continue
            for feature in other:
                audit.other[feature] += 1
            if level > 1:
                audit.level = max(audit.level, level)
                audit.functions.setdefault(level, Counter())[function] += 1


def _read_fatbins(elf: Any, audit: BinaryAudit) -> None:
    section = elf.get_section_by_name(".nv_fatbin")
    if section is None:
        return
    data = section.data()
    offset = 0
    while offset + 16 <= len(data):
        magic, _version, header, size = struct.unpack_from("<IHHQ", data, offset)
        if magic != _FATBIN_MAGIC:
            break
        entry, end = offset + header, offset + header + size
        while entry + 32 <= end:
            kind, _flags, entry_header, entry_size = struct.unpack_from("<HHIQ", data, entry)
            minor, major, arch = struct.unpack_from("<HHI", data, entry + 24)
            if kind == 1:
                audit.ptx[arch] = f"{major}.{minor}"
            elif kind == 2:
                audit.sass.add(arch)
            entry += entry_header + entry_size
        offset = (end + 7) & ~7  # fat binaries in one section are 8-byte aligned


def audit_binary(name: str, data: bytes, allow: AuditAllow = AuditAllow()) -> BinaryAudit | None:
    """None for a file that is not ELF."""
    if not data.startswith(b"\x7fELF"):
        return None
    from elftools.common.exceptions import ELFError
    from elftools.elf.elffile import ELFFile

    try:
        elf = ELFFile(io.BytesIO(data))
        machine = elf["e_machine"]
    except ELFError as exc:
        return BinaryAudit(name, "unknown", note=f"unreadable ELF: {exc}")
    if machine == "EM_X86_64":
        audit = BinaryAudit(name, "x86_64")
        _decode_x86(elf, audit, allow)
    elif machine == "EM_AARCH64":
        audit = BinaryAudit(name, "aarch64", note="aarch64 code is not decoded yet (only CUDA)")
    else:
        audit = BinaryAudit(name, str(machine), note="this architecture is not decoded")
    _read_fatbins(elf, audit)
    return audit


def _claims(doc: Mapping[str, Any] | None) -> tuple[str | None, int | None, frozenset[str]]:
    if not doc:
        return None, None, frozenset()
    label, tree = next(iter(doc["variants"].items()))
    level_values = tree.get("x86_64", {}).get("level", [])
    level = int(level_values[0][1:]) if len(level_values) == 1 else None
    return label, level, frozenset(tree.get("nvidia", {}).get("sm_arch", []))


def _compare(audit: WheelAudit) -> None:
    findings = audit.findings
    x86 = [b for b in audit.binaries if b.machine == "x86_64"]
    claimed = audit.claimed_level or 1
    for binary in x86:
        if binary.level > claimed:
            top = binary.functions.get(binary.level, Counter()).most_common(5)
            used = ", ".join(f"{f} ({n})" for f, n in top)
            what = (
                f"x86-64-v{claimed}" if audit.claimed_level else "x86-64 (no level claimed, so v1)"
            )
            findings.append(
                (
                    "error",
                    f"{binary.name} needs x86-64-v{binary.level} but the wheel claims {what}; "
                    f"it would crash with an illegal instruction on older CPUs. Used in: {used}",
                )
            )
        if binary.other:
            listed = ", ".join(f"{k} ({v})" for k, v in binary.other.most_common(6))
            findings.append(
                ("warning", f"{binary.name} uses extensions outside the x86-64 levels: {listed}")
            )
    if audit.claimed_level and audit.claimed_level > 1 and x86 and all(b.level <= 1 for b in x86):
        findings.append(
            (
                "warning",
                f"the wheel claims x86-64-v{audit.claimed_level} but its code uses nothing above "
                "v1: did the variant's flags reach the compiler?",
            )
        )
    found = {f"{a}_real" for b in audit.binaries for a in b.sass}
    found |= {f"{a}_virtual" for b in audit.binaries for a in b.ptx}
    missing = sorted(audit.claimed_sm - found)
    extra = sorted(found - audit.claimed_sm)
    if missing:
        findings.append(
            ("error", f"claims nvidia :: sm_arch {missing}, absent from its fat binaries")
        )
    if extra:
        findings.append(
            ("error", f"its fat binaries carry {extra}, which the wheel does not claim")
        )


def audit_wheel(path: Path, allow: AuditAllow = AuditAllow()) -> WheelAudit:
    name = parse_wheel_name(path.name)
    try:
        zf = zipfile.ZipFile(path)
    except (OSError, zipfile.BadZipFile) as exc:
        raise PolywheelError(f"{path}: not a wheel: {exc}") from None
    binaries: list[BinaryAudit] = []
    doc = None
    with zf:
        for info in zf.infolist():
            if info.filename.endswith(".dist-info/variant.json"):
                doc = json.loads(zf.read(info))
                continue
            if info.is_dir() or info.file_size < 64:
                continue
            with zf.open(info) as f:
                if f.read(4) != b"\x7fELF":
                    continue
            result = audit_binary(info.filename, zf.read(info), allow)
            if result is not None:
                binaries.append(result)
    label, level, sm = _claims(doc)
    if name.label is not None and label != name.label:
        raise PolywheelError(f"{path.name}: variant.json does not describe label {name.label!r}")
    audit = WheelAudit(path.name, label, level, sm, binaries, [])
    _compare(audit)
    return audit


def render(audit: WheelAudit) -> str:
    """A human report: per binary, the level, counts per extension, the hot functions."""
    lines = [f"{audit.wheel}"]
    claim = f"x86-64-v{audit.claimed_level}" if audit.claimed_level else "no x86-64 level"
    sm = ", ".join(sorted(audit.claimed_sm)) or "no GPU architectures"
    lines.append(f"  claims: {claim}; {sm}")
    for binary in audit.binaries:
        lines.append(f"  {binary.name} [{binary.machine}]")
        if binary.note:
            lines.append(f"    note: {binary.note}")
        if binary.machine == "x86_64":
            lines.append(f"    needs x86-64-v{binary.level} ({binary.instructions} instructions)")
            for level in (4, 3, 2):
                names = sorted(
                    f for f, n in binary.features.items() if n and f in LEVEL_FEATURES[level]
                )
                if names:
                    counts = ", ".join(f"{n} {binary.features[n]}" for n in names)
                    lines.append(f"    v{level}: {counts}")
                    top = binary.functions.get(level, Counter()).most_common(3)
                    if top:
                        lines.append("      in: " + ", ".join(f"{f} ({n})" for f, n in top))
            if binary.other:
                lines.append(
                    "    outside the levels: "
                    + ", ".join(f"{k} {v}" for k, v in binary.other.most_common())
                )
            if binary.allowed:
                lines.append(
                    f"    allowed (runtime dispatch, up to v{binary.allowed_level}): "
                    + ", ".join(f"{f} ({n})" for f, n in binary.allowed.most_common(5))
                )
        if binary.sass or binary.ptx:
            sass = ", ".join(f"sm_{a}" for a in sorted(binary.sass)) or "none"
            ptx = (
                ", ".join(f"compute_{a} (PTX {v})" for a, v in sorted(binary.ptx.items())) or "none"
            )
            lines.append(f"    CUDA SASS: {sass}; PTX: {ptx}")
    for severity, message in audit.findings:
        lines.append(f"  {severity}: {message}")
    lines.append(f"  verdict: {audit.verdict}")
    return "\n".join(lines)


def audit_paths(paths: Sequence[Path], allow: AuditAllow) -> list[WheelAudit]:
    wheels: list[Path] = []
    for path in paths:
        wheels += sorted(path.glob("*.whl")) if path.is_dir() else [path]
    return [audit_wheel(w, allow) for w in wheels]
