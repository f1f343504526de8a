"""The C scanner's interface (x86scan.c through ctypes): count a library's regions by
encoding, learn each new encoding from iced once, hand iced the instructions the C
tables do not know. native.py decides whether the scanner is built and loaded; this
module is imported only once it is.
"""

from __future__ import annotations

import ctypes
from array import array
from collections.abc import Callable, Iterable
from types import ModuleType
from typing import TYPE_CHECKING, Any, Literal

from polywheel.audit.elf import Buffer

if TYPE_CHECKING:
    from iced_x86 import Decoder, Instruction

__all__ = ["NativeCounts", "Scanner", "Triples"]

_PLAIN, _NOTEWORTHY, _BAD = 1, 2, 3
_KEY = 16  # bytes per key in the C table
_CODES, _HOLE = 8192, 0x80000000  # as in x86scan.c
_HoleFn = ctypes.CFUNCTYPE(
    ctypes.c_uint, ctypes.c_void_p, ctypes.c_size_t, ctypes.POINTER(ctypes.c_uint32)
)
# Learning an encoding costs about 15 times what iced takes per instruction: a file with
# more than one new encoding per this many bytes of code is left to iced (real code has
# one per several hundred bytes), and beyond _MAX_KEYS (about 2 MB of tables) the ones
# known are dropped before the next file.
_BYTES_PER_KEY, _FEW_KEYS, _MAX_KEYS = 32, 4096, 1 << 16
# A callback to iced for one instruction costs what iced takes for about 100 bytes of
# code: at most one per this many bytes (real code: one per 65,000), then a region
# with an instruction the C tables do not know goes to iced whole.
_BYTES_PER_HOLE = 256
_KEYS_AT_ONCE = 4096  # classified from one copy of the C table

# All opcodes counted; runs of (region index, noteworthy opcode, count), each in region
# order; the regions left to iced.
Triples = Iterable[tuple[int, int, int]]
NativeCounts = tuple[dict[int, int], list[Triples], list[int]]


def _opcode_of(
    iced: ModuleType, decoder: Decoder, instruction: Instruction, head: bytes, tail: int
) -> int:
    """iced's opcode for every instruction made of `head` and `tail` constant bytes, or
    -1 unless iced, decoding one at `decoder`'s position (into `instruction`), splits it
    that way: same length, and its displacement and immediates exactly the tail."""
    decoder.decode_out(instruction)
    length = len(head) + tail
    if instruction.code == iced.Code.INVALID or instruction.len != length:
        return -1
    found = decoder.get_constant_offsets(instruction)
    end = len(head)
    for present, offset, size in (
        (found.has_displacement, found.displacement_offset, found.displacement_size),
        (found.has_immediate, found.immediate_offset, found.immediate_size),
        (found.has_immediate2, found.immediate_offset2, found.immediate_size2),
    ):
        if present:
            if offset != end:
                return -1
            end += size
    if end == length:
        return instruction.code
    # A last byte that names a register (VEX's is4: vpblendvb, vblendvps): iced calls
    # it an operand, not a constant; the opcode must not depend on it.
    last = instruction.op_count - 1
    if end != length - 1 or last < 0 or instruction.op_kind(last) != iced.OpKind.REGISTER:
        return -1
    for byte in (0x0F, 0xF0, 0xFF):
        probe = iced.Decoder(64, head + bytes(tail - 1) + bytes([byte])).decode()
        if probe.code != instruction.code or probe.len != length:
            return -1
    return instruction.code


