"""Decode x86-64 machine code and find the micro-architecture level it needs.

iced-x86 knows the CPUID features of every instruction; the x86_64 namespace module
says which level each feature belongs to.

Speed: the features of an instruction depend only on its opcode (iced's `code`), so
each code is classified once, the first time it is met. Each function (the span from one
function start to the next) is then decoded on its own and its codes counted by
`Counter(map(...))`, which runs in C: Python does no work per instruction, only per
function. Functions are also what the report names, so no address lookup is needed.
Only one function's bytes are copied at a time, so memory stays near the size of the
library.
"""

from __future__ import annotations

import functools
import itertools
from collections import Counter
from collections.abc import Iterable
from operator import attrgetter

from polywheel.audit import native
from polywheel.audit.binary import AuditAllow, BinaryAudit
from polywheel.audit.elf import Buffer, ElfFile
from polywheel.audit.functions import FunctionTable, function_table
from polywheel.audit.parallel import map_forked
from polywheel.namespaces.x86_64 import level_of_features

__all__ = ["decode_x86"]

try:  # What Counter() itself counts with: a C loop in CPython.
    from _collections import _count_elements as count_into  # type: ignore[import-not-found]
except ImportError:  # pragma: no cover - other interpreters

    def count_into(mapping: dict[int, int], items: Iterable[int]) -> None:
        for item in items:
            mapping[item] = mapping.get(item, 0) + 1


# What every opcode needs: (level, features outside the levels, all feature names).
Needs = tuple[int, frozenset[str], tuple[str, ...]]


class _Classes:
    """What each iced code needs, learnt the first time the code is met: a library
    uses a few hundred of iced's ~5,000 codes, and classifying them all up front cost
    more than auditing a small extension module."""

    def __init__(self) -> None:
        from iced_x86 import CpuidFeature

        self.names = {
            v: k
            for k, v in vars(CpuidFeature).items()
            if not k.startswith("_") and isinstance(v, int)
        }
        self.needs: dict[int, Needs] = {}
        # The codes worth reporting: above v1, or outside the levels.
        self.noteworthy: set[int] = set()

    def learn(self, codes: Iterable[int]) -> None:
        from iced_x86 import Instruction

        for code in codes:
            instruction = Instruction.create(code)  # type: ignore[arg-type]  # the stubs want the enum
            feats = tuple(self.names.get(f, str(f)) for f in instruction.cpuid_features())
            level, other = level_of_features(feats)
            self.needs[code] = (level, other, feats)
            if level > 1 or other:
                self.noteworthy.add(code)

    def learn_new(self, counts: dict[int, int]) -> None:
        # `<=` looks up each of the (few) counted codes; `counts.keys() - needs.keys()`
        # would walk all the codes known so far, once per function.
        if not counts.keys() <= self.needs.keys():
            self.learn([code for code in counts if code not in self.needs])


@functools.cache
def classes() -> _Classes:
    return _Classes()


def _code_sections(elf: ElfFile) -> list[tuple[str, int, int, int]]:
    """(name, address, file offset, size) of every executable section with bytes."""
    return [(s.name, s.address, s.offset, s.size) for s in elf.sections if s.is_code]


# Below this much code a second process costs more than it saves.
_PARALLEL_MIN_BYTES = 4 << 20

Region = tuple[str, int, int, int]  # section, first address, end address, file offset
Counts = tuple[dict[int, int], dict[tuple[str, str], dict[int, int]]]
ByRegion = dict[int, dict[int, int]]  # region index -> noteworthy opcode -> count


def _regions(elf: ElfFile, data: Buffer) -> tuple[list[Region], FunctionTable]:
    """One region per function (one function start to the next), in file order."""
    functions = function_table(elf, data)
    regions: list[Region] = []
    for name, address, offset, size in _code_sections(elf):
        end = address + size
        cuts = [address, *(s for s in functions.starts_within(address, end) if s > address), end]
        regions += [(name, b, e, offset + b - address) for b, e in itertools.pairwise(cuts)]
    return regions, functions


