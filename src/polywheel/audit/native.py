"""Count x86-64 instructions in C, and ask iced only once per distinct encoding.

iced-x86 decodes every instruction into a Python object; that object, taking its
opcode and counting it cost about 165 ns an instruction, which capped the audit at
about 25 MB/s of code. `x86scan.c` splits the code into instructions at native speed
and counts each encoding (the instruction's bytes without its constants, and without
the bits that only name a memory operand's registers). A library of tens of MB has a
few tens of thousands of encodings: each new one is decoded here once with iced, which
must split it exactly as the C code did (same length, its constants exactly at the
end) before its opcode stands for every instance. An instruction whose encoding iced
splits otherwise, or that the C code does not know, is decoded by iced alone, through
a callback, so the counts are the same as decoding everything with iced
(tests/test_audit_native.py compares them).

The C file ships as source and is compiled with the host's C compiler once a process
has enough code to decode (polywheel builds C projects, so one is there), into the
user's cache, under a name made of the source's hash, and loaded only from a folder no
one else can write and if its bytes still match the hash recorded next to it. Without
a compiler, or with `POLYWHEEL_AUDIT_DECODER=iced`, the audit decodes everything with
iced: slower, the same answers.
"""

from __future__ import annotations

import ctypes
import hashlib
import os
import platform
import shutil
import subprocess
import tempfile
from array import array
from collections.abc import Callable, Iterable
from pathlib import Path
from types import ModuleType
from typing import TYPE_CHECKING, Any, Literal

from polywheel.audit.elf import Buffer
from polywheel.cachedir import user_cache_dir
from polywheel.filehash import sha256_of

if TYPE_CHECKING:
    from iced_x86 import Decoder

__all__ = ["NativeCounts", "Scanner", "Triples", "scanner"]

_SOURCE = Path(__file__).with_name("x86scan.c")
_LIBRARY = "x86scan.so"
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
_KEYS_AT_ONCE = 4096  # classified from one copy of the C table

# All opcodes counted; runs of (region index, noteworthy opcode, count), each in region
# order; the regions left to iced.
Triples = Iterable[tuple[int, int, int]]
NativeCounts = tuple[dict[int, int], list[Triples], list[int]]


def _compile(source: bytes, folder: Path) -> Path | None:
    """The library built from `source` into `folder`, or None without a compiler."""
    compiler = next((c for c in ("cc", "gcc", "clang") if shutil.which(c)), None)
    if compiler is None:
        return None
    folder.mkdir(parents=True, exist_ok=True)
    library = folder / _LIBRARY
    with tempfile.TemporaryDirectory(dir=folder, prefix=".build-") as tmp:
        built = Path(tmp) / _LIBRARY
        (Path(tmp) / "x86scan.c").write_bytes(source)
        cmd = [compiler, "-O2", "-std=c99", "-shared", "-fPIC", "-o", str(built), "x86scan.c"]
        try:
            done = subprocess.run(cmd, cwd=tmp, capture_output=True, timeout=120, check=False)
        except (OSError, subprocess.SubprocessError):
            return None
        if done.returncode != 0 or not built.is_file():
            return None
        digest = Path(tmp) / f"{_LIBRARY}.sha256"
        digest.write_text(sha256_of(built) + "\n")
        built.replace(library)
        digest.replace(folder / digest.name)
    return library


def _library_path(build: bool = True) -> Path | None:
    """The compiled scanner from the cache; built first if missing and `build`."""
    source = _SOURCE.read_bytes()
    name = hashlib.sha256(source + platform.machine().encode()).hexdigest()[:16]
    folder = user_cache_dir("audit-decoder") / name
    library, digest = folder / _LIBRARY, folder / f"{_LIBRARY}.sha256"
    try:
        if not _private(folder):
            return None  # another user's folder (a shared /tmp): never load from it
        if library.is_file() and sha256_of(library) == digest.read_text().strip():
            return library
    except OSError:
        pass
    return _compile(source, folder) if build else None


def _private(folder: Path) -> bool:
    """Whether what `folder` holds (once it exists) is this user's alone: owned by them,
    writable by no one else, as are the folder and its parent."""
    if not hasattr(os, "getuid"):
        return True
    for path in (folder.parent, folder, folder / _LIBRARY, folder / f"{_LIBRARY}.sha256"):
        try:
            info = path.lstat()
        except FileNotFoundError:
            continue
        if info.st_uid != os.getuid() or info.st_mode & 0o022:
            return False
    return True


