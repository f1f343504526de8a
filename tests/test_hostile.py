"""Hostile wheels and index files against every command that reads them.

Each case runs the real command line in a child process and asserts its exit status,
its one-line answer, its CPU time and peak memory (from the kernel's accounting of
that child), that nothing escaped to the terminal, and that no file outside what the
command may write changed: not the victim folder beside the output, not the input, not
the temporary folder.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
import re
import signal
import struct
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import hostile
import pytest
from hostile import V1_CODE, V3_CODE, Section, elf, fatbin, fatbin_entry, wheel

# The bound: a hostile wheel of a few KB is answered in under a second and
# under 100 MB (the interpreter and its imports take about 0.1 s and 20 MB of that).
CPU_SECONDS = 1.0
PEAK_MB = 100


@dataclasses.dataclass
class Run:
    status: int
    out: str
    err: str
    cpu: float
    peak_mb: float

    @property
    def text(self) -> str:
        return self.out + self.err


@dataclasses.dataclass
class Layout:
    """tmp/work is the working folder (inputs in in/, outputs in out/); tmp/victim is what
    an attack aims at; tmp/home and tmp/tmp stand in for the user's cache and /tmp."""

    root: Path

    @property
    def inputs(self) -> Path:
        return self.root / "work" / "in"

    @property
    def out(self) -> Path:
        return self.root / "work" / "out"

    @property
    def victim(self) -> Path:
        return self.root / "victim"

    @property
    def tmp(self) -> Path:
        return self.root / "tmp"

    def env(self) -> dict[str, str]:
        env = dict(os.environ)
        env.update(
            HOME=str(self.root / "home"),
            XDG_CACHE_HOME=str(self.root / "home" / ".cache"),
            TMPDIR=str(self.tmp),
            PYTHONPATH=os.pathsep.join(
                filter(None, [str(Path(__file__).parent), env.get("PYTHONPATH")])
            ),
        )
        return env


def _state(root: Path, skip: tuple[Path, ...]) -> dict[str, str]:
    state = {}
    for path in sorted(root.rglob("*")):
        if any(path == s or s in path.parents for s in skip):
            continue
        rel = str(path.relative_to(root))
        if path.is_symlink():
            state[rel] = f"link:{path.readlink()}"
        elif path.is_dir():
            state[rel] = "dir"
        else:
            state[rel] = hashlib.sha256(path.read_bytes()).hexdigest()
    return state


# A process's peak memory starts from its parent's at exec, so the command is started by
# this small Python, not by the test process (which grew while making the inputs).
_MEASURE = """
import json, os, sys
pid = os.fork()
if pid == 0:
    os.execv(sys.executable, [sys.executable, *sys.argv[2:]])
_, status, usage = os.wait4(pid, 0)
with open(sys.argv[1], "w") as f:
    json.dump({"cpu": usage.ru_utime + usage.ru_stime, "peak_kb": usage.ru_maxrss}, f)
code = os.waitstatus_to_exitcode(status)
sys.exit(code if code >= 0 else 128 - code)
"""


def polywheel(layout: Layout, *args: str, timeout: float = 60) -> Run:
    """Run `python -m polywheel ARGS`; its CPU time and peak memory come from wait4."""
    layout.out.parent.mkdir(parents=True, exist_ok=True)
    usage_file = layout.root / "usage.json"
    proc = subprocess.Popen(
        [sys.executable, "-c", _MEASURE, str(usage_file), "-m", "polywheel", *args],
        cwd=layout.out.parent,
        env=layout.env(),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        start_new_session=True,
    )
    try:
        out, err = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.communicate()
        raise AssertionError(
            f"polywheel {' '.join(args)}: still running after {timeout} s"
        ) from None
    usage = json.loads(usage_file.read_text())
    usage_file.unlink()
    return Run(
        proc.returncode,
        out.decode("utf-8", "replace"),
        err.decode("utf-8", "replace"),
        usage["cpu"],
        usage["peak_kb"] / 1024,
    )


@pytest.fixture
def layout(tmp_path: Path) -> Layout:
    here = Layout(tmp_path)
    here.victim.mkdir()
    wheel(here.victim, distribution="victim")
    (here.victim / "notes.txt").write_text("the user's only copy\n")
    here.tmp.mkdir()
    (tmp_path / "home").mkdir()
    here.inputs.mkdir(parents=True)
    return here