def _iced_counts(data: Buffer, regions: list[Region]) -> tuple[dict[int, int], ByRegion]:
    """All opcodes counted, and the noteworthy ones per region index, by iced."""
    from iced_x86 import Decoder

    known = classes()
    noteworthy = known.noteworthy
    code_of = attrgetter("code")
    total: dict[int, int] = {}
    by_region: ByRegion = {}
    for index, (_name, begin, stop, start) in enumerate(regions):
        counts: dict[int, int] = {}
        # C loops only: decode, take each code, count it.
        count_into(counts, map(code_of, Decoder(64, data[start : start + stop - begin], ip=begin)))
        for code, count in counts.items():
            total[code] = total.get(code, 0) + count
        known.learn_new(counts)
        if not noteworthy.isdisjoint(counts):
            by_region[index] = {code: counts[code] for code in noteworthy.intersection(counts)}
    return total, by_region


def _is_noteworthy(code: int) -> bool:
    known = classes()
    known.learn_new({code: 1})
    return code in known.noteworthy


def _count(data: Buffer, regions: list[Region], functions: FunctionTable) -> Counts:
    """All opcodes counted, and the noteworthy ones per (function, section) in file
    order: by the C scanner where it runs (native.py), the regions it leaves, and
    everything without it, by iced."""
    scanner = native.scanner()
    counted = None
    if scanner is not None:
        spans = [(start, stop - begin) for _name, begin, stop, start in regions]
        counted = scanner.count(data, spans, _is_noteworthy)
    if counted is None:
        total, by_region = _iced_counts(data, regions)
    else:
        total, by_region, fallback = counted
        if fallback:
            more_total, more = _iced_counts(data, [regions[i] for i in fallback])
            for code, count in more_total.items():
                total[code] = total.get(code, 0) + count
            by_region.update((fallback[i], codes) for i, codes in more.items())
    found: dict[tuple[str, str], dict[int, int]] = {}
    for index in sorted(by_region):
        name, begin, _stop, _start = regions[index]
        function = functions.name_at(begin) or f"<{name}>"
        bucket = found.setdefault((function, name), {})
        for code, count in by_region[index].items():
            bucket[code] = bucket.get(code, 0) + count
    return total, found


def _split(regions: list[Region], parts: int) -> list[list[Region]]:
    """`parts` runs of consecutive regions with about as many bytes each."""
    size = sum(stop - begin for _n, begin, stop, _o in regions)
    groups: list[list[Region]] = [[]]
    done = 0
    for region in regions:
        if done >= size * len(groups) / parts and len(groups) < parts:
            groups.append([])
        groups[-1].append(region)
        done += region[2] - region[1]
    return [g for g in groups if g]


def decode_x86(
    elf: ElfFile, data: Buffer, audit: BinaryAudit, allow: AuditAllow, jobs: int = 1
) -> None:
    """Count `data`'s instructions per opcode, and the noteworthy ones per function;
    with `jobs` > 1, a large file is decoded in that many processes."""
    known = classes()
    regions, functions = _regions(elf, data)
    code_bytes = sum(stop - begin for _n, begin, stop, _o in regions)
    parts = _split(regions, jobs if code_bytes >= _PARALLEL_MIN_BYTES else 1)
    total: Counter[int] = Counter()
    found: dict[tuple[str, str], Counter[int]] = {}
    for part_total, part_found in map_forked(lambda p: _count(data, p, functions), parts):
        total.update(part_total)
        for key, codes in part_found.items():
            found.setdefault(key, Counter()).update(codes)
    known.learn_new(total)  # what forked processes met, this one may not have
    needs = known.needs
    audit.instructions += sum(total.values())
    for code, count in total.items():
        for feature in needs[code][2]:
            audit.features[feature] += count
    for (function, section), codes in found.items():
        allowed = allow.allows(function, section)
        for code, count in codes.items():
            level, other, feats = needs[code]
            if allowed:
                audit.allowed[function] += count
                audit.allowed_level = max(audit.allowed_level, level)
                for feature in feats:
                    audit.features[feature] -= count  # reported under "allowed" instead
                continue
            for feature in other:
                audit.other[feature] += count
            if level > 1:
                audit.level = max(audit.level, level)
                audit.functions.setdefault(level, Counter())[function] += count
