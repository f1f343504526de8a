"""Decode x86-64 machine code and find the micro-architecture level it needs.

iced-x86 knows the CPUID features of every instruction; the x86_64 namespace module
says which level each feature belongs to.

Speed: the features of an instruction depend only on its opcode (iced's `code`), so
each code is classified once, the first time it is met. Each function (the span from one
function start to the next) is a region counted on its own: by the C scanner where it
is built (native.py, scanner.py: instructions split in C, each distinct encoding asked
of iced once), else by iced, its codes counted by `Counter(map(...))`'s C loop. Either
way Python does no work per instruction, only per function or encoding. Functions are
also what the report names, so no address lookup is needed, and memory stays near the
size of the library.
"""

from __future__ import annotations

import dataclasses
import functools
import heapq
import itertools
import operator
from array import array
from collections import Counter
from collections.abc import Iterable

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


# Compiling the C scanner (native.py) costs about what iced takes for this much code:
# it is built once a process has that much to decode (then kept in the user's cache).
_BUILD_SCANNER_BYTES = 8 << 20
# Below this much, iced takes a few ms: not worth looking for the scanner (a no-change
# build audits its small wheels in a fresh process).
_SCANNER_BYTES = 1 << 20
_decoded_by_iced = [0]  # bytes of code iced decoded in this process
# Below this much code a second process costs more than it saves.
_PARALLEL_MIN_BYTES = 4 << 20

Counts = tuple[dict[int, int], dict[tuple[str, str], dict[int, int]]]
Triple = tuple[int, int, int]  # region index, noteworthy opcode, count


@dataclasses.dataclass(frozen=True)
class Regions:
    """One region per function (one function start to the next), in file order, kept
    in arrays: as tuples of ints, OpenBLAS's 16,000 regions took 3.7 MB, more than the
    C scanner's tables."""

    sections: list[str]
    section: array[int]  # index into `sections`
    begins: array[int]  # first address
    sizes: array[int]
    offsets: array[int]  # in the file

    def __len__(self) -> int:
        return len(self.begins)

    def part(self, start: int, stop: int) -> Regions:
        return Regions(
            self.sections,
            self.section[start:stop],
            self.begins[start:stop],
            self.sizes[start:stop],
            self.offsets[start:stop],
        )

    def pick(self, indices: list[int]) -> Regions:
        def take(values: array[int]) -> array[int]:
            return array(values.typecode, [values[i] for i in indices])

        return Regions(
            self.sections,
            take(self.section),
            take(self.begins),
            take(self.sizes),
            take(self.offsets),
        )

    def spans(self) -> array[int]:
        """File offset and size of each region, after one another (the C scanner's input)."""
        spans = array("Q", bytes(16 * len(self)))
        spans[0::2] = self.offsets
        spans[1::2] = self.sizes
        return spans


def _regions(elf: ElfFile, data: Buffer) -> tuple[Regions, FunctionTable]:
    functions = function_table(elf, data)
    sections = _code_sections(elf)
    regions = Regions(
        [name for name, *_ in sections], array("I"), array("Q"), array("Q"), array("Q")
    )
    for index, (_name, address, offset, size) in enumerate(sections):
        end = address + size
        starts = [address, *(s for s in functions.starts_within(address, end) if s > address)]
        regions.section.extend(itertools.repeat(index, len(starts)))
        regions.begins.extend(starts)
        regions.sizes.extend(map(operator.sub, [*starts[1:], end], starts))
        regions.offsets.extend(s - address + offset for s in starts)
    return regions, functions


def _iced_counts(data: Buffer, regions: Regions) -> tuple[dict[int, int], list[Triple]]:
    """All opcodes counted, and (region index, noteworthy opcode, count) in region
    order, by iced."""
    from iced_x86 import Decoder

    known = classes()
    noteworthy = known.noteworthy
    code_of = operator.attrgetter("code")
    total: dict[int, int] = {}
    found: list[Triple] = []
    for index, (begin, size, start) in enumerate(
        zip(regions.begins, regions.sizes, regions.offsets, strict=True)
    ):
        counts: dict[int, int] = {}
        # C loops only: decode, take each code, count it.
        count_into(counts, map(code_of, Decoder(64, data[start : start + size], ip=begin)))
        for code, count in counts.items():
            total[code] = total.get(code, 0) + count
        known.learn_new(counts)
        if not noteworthy.isdisjoint(counts):
            found += [(index, code, counts[code]) for code in noteworthy.intersection(counts)]
    return total, found


def _add(into: dict[int, int], counts: dict[int, int]) -> None:
    """Add `counts` to `into` (Counter.update, without a Counter's copy of each dict)."""
    for code, count in counts.items():
        into[code] = into.get(code, 0) + count


def _is_noteworthy(code: int) -> bool:
    known = classes()
    known.learn_new({code: 1})
    return code in known.noteworthy


def _count(data: Buffer, regions: Regions, functions: FunctionTable) -> Counts:
    """All opcodes counted, and the noteworthy ones per (function, section) in file
    order: by the C scanner where it runs (native.py), the regions it leaves, and
    everything without it, by iced."""
    code_bytes = sum(regions.sizes)
    seen = _decoded_by_iced[0] + code_bytes
    scanner = None
    if seen >= _SCANNER_BYTES:
        from polywheel.audit import native

        scanner = native.scanner(build=seen >= _BUILD_SCANNER_BYTES)
    counted = scanner.count(data, regions.spans(), _is_noteworthy) if scanner else None
    runs: list[Iterable[Triple]]
    if counted is None:
        _decoded_by_iced[0] += code_bytes
        total, found_by_iced = _iced_counts(data, regions)
        runs = [found_by_iced]
    else:
        total, runs, fallback = counted
        if fallback:
            more_total, more = _iced_counts(data, regions.pick(fallback))
            _add(total, more_total)
            runs.append([(fallback[index], code, count) for index, code, count in more])
    found: dict[tuple[str, str], dict[int, int]] = {}
    bucket: dict[int, int] = {}
    last = -1
    for index, code, count in heapq.merge(*runs, key=operator.itemgetter(0)):
        if index != last:
            name = regions.sections[regions.section[index]]
            function = functions.name_at(regions.begins[index]) or f"<{name}>"
            bucket = found.setdefault((function, name), {})
            last = index
        bucket[code] = bucket.get(code, 0) + count
    return total, found


def _split(regions: Regions, parts: int) -> list[Regions]:
    """`parts` runs of consecutive regions with about as many bytes each."""
    size = sum(regions.sizes)
    cuts = [0]
    done = 0
    for index, region_size in enumerate(regions.sizes):
        if done >= size * len(cuts) / parts and len(cuts) < parts:
            cuts.append(index)
        done += region_size
    cuts.append(len(regions))
    return [regions.part(a, b) for a, b in itertools.pairwise(cuts) if b > a]


def decode_x86(
    elf: ElfFile, data: Buffer, audit: BinaryAudit, allow: AuditAllow, jobs: int = 1
) -> None:
    """Count `data`'s instructions per opcode, and the noteworthy ones per function;
    with `jobs` > 1, a large file is decoded in that many processes."""
    known = classes()
    regions, functions = _regions(elf, data)
    parts = _split(regions, jobs if sum(regions.sizes) >= _PARALLEL_MIN_BYTES else 1)
    (total, found), *more = map_forked(lambda p: _count(data, p, functions), parts)
    for part_total, part_found in more:
        _add(total, part_total)
        for key, codes in part_found.items():
            _add(found.setdefault(key, {}), codes)
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