@dataclasses.dataclass(frozen=True)
class Attack:
    """One hostile input: `make` writes it into the layout and returns the arguments."""

    make: Callable[[Layout], list[str]]
    status: int
    message: str  # a regular expression the command's output must match
    may_write: tuple[str, ...] = ()  # paths under tmp/work that may change


def _check(layout: Layout, attack: Attack) -> Run:
    args = attack.make(layout)
    writable = tuple(layout.root / "work" / p for p in attack.may_write)
    skip = (*writable, layout.root / "home", layout.root / "usage.json")
    before = _state(layout.root, skip)
    run = polywheel(layout, *args)
    after = _state(layout.root, skip)
    assert run.status == attack.status, run.text
    assert re.search(attack.message, run.text), run.text
    assert "Traceback" not in run.text, run.text
    assert "\x1b" not in run.text and "\x00" not in run.text, repr(run.text)
    assert after == before, "files outside the command's output changed"
    assert not list(layout.tmp.iterdir()), "temporary files were left behind"
    leftovers = list((layout.root / "work").rglob(".polywheel-*"))
    assert not leftovers, leftovers
    assert run.cpu < CPU_SECONDS, f"{run.cpu:.2f} s of CPU"
    assert run.peak_mb < PEAK_MB, f"{run.peak_mb:.0f} MB"
    return run


def _elf_wheel(layout: Layout, binary: bytes, label: str | None = "x86_64_v3") -> Path:
    return wheel(layout.inputs, label=label, payload=[("demo/_core.so", binary)])


def _audit(binary_maker: Callable[[], bytes]) -> Callable[[Layout], list[str]]:
    def make(layout: Layout) -> list[str]:
        return ["audit", str(_elf_wheel(layout, binary_maker()))]

    return make


def _with_fatbin(data: bytes, **section: int) -> Callable[[], bytes]:
    """A v3 library (so only the fat binary can be wrong) with this `.nv_fatbin`."""
    fields = {"flags": 2, **section}
    return lambda: elf([Section(".text", V3_CODE), Section(".nv_fatbin", data, **fields)])


# --- paths built from labels ------------------------------------------------------------

ESCAPING_LABEL = "../../../victim/x"


def _escaping_label_wheel(layout: Layout) -> Path:
    return wheel(layout.inputs, label=None, doc=hostile.variant_doc(ESCAPING_LABEL))


REPAIR_TOOL = "import shutil, sys; shutil.copy(sys.argv[1], sys.argv[2])"


def _repair(layout: Layout, path: Path, *tool: str) -> list[str]:
    command = tool or (sys.executable, "-c", REPAIR_TOOL, "{wheel}", "{dest_dir}")
    return ["repair", str(path), "-w", str(layout.out), "--", *command]


def _symlinked_target(layout: Layout) -> Path:
    layout.out.mkdir()
    name = "demo-1.0-cp312-cp312-linux_x86_64-x86_64_v3.whl"
    (layout.out / name).symlink_to(layout.victim / "notes.txt")
    return wheel(layout.inputs, label=None, doc=hostile.variant_doc())


def _bad_record(layout: Layout) -> Path:
    return wheel(layout.inputs, label=None, doc=hostile.variant_doc(), record=b"demo,,\n")


PATHS = {
    "relabel -o: label in variant.json leaves the folder": Attack(
        lambda t: ["relabel", str(_escaping_label_wheel(t)), "-o", str(t.out)],
        1,
        r"label '\.\./\.\./\.\./victim/x'",
    ),
    "relabel in place: label in variant.json leaves the folder": Attack(
        lambda t: ["relabel", str(_escaping_label_wheel(t))], 1, r"label '\.\./"
    ),
    "repair: label in variant.json leaves the folder": Attack(
        lambda t: _repair(t, _escaping_label_wheel(t)), 1, r"label '\.\./"
    ),
    "relabel in place: a wheel that fails the check stays where it is": Attack(
        lambda t: ["relabel", str(_bad_record(t))], 1, r"does not conform"
    ),
    "relabel -o: a symlink at the target name is replaced, not followed": Attack(
        lambda t: ["relabel", str(_symlinked_target(t)), "-o", str(t.out)],
        0,
        r"x86_64_v3\.whl",
        may_write=("out",),
    ),
    "repair: a symlink at the target name is replaced, not followed": Attack(
        lambda t: _repair(t, _symlinked_target(t)), 0, r"x86_64_v3\.whl", may_write=("out",)
    ),
    "repair: a placeholder inside a word is not substituted into it": Attack(
        lambda t: _repair(
            t, wheel(t.inputs, label=None, doc=hostile.variant_doc()), "true", "--out={dest_dir}"
        ),
        1,
        r"argument of its own",
    ),
}


