"""Where the functions of an ELF file start, and what they are called.

Names come from the symbol table (`.symtab`, else `.dynsym`). Release builds are
stripped of local symbols, so the start of every function that has unwind info is
added from `.eh_frame_hdr`'s sorted lookup table (shown as `fn@0xADDR`). Both tables
are read with `struct` straight from the file's bytes: pyelftools builds one Python
object per entry, which for a library of 10,000 functions costs more than decoding its
code.
"""

from __future__ import annotations

import bisect
import dataclasses
import struct

from polywheel.audit.elf import DECODE_ERRORS, Buffer, ElfFile

__all__ = ["FunctionTable", "function_table"]

_STT_FUNC = 2
_SYMBOL = struct.Struct("<IBBHQQ")  # Elf64_Sym: name, info, other, shndx, value, size
# .eh_frame_hdr encodings (DWARF pointer encodings) that linkers write in practice.
_UDATA4, _SDATA4_PCREL, _SDATA4_DATAREL = 0x03, 0x1B, 0x3B
_EH_PTR_SIZES = {0x00: 8, 0x02: 2, 0x03: 4, 0x04: 8, 0x0A: 2, 0x0B: 4, 0x0C: 8}


@dataclasses.dataclass(frozen=True)
class FunctionTable:
    starts: list[int]  # sorted addresses
    names: list[str]

    def starts_within(self, begin: int, end: int) -> list[int]:
        return self.starts[
            bisect.bisect_left(self.starts, begin) : bisect.bisect_left(self.starts, end)
        ]

    def name_at(self, address: int) -> str | None:
        """The name of the function that starts exactly at `address`."""
        i = bisect.bisect_left(self.starts, address)
        return self.names[i] if i < len(self.starts) and self.starts[i] == address else None


def _symbols(elf: ElfFile, data: Buffer) -> dict[int, tuple[str, int]]:
    """Function symbols: address -> (name, size)."""
    for table_name in (".symtab", ".dynsym"):
        table = elf.section(table_name)
        if table is None or table.entsize not in (0, _SYMBOL.size):
            continue
        if table.link >= len(elf.sections) or not elf.sections[table.link].has_bytes:
            continue  # no string table: names unknown, as without this table
        strings = elf.sections[table.link]
        first = strings.offset
        last = first + strings.size
        offset, size = table.offset, table.size - table.size % _SYMBOL.size
        found: dict[int, tuple[str, int]] = {}
        for name, info, _other, _shndx, value, length in _SYMBOL.iter_unpack(
            data[offset : offset + size]
        ):
            if info & 0xF != _STT_FUNC or not value or first + name >= last:
                continue
            end = data.find(b"\0", first + name, last)
            raw = data[first + name : last if end < 0 else end]
            found.setdefault(value, (raw.decode("utf-8", "replace"), length))
        if found or table_name == ".dynsym":
            return found
    return {}


def _unwind_starts(elf: ElfFile, data: Buffer) -> list[int]:
    header = elf.section(".eh_frame_hdr")
    if header is not None:
        offset, size, address = header.offset, header.size, header.address
        raw = data[offset : offset + size]
        if len(raw) >= 4 and raw[0] == 1 and raw[2] == _UDATA4 and raw[3] == _SDATA4_DATAREL:
            pointer = _EH_PTR_SIZES.get(raw[1] & 0x0F)
            if pointer is not None and len(raw) >= 4 + pointer + 4:
                (count,) = struct.unpack_from("<I", raw, 4 + pointer)
                table = 8 + pointer
                count = min(count, (len(raw) - table) // 8)  # a lying count reads no further
                entries = struct.iter_unpack("<ii", raw[table : table + 8 * count])
                return [address + location for location, _fde in entries]
    return _fde_starts(elf)


def _fde_starts(elf: ElfFile) -> list[int]:
    """The slow way, for files without a usual `.eh_frame_hdr`: every FDE, parsed."""
    if elf.section(".eh_frame") is None and elf.section(".debug_frame") is None:
        return []
    from elftools.dwarf.callframe import FDE

    try:
        with elf.pyelftools() as parsed:
            info = parsed.get_dwarf_info(follow_links=False)
            entries = info.EH_CFI_entries() if info.has_EH_CFI() else []
            return [e.header["initial_location"] for e in entries if isinstance(e, FDE)]
    except DECODE_ERRORS:
        return []  # unreadable unwind info: those functions show as `<section>`


def function_table(elf: ElfFile, data: Buffer) -> FunctionTable:
    symbols = _symbols(elf, data)
    named = {start: name for start, (name, _size) in symbols.items()}
    symbol_starts = sorted(symbols)
    for start in _unwind_starts(elf, data):
        # Unwind info names only what no symbol covers (a symbol's cold or asm parts
        # stay the symbol's).
        i = bisect.bisect_right(symbol_starts, start) - 1
        if i >= 0 and start < symbol_starts[i] + max(symbols[symbol_starts[i]][1], 1):
            continue
        named.setdefault(start, f"fn@{start:#x}")
    starts = sorted(named)
    return FunctionTable(starts, [named[s] for s in starts])