class Scanner:
    """One C context: the encodings met so far in this process, each with iced's opcode
    or marked as one iced splits otherwise (its instances then go to iced one by one)."""

    def __init__(self, lib: ctypes.CDLL) -> None:
        u32, u64, ptr = ctypes.c_uint32, ctypes.c_uint64, ctypes.c_void_p
        lib.pw_new.restype = ptr
        lib.pw_free.argtypes = [ptr]
        lib.pw_n_keys.restype, lib.pw_n_keys.argtypes = u32, [ptr]
        lib.pw_keys.restype, lib.pw_keys.argtypes = ptr, [ptr, u32]
        lib.pw_set_classes.argtypes = [ptr, u32, u32, ctypes.c_char_p, ptr]
        lib.pw_touched.restype = ctypes.c_size_t
        lib.pw_touched.argtypes = [ptr, ctypes.POINTER(ptr), ctypes.POINTER(ptr)]
        for getter in (lib.pw_entries, lib.pw_runs, lib.pw_fallback):
            getter.restype, getter.argtypes = ctypes.c_size_t, [ptr, ctypes.POINTER(ptr)]
        lib.pw_scan.restype = ctypes.c_int
        lib.pw_scan.argtypes = [ptr, ptr, u64, ptr, u32, ctypes.c_int, _HoleFn, u64]
        self._lib = lib
        self._ctx = lib.pw_new()
        if not self._ctx:
            raise MemoryError("the audit's decoder could not allocate its tables")
        self._known_keys = 0
        self._noteworthy: Callable[[int], bool] = lambda _code: True
        self._hole = _HoleFn(self._decode_one)  # kept: C holds only its address

    def _decode_one(self, address: int, avail: int, item: Any) -> int:
        """The C scanner's callback for one instruction it leaves to iced: its length
        (0 if iced cannot say: the region goes to iced whole) and, in item[0], its
        opcode and whether it is noteworthy."""
        try:
            import iced_x86

            # iced reads at most 15 bytes of an instruction; the region's end is where
            # the region's own decoding would stop too.
            instruction = iced_x86.Decoder(64, ctypes.string_at(address, min(avail, 32))).decode()
            code, length = instruction.code, instruction.len
            if not 0 < length <= avail or code >= _CODES:
                return 0
            item[0] = _HOLE | self._noteworthy(code) << 16 | code
            return length
        except Exception:  # an exception must not cross into C
            return 0

    def __del__(self) -> None:
        if getattr(self, "_ctx", None):
            self._lib.pw_free(self._ctx)

    def _learn_new_keys(self, noteworthy: Callable[[int], bool]) -> None:
        """Decode one instance of each new encoding with iced (the key itself: its head
        bytes, then zeros for its constants); its opcode stands for them all only where
        iced splits it exactly as the C code did."""
        import iced_x86

        lib, ctx = self._lib, self._ctx
        end = lib.pw_n_keys(ctx)
        kinds: dict[int, int] = {}  # an opcode's class: many encodings share one opcode
        instruction = iced_x86.Instruction()
        for first in range(self._known_keys, end, _KEYS_AT_ONCE):
            count = min(_KEYS_AT_ONCE, end - first)
            keys = ctypes.string_at(lib.pw_keys(ctx, first), count * _KEY)
            decoder = iced_x86.Decoder(64, keys)
            classes, codes = bytearray(count), array("H", bytes(2 * count))
            for i in range(count):
                at = i * _KEY
                decoder.position = at + 1
                head = keys[at + 1 : at + 1 + (keys[at] & 15)]
                code = _opcode_of(iced_x86, decoder, instruction, head, keys[at] >> 4)
                kind = kinds.get(code)
                if kind is None:
                    bad = not 0 <= code < _CODES
                    kind = _BAD if bad else _NOTEWORTHY if noteworthy(code) else _PLAIN
                    kinds[code] = kind
                classes[i], codes[i] = kind, 0 if kind == _BAD else code
            lib.pw_set_classes(ctx, first, count, bytes(classes), codes.buffer_info()[0])
        self._known_keys = end

    def _scan(self, data: Buffer, spans: array[int], again: bool, max_holes: int) -> int:
        keep: object
        if isinstance(data, bytes):
            keep = ctypes.c_char_p(data)
            address = ctypes.cast(keep, ctypes.c_void_p).value
        else:
            keep = (ctypes.c_char * len(data)).from_buffer(data)
            address = ctypes.addressof(keep)
        try:
            spans_address, _ = spans.buffer_info()
            status: int = self._lib.pw_scan(
                self._ctx,
                address,
                len(data),
                spans_address,
                len(spans) // 2,
                again,
                self._hole,
                max_holes,
            )
        finally:
            del keep  # a mmap cannot be closed while a ctypes array exports it
        return status

    def count(
        self, data: Buffer, spans: array[int], noteworthy: Callable[[int], bool]
    ) -> NativeCounts | None:
        """Count the instructions of each region of `data`, given as file offset and size
        after one another in `spans`; None if the C code ran out of memory (decode with
        iced instead)."""
        self._noteworthy = noteworthy
        if self._known_keys > _MAX_KEYS:  # bounded memory: start again from no encoding
            self._lib.pw_free(self._ctx)
            self._ctx, self._known_keys = self._lib.pw_new(), 0
            if not self._ctx:
                raise MemoryError("the audit's decoder could not allocate its tables")
        code_bytes = sum(spans[1::2])
        max_holes = max(_FEW_KEYS, code_bytes // _BYTES_PER_HOLE)
        max_keys = self._known_keys + max(_FEW_KEYS, code_bytes // _BYTES_PER_KEY)
        status = self._scan(data, spans, False, max_holes)
        while status == 1:  # new encodings met: learn them, count what waited for them
            if self._lib.pw_n_keys(self._ctx) > max_keys:
                return None  # no real code has that many encodings: iced costs less
            self._learn_new_keys(noteworthy)
            status = self._scan(data, spans, True, max_holes)
        return self._results() if status == 0 else None

    def _results(self) -> NativeCounts:
        lib, ctx = self._lib, self._ctx
        codes, counts, triples, starts, fallback = (ctypes.c_void_p() for _ in range(5))
        n = lib.pw_touched(ctx, ctypes.byref(codes), ctypes.byref(counts))
        total = dict(zip(_ints(codes, n, "I"), _ints(counts, n, "Q"), strict=True))
        entries = _ints(triples, lib.pw_entries(ctx, ctypes.byref(triples)), "I")
        # Runs of entries in region order: the regions counted as they came, and those
        # counted once their new encodings were learnt.
        bounds = _ints(starts, lib.pw_runs(ctx, ctypes.byref(starts)), "I").tolist()
        ends = [*bounds[1:], len(entries)]
        runs = [entries[a:b] for a, b in zip(bounds, ends, strict=True) if b > a]
        noteworthy: list[Triples] = [
            zip(run[0::3], run[1::3], run[2::3], strict=True) for run in runs
        ]
        left = _ints(fallback, lib.pw_fallback(ctx, ctypes.byref(fallback)), "I").tolist()
        return total, noteworthy, left


def _ints(pointer: ctypes.c_void_p, n: int, typecode: Literal["I", "Q"]) -> memoryview:
    """A copy of the `n` integers of C type `typecode` at `pointer`."""
    size = array(typecode).itemsize
    raw = ctypes.string_at(pointer.value, n * size) if n and pointer.value else b""
    return memoryview(raw).cast(typecode)