# --- the audit's work is bounded --------------------------------------------------------

SHF_COMPRESSED = 0x800
SHT_NOBITS = 8


def _many_sections(count: int, code: bytes) -> Callable[[], bytes]:
    return lambda: elf([Section("", code, addr=0x1000 + i) for i in range(count)])


AUDIT_WORK = {
    "fatbin: header size zero": Attack(
        _audit(_with_fatbin(fatbin([], header=0) * 64)), 0, r"verdict: ok"
    ),
    "fatbin: entry header and size zero": Attack(
        _audit(_with_fatbin(fatbin([fatbin_entry(2, 90, header=0, size=0)] * 64))),
        1,
        r"carry \['90_real'\], which the wheel does not claim",
    ),
    "fatbin: sizes past the end": Attack(
        _audit(_with_fatbin(fatbin([fatbin_entry(2, 90, size=1 << 62)], size=1 << 62))),
        1,
        r"carry \['90_real'\]",
    ),
    "fatbin: a NOBITS section of a terabyte": Attack(
        _audit(_with_fatbin(b"", type=SHT_NOBITS, size=1 << 40)),
        1,
        r"cannot decode 'demo/_core.so': cannot decode .nv_fatbin",
    ),
    "fatbin: a compressed section of 256 MB zeros": Attack(
        _audit(_with_fatbin(hostile.compressed_section_data(256 << 20), flags=2 | SHF_COMPRESSED)),
        1,
        r"cannot decode .nv_fatbin: not a plain data section",
    ),
    "code: a compressed executable section of 256 MB zeros": Attack(
        _audit(
            lambda: elf(
                [
                    Section(
                        ".text",
                        hostile.compressed_section_data(256 << 20),
                        flags=6 | SHF_COMPRESSED,
                    )
                ]
            )
        ),
        1,
        r"section 1 holds compressed code",
    ),
    "code: 65,000 empty executable sections": Attack(
        _audit(_many_sections(65_000, b"")), 1, r"65002 sections, over the limit of 4096"
    ),
    "code: 4,000 one-instruction executable sections": Attack(
        _audit(_many_sections(4_000, V3_CODE)), 0, r"needs x86-64-v3 \(8000 instructions\)"
    ),
    "code: a section that claims more bytes than the file has": Attack(
        _audit(lambda: elf([Section(".text", V1_CODE, size=1 << 40)])),
        1,
        r"past the end of the file",
    ),
    "code: a deflated run of 64 MB zeros": Attack(
        lambda t: ["audit", str(_elf_wheel(t, elf([Section(".text", bytes(64 << 20))])))],
        1,
        r"compresses more than 1000:1",
    ),
}


# --- malformed ELF files ----------------------------------------------------------------

MALFORMED_ELF = {
    "truncated header": (
        lambda: elf([Section(".text", V3_CODE)], truncate=70),
        "the section table at 88 is past the end of the file",
    ),
    "section table past the end": (
        lambda: elf([Section(".text", V3_CODE)], shoff=1 << 40),
        "past the end of the file",
    ),
    "65535 sections declared": (
        lambda: elf([Section(".text", V3_CODE)], shnum=65535),
        "over the limit",
    ),
    "section header size zero": (
        lambda: elf([Section(".text", V3_CODE)], shentsize=0),
        "e_shentsize",
    ),
    "section header size 1": (lambda: elf([Section(".text", V3_CODE)], shentsize=1), "e_shentsize"),
    "string table index out of range": (
        lambda: elf([Section(".text", V3_CODE)], shstrndx=999),
        "the section-name table index 999 names no table",
    ),
    "section offset past the end": (
        lambda: elf([Section(".text", V3_CODE, offset=1 << 40)]),
        "past the end of the file",
    ),
    "big-endian data": (
        lambda: b"\x7fELF\x02\x02" + elf([Section(".text", V3_CODE)])[6:],
        "e_shentsize is 16384, not 64",
    ),
    "unknown ELF class": (
        lambda: b"\x7fELF\x07\x01" + elf([Section(".text", V3_CODE)])[6:],
        "unknown ELF class 7",
    ),
}

