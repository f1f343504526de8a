"""The audit's x86 decoder as it was before it was made fast (a linear sweep of every
executable section, one Python step per instruction), kept as the reference the fast
decoder must agree with (tests/test_audit_speed.py)."""

from __future__ import annotations

import bisect
from collections import Counter
from collections.abc import Iterable
from typing import Any

from polywheel.audit.binary import AuditAllow, BinaryAudit
from polywheel.audit.elf import pyelftools_errors
from polywheel.namespaces.x86_64 import level_of_features

__all__ = ["decode_x86_reference"]


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
        except pyelftools_errors():
            return  # unreadable unwind info: those addresses show as `<section>`
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


def decode_x86_reference(elf: Any, audit: BinaryAudit, allow: AuditAllow) -> None:
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
    counts = [0] * (1 << 16)  # one table per file: a file of many tiny sections stays cheap
    hits: list[tuple[int, int, str]] = []  # (ip, code, section) of noteworthy instructions
    for section in elf.iter_sections():
        if section["sh_type"] != "SHT_PROGBITS" or not section["sh_flags"] & 0x4:  # SHF_EXECINSTR
            continue
        if not section["sh_size"]:
            continue
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
                hits.append((instr.ip, code, section.name))
    for opcode in by_code:
        audit.instructions += counts[opcode]
        for feature in by_code[opcode][2]:
            audit.features[feature] += counts[opcode]
    for ip, opcode, section_name in hits:
        level, other, feats = by_code[opcode]
        function = functions.name(ip, section_name)
        if allow.allows(function, section_name):
            audit.allowed[function] += 1
            audit.allowed_level = max(audit.allowed_level, level)
            for feature in feats:
                audit.features[feature] -= 1  # reported under "allowed" instead
            continue
        for feature in other:
            audit.other[feature] += 1
        if level > 1:
            audit.level = max(audit.level, level)
            audit.functions.setdefault(level, Counter()).update((function,))