def _opcode_of(iced: ModuleType, decoder: Decoder, head: bytes, tail: int) -> int:
    """iced's opcode for every instruction made of `head` and `tail` constant bytes, or
    -1 unless iced, decoding one at `decoder`'s position, splits it that way: same
    length, and its displacement and immediates exactly the tail."""
    instruction = decoder.decode()
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
    if end != length - 1 or instruction.op_kind(last) != iced.OpKind.REGISTER:
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
        lib.pw_set_class.argtypes = [ptr, u32, ctypes.c_uint8, ctypes.c_uint16]
        lib.pw_touched.restype = ctypes.c_size_t
        lib.pw_touched.argtypes = [ptr, ctypes.POINTER(ptr), ctypes.POINTER(ptr)]
        for getter in (lib.pw_entries, lib.pw_fallback):
            getter.restype, getter.argtypes = ctypes.c_size_t, [ptr, ctypes.POINTER(ptr)]
        lib.pw_scan.restype = ctypes.c_int
        lib.pw_scan.argtypes = [ptr, ptr, u64, ptr, u32, ctypes.c_int, _HoleFn]
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
        for first in range(self._known_keys, end, _KEYS_AT_ONCE):
            count = min(_KEYS_AT_ONCE, end - first)
            keys = ctypes.string_at(lib.pw_keys(ctx, first), count * _KEY)
            decoder = iced_x86.Decoder(64, keys)
            for i in range(count):
                at = i * _KEY
                head, tail = keys[at] & 15, keys[at] >> 4
                decoder.position = at + 1
                code = _opcode_of(iced_x86, decoder, keys[at + 1 : at + 1 + head], tail)
                kind = _BAD if code < 0 else _NOTEWORTHY if noteworthy(code) else _PLAIN
                lib.pw_set_class(ctx, first + i, kind, max(code, 0))
        self._known_keys = end

    def _scan(self, data: Buffer, spans: array[int], again: bool = False) -> int:
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
                self._ctx, address, len(data), spans_address, len(spans) // 2, again, self._hole
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
        status = self._scan(data, spans)
        first_run = self._lib.pw_entries(  # integers, three per entry
            self._ctx, ctypes.byref(ctypes.c_void_p())
        )
        if status == 1:  # new encodings met: learn them, then count the regions with them
            new_keys = self._lib.pw_n_keys(self._ctx) - self._known_keys
            if new_keys > max(_FEW_KEYS, sum(spans[1::2]) // _BYTES_PER_KEY):
                return None  # no real code has that many encodings: iced costs less
            self._learn_new_keys(noteworthy)
            status = self._scan(data, spans, again=True)
        return self._results(first_run) if status == 0 else None

    def _results(self, first_run: int) -> NativeCounts:
        lib, ctx = self._lib, self._ctx
        codes, counts, triples, fallback = (ctypes.c_void_p() for _ in range(4))
        n = lib.pw_touched(ctx, ctypes.byref(codes), ctypes.byref(counts))
        total = dict(zip(_ints(codes, n, "I"), _ints(counts, n, "Q"), strict=True))
        entries = _ints(triples, lib.pw_entries(ctx, ctypes.byref(triples)), "I")
        # Two runs in region order: the regions counted at once, then those counted
        # once their new encodings were learnt.
        runs = [entries[:first_run], entries[first_run:]]
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


# This process's scanner once decided: loaded, or None (no compiler, no loading).
_decided: dict[str, Scanner | None] = {}


def scanner(build: bool = True) -> Scanner | None:
    """This process's scanner, or None where the C code cannot be built or loaded.
    With `build` false, a scanner not built yet is not built now (compiling costs
    about as much as iced decoding 8 MB): None, and the question stays open."""
    if "scanner" in _decided:
        return _decided["scanner"]
    if os.environ.get("POLYWHEEL_AUDIT_DECODER", "").strip().lower() == "iced":
        return None
    try:
        path = _library_path(build)
        if path is None and not build:
            return None
        _decided["scanner"] = Scanner(ctypes.CDLL(str(path))) if path is not None else None
    except (OSError, MemoryError, AttributeError):
        _decided["scanner"] = None
    return _decided["scanner"]