MALFORMED = {
    f"malformed ELF: {name}": Attack(
        _audit(maker), 1, rf"error: cannot decode 'demo/_core.so': .*{message}"
    )
    for name, (maker, message) in MALFORMED_ELF.items()
}
# A CIE whose augmentation does not start with "z": pyelftools asserts on it.
_BAD_CIE = struct.pack("<II", 12, 0) + b"\x01x\x00\x01\x78\x10\x00\x00" + bytes(4)
MALFORMED["malformed ELF: unwind info with an unknown augmentation"] = Attack(
    _audit(lambda: elf([Section(".text", V3_CODE), Section(".eh_frame", _BAD_CIE, flags=2)])),
    0,
    r"v3: FMA 1\n +in: <\.text>",
)
# Garbage where only the names of functions come from is no reason to refuse the code.
MALFORMED["malformed ELF: symbol table of garbage"] = Attack(
    _audit(
        lambda: elf([Section(".text", V3_CODE), Section(".symtab", b"\xff" * 200, type=2, flags=0)])
    ),
    0,
    r"v3: FMA 1\n +in: <\.text>",
)
MALFORMED["malformed ELF: symbol table whose string table is out of range"] = Attack(
    _audit(
        lambda: elf(
            [
                Section(".text", V3_CODE),
                Section(".symtab", b"\xff" * 240, type=2, flags=0, entsize=24, link=77),
            ]
        )
    ),
    0,
    r"v3: FMA 1\n +in: <\.text>",
)
MALFORMED["malformed ELF: unwind info of garbage"] = Attack(
    _audit(lambda: elf([Section(".text", V3_CODE), Section(".eh_frame", b"\xff" * 200, flags=2)])),
    0,
    r"v3: FMA 1\n +in: <\.text>",
)


# --- check: members, sizes, nesting -----------------------------------------------------


def _check_wheel(**options: object) -> Callable[[Layout], list[str]]:
    return lambda t: ["check", str(wheel(t.inputs, **options))]  # type: ignore[arg-type]


_BOMB: dict[str, hostile.RawMember] = {}


def _bomb(arcname: str) -> hostile.RawMember:
    """1 GiB of spaces in 1 MiB of deflate, made once per test session."""
    if "stream" not in _BOMB:
        chunk = b" " * (1 << 20)
        _BOMB["stream"] = ("", *hostile.deflated([chunk] * 1024))
    _name, stream, crc, size = _BOMB["stream"]
    return (arcname, stream, crc, size)


def _bomb_wheel(member: str) -> Callable[[Layout], list[str]]:
    def make(t: Layout) -> list[str]:
        dist_info = "demo-1.0.dist-info"
        members = [
            (f"{dist_info}/METADATA", b"Metadata-Version: 2.1\nName: demo\nVersion: 1.0\n"),
            (f"{dist_info}/WHEEL", b"Wheel-Version: 1.0\nRoot-Is-Purelib: false\n"),
            (f"{dist_info}/variant.json", json.dumps(hostile.variant_doc()).encode()),
            (f"{dist_info}/RECORD", b""),
        ]
        members = [m for m in members if m[0] != f"{dist_info}/{member}"]
        path = t.inputs / "demo-1.0-cp312-cp312-linux_x86_64-x86_64_v3.whl"
        hostile.raw_zip(path, members, [_bomb(f"{dist_info}/{member}")])
        return ["check", str(path)]

    return make


def _nested(depth: int) -> bytes:
    return b'{"variants": ' + b"[" * depth + b"]" * depth + b"}"


CHECK = {
    **{
        f"check: 1 GiB {member} in a 1 MiB wheel": Attack(
            _bomb_wheel(member), 1, r"E0 .*compresses more than 1000:1"
        )
        for member in ("variant.json", "RECORD", "METADATA")
    },
    "check: variant.json nested 100,000 deep": Attack(
        _check_wheel(doc=_nested(100_000)), 1, r"E9 .*deeper than"
    ),
    "check: member ../../x": Attack(
        _check_wheel(extra=[("../../x", b"")]), 1, r"E0 .*'\.\./\.\./x' leaves"
    ),
    "check: absolute member": Attack(
        _check_wheel(extra=[("/etc/x", b"")]), 1, r"E0 .*'/etc/x' is not a relative path"
    ),
    "check: backslash member": Attack(
        _check_wheel(extra=[("demo\\..\\..\\x", b"")]), 1, r"E0 .*not a relative path"
    ),
    "check: symlink member": Attack(
        _check_wheel(extra=[hostile.symlink_member("demo/link", "/etc/passwd")]),
        1,
        r"E0 .*'demo/link' is not a regular file",
    ),
    "check: a member twice": Attack(
        _check_wheel(extra=[("demo/__init__.py", b"import os")]), 1, r"E0 .*appears twice"
    ),
    "check: a second dist-info": Attack(
        _check_wheel(extra=[("other-1.0.dist-info/variant.json", b"{}")]),
        1,
        r"E7 .*must be demo-1\.0\.dist-info",
    ),
    "audit: a second variant.json deeper in the tree is not read": Attack(
        lambda t: [
            "audit",
            str(
                wheel(
                    t.inputs,
                    payload=[
                        ("demo/_core.so", elf([Section(".text", V3_CODE)])),
                        (
                            "zzz/demo-1.0.dist-info/variant.json",
                            json.dumps(hostile.variant_doc("x86_64_v3", level="v1")).encode(),
                        ),
                    ],
                )
            ),
        ],
        0,
        r"claims: x86-64-v3;.*\n(.*\n)*  verdict: ok",
    ),
    "check: shell syntax in a tag": Attack(
        _check_wheel(filename="demo-1.0-cp312-cp312-$(touch x).whl"), 1, r"E1 "
    ),
    "check: a newline in a label": Attack(
        _check_wheel(filename="demo-1.0-cp312-cp312-linux_x86_64-x86\nforged.whl"),
        1,
        r"E3 .*x86\\nforged",
    ),
    "check: enable-if and install-time provider keys": Attack(
        _check_wheel(
            doc=hostile.variant_doc(
                providers={
                    "x86_64": {
                        "requires": ["provider-variant-x86-64"],
                        "enable-if": "platform_machine == 'x86_64'",
                        "install-time": True,
                    }
                }
            )
        ),
        1,
        r"E10 .*PEP 817 draft keys \[.enable-if., .install-time.\]; uv 0.13 refuses",
    ),
}


# --- malformed metadata: one line, never a traceback -------------------------------------


def _each_command(doc: dict[str, object] | bytes, message: str) -> dict[str, Attack]:
    """The same variant.json given to every command that reads one."""

    def labelled(t: Layout) -> Path:
        return wheel(t.inputs, doc=doc)

    def plain(t: Layout) -> Path:
        return wheel(t.inputs, label=None, doc=doc)

    return {
        "check": Attack(lambda t: ["check", str(labelled(t))], 1, message),
        "audit": Attack(lambda t: ["audit", str(labelled(t))], 1, message),
        "relabel": Attack(lambda t: ["relabel", str(plain(t)), "-o", str(t.out)], 1, message),
        "repair": Attack(lambda t: _repair(t, plain(t)), 1, message),
        "index": Attack(lambda t: ["index", str(labelled(t).parent)], 1, message),
    }


def _index_file(content: bytes) -> Callable[[Layout], list[str]]:
    def make(t: Layout) -> list[str]:
        path = t.inputs / "demo-1.0-variants.json"
        path.write_bytes(content)
        return ["check", str(path)]

    return make


def _index_doc(label: str) -> bytes:
    doc = hostile.variant_doc()
    doc["variants"] = {label: {"x86_64": {"level": ["v3"]}}}
    return json.dumps(doc).encode()


_MALFORMED_DOCS: dict[str, tuple[dict[str, object] | bytes, str]] = {
    "no variants": (
        {**hostile.variant_doc(), "variants": {}},
        r"0 entries, not one|exactly one|no variant",
    ),
    "level vX": (hostile.variant_doc(level="vX"), r"level has the bad value 'vX'"),
    "a NUL in the label": (hostile.variant_doc(label="x86\x00v3"), r"x86\\x00v3"),
    "an escape sequence in the label": (
        hostile.variant_doc(label="\x1b[2Jv3"),
        r"\\x1b\[2Jv3",
    ),
    "bad UTF-8": (b'{"variants": "\xff\xfe"}', r"UTF-8|utf-8"),
    "not an object": (b"[1, 2, 3]", r"object"),
    "NaN": (b'{"variants": NaN}', r"is not JSON: NaN is not a JSON value"),
    "a number out of range": (
        b'{"variants": {}, "x": 1e999999}',
        r"is not JSON: 1e999999 is out of range",
    ),
}

METADATA = {
    f"variant.json {name}: {command}": attack
    for name, (doc, message) in _MALFORMED_DOCS.items()
    for command, attack in _each_command(doc, message).items()
}
METADATA |= {
    "RECORD of bad UTF-8": Attack(_check_wheel(record=b"\xff\xfe,,\n"), 1, r"E8 .*UTF-8"),
    "RECORD with a 200 KB field": Attack(
        _check_wheel(record=b"x" * 200_000 + b",,\n"), 1, r"E8 .*field larger"
    ),
    "relabel of a wheel whose RECORD is bad UTF-8": Attack(
        lambda t: [
            "relabel",
            str(wheel(t.inputs, label=None, doc=hostile.variant_doc(), record=b"\xff,,\n")),
            "-o",
            str(t.out),
        ],
        1,
        r"does not conform.*UTF-8",
    ),
    "index file with a 10 MB label": Attack(
        _index_file(_index_doc("a" * 10_000_000)),
        0,
        r"W4 .*'a{500,}\.\.\. \(\d+ more characters\)\n",
    ),
    "index file nested 100,000 deep": Attack(
        _index_file(b"[" * 100_000 + b"]" * 100_000), 1, r"E29 .*deeper than"
    ),
    "index file of 70 MB": Attack(_index_file(b" " * (70 << 20)), 1, r"E29 .*larger than"),
    "index file of bad UTF-8": Attack(_index_file(b"\xff\xfe"), 1, r"E29 "),
}


# --- names that would reach the terminal ----------------------------------------------------

ESCAPE_NAME = "demo-1.0-cp312-cp312-linux_x86_64-\x1b]0;owned\x07\x1b[2J.whl"
FORGED_LINE = "demo-1.0-cp312-cp312-linux_x86_64.whl\npolywheel: all checks passed.whl"

NAMES = {
    f"{command}: {what}": Attack(
        lambda t, command=command, name=name: [
            command,
            str(wheel(t.inputs, label=None, filename=name)),
            *(["-o", str(t.out)] if command == "relabel" else []),
        ],
        1,
        pattern,
    )
    for command in ("check", "audit", "relabel", "repair")
    for what, name, pattern in (
        ("escape sequences in a filename", ESCAPE_NAME, r"\\x1b\]0;owned\\x07"),
        ("a newline in a filename", FORGED_LINE, r"\.whl\\npolywheel: all checks passed"),
    )
}
NAMES |= {
    "check: escape sequences in a member name": Attack(
        _check_wheel(extra=[("demo/\x1b[2J\x1b[31mok", b"")]), 1, r"E0 .*\\x1b\[2J"
    ),
    "audit: escape sequences in a symbol name": Attack(
        _audit(lambda: hostile.with_symbol(V3_CODE, b"\x1b]0;owned\x07evil")),
        0,
        r"in: \\x1b\]0;owned\\x07evil \(1\)",
    ),
    "audit: a right-to-left override in a member name": Attack(
        lambda t: ["audit", str(wheel(t.inputs, extra=[("demo/\u202egpj.so", b"")]))],
        1,
        r"\\u202egpj",
    ),
}


def _corrupt_deflate(command: str) -> Callable[[Layout], list[str]]:
    """A library whose deflate stream is garbage: zlib refuses it half-way."""

    def make(layout: Layout) -> list[str]:
        path = _elf_wheel(layout, elf([Section(".text", V1_CODE * 400)]))
        raw = bytearray(path.read_bytes())
        at = raw.find(b"demo/_core.so") + len("demo/_core.so")
        raw[at : at + 40] = bytes(40)
        path.write_bytes(bytes(raw))
        return [command, str(path)]

    return make


INFLATE = {
    f"{command}: a member whose compressed bytes are garbage": Attack(
        _corrupt_deflate(command), 1, r"demo/_core\.so cannot be read: Error -3"
    )
    for command in ("audit", "check")
}


CASES = {**PATHS, **AUDIT_WORK, **MALFORMED, **CHECK, **METADATA, **NAMES, **INFLATE}


@pytest.mark.parametrize("case", list(CASES))
def test_hostile_input(layout: Layout, case: str) -> None:
    _check(layout, CASES[case])


# --- interrupted writers leave nothing behind -------------------------------------------

SLOW_TOOL = "import sys, time; print('started', flush=True); time.sleep(120)"


def _start_slow_repair(layout: Layout) -> subprocess.Popen[bytes]:
    source = wheel(layout.inputs, label=None, doc=hostile.variant_doc())
    return subprocess.Popen(
        [
            sys.executable,
            "-m",
            "polywheel",
            *_repair(layout, source, sys.executable, "-c", SLOW_TOOL, "{wheel}"),
        ],
        cwd=layout.out.parent,
        env=layout.env(),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )


def _wait_for(condition: Callable[[], bool], what: str) -> None:
    deadline = time.monotonic() + 30
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.05)


def _tool_running(layout: Layout) -> bool:
    return bool(_tool_pids(layout))


def _tool_pids(layout: Layout) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                cmdline = (entry / "cmdline").read_bytes()
            except OSError:
                continue
            # The tool, not polywheel: its wheel argument lies in the scratch folder.
            if (
                SLOW_TOOL.encode() in cmdline
                and str(layout.out / ".polywheel-").encode() in cmdline
            ):
                found.append(int(entry.name))
    return found


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT, signal.SIGHUP])
def test_an_interrupted_repair_removes_its_scratch_and_stops_the_tool(
    layout: Layout, signum: int
) -> None:
    proc = _start_slow_repair(layout)
    _wait_for(lambda: _tool_running(layout), "the repair tool to start")
    assert list(layout.out.glob(".polywheel-*")), "the tool works in a scratch folder in -w"
    proc.send_signal(signum)
    _out, err = proc.communicate(timeout=30)
    assert proc.returncode == 128 + signum
    assert err.decode().splitlines() == [
        f"polywheel: repair interrupted by {signal.Signals(signum).name}: removed its "
        "scratch files; nothing was left half-written"
    ]
    assert list(layout.out.iterdir()) == []
    _wait_for(lambda: not _tool_running(layout), "the repair tool to stop")


def test_a_killed_repair_orphans_nothing_and_the_next_run_cleans_up(layout: Layout) -> None:
    proc = _start_slow_repair(layout)
    _wait_for(lambda: _tool_running(layout), "the repair tool to start")
    proc.kill()
    proc.communicate(timeout=30)
    # The kernel stops the tool when its parent dies (PR_SET_PDEATHSIG).
    _wait_for(lambda: not _tool_running(layout), "the orphaned repair tool to stop")
    leftovers = list(layout.out.glob(".polywheel-*"))
    assert leftovers, "kill -9 cannot clean up; the next run must"
    run = polywheel(
        layout, *_repair(layout, wheel(layout.inputs, label=None, doc=hostile.variant_doc()))
    )
    assert run.status == 0, run.text
    assert [p.name for p in layout.out.iterdir()] == [
        "demo-1.0-cp312-cp312-linux_x86_64-x86_64_v3.whl"
    ]


def test_relabel_copies_never_leave_a_partial_wheel(
    layout: Layout, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A copy that fails midway (a full disk) leaves neither the final name nor a
    temporary file, and the source is untouched."""
    import shutil

    from polywheel.errors import PolywheelError
    from polywheel.relabel import relabel_wheel

    source = wheel(layout.inputs, label=None, doc=hostile.variant_doc())
    before = source.read_bytes()

    def full_disk(src: Path, dst: Path) -> None:
        Path(dst).write_bytes(Path(src).read_bytes()[:100])
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(shutil, "copyfile", full_disk)
    with pytest.raises((OSError, PolywheelError)):
        relabel_wheel(source, layout.out)
    assert list(layout.out.iterdir()) == []
    assert source.read_bytes() == before
