"""Every hostile input of tests/test_hostile.py against one version of polywheel, as a table.

The cases of `CASES` in tests/test_hostile.py (hostile wheels, ELF files, fat binaries,
variant.json and index files, names with escape sequences) are run one by one, each in
a fresh layout, through the real command line in a child process, exactly as the test
does. Instead of asserting, this prints one Markdown row per case: the exit status,
whether a Python traceback reached the output, the most telling output line, the CPU
time and the peak memory of the child (from wait4). A case still running after
`--timeout` seconds is killed and reported as timed out.

It exists to compare two versions of the code, typically the code before and after a
hardening change. `--src` puts another checkout's `src` folder first on the child's
PYTHONPATH, so the child imports that polywheel instead of the installed one (the
table's header says which `polywheel/__init__.py` the child imported):

    .venv/bin/python benchmarks/hostile_report.py --markdown after.md
    git worktree add /tmp/old 417bc85
    .venv/bin/python benchmarks/hostile_report.py --src /tmp/old/src --markdown before.md
    git worktree remove --force /tmp/old

Positional arguments keep only the cases whose name contains one of them
(case-insensitive), e.g. `hostile_report.py fatbin "check:"`.

The most telling line is the last line of a traceback (the exception) when there is
one, else the first line containing 'error', 'E<digit>' or 'verdict', else the first
line; the case's temporary folder is written `<root>`, control characters are escaped,
it is cut to 110 characters and `|` is escaped. Since escaping hides whether the
command itself escaped them, the "raw ctrl" column says whether raw control characters
(escape sequences, NUL, bidirectional overrides; not tab or newline) reached the output.
The "as tested" column says whether the exit status and the output are those the test
expects; "stray writes" names what the command changed outside what the case lets it
write (the victim folder, the input, the temporary folder) or left behind, as the test
checks it.

`--max-memory` caps the address space of the children (8 GiB by default, 0 for none),
so an old version that allocates without bound fails with MemoryError instead of
bringing the machine to the out-of-memory killer.
"""

from __future__ import annotations

import argparse
import os
import re
import resource
import shutil
import subprocess
import sys
import tempfile
import time
import unicodedata
from pathlib import Path

TESTS = Path(__file__).resolve().parent.parent / "tests"
sys.path.insert(0, str(TESTS))

import hostile  # noqa: E402
from test_hostile import CASES, Attack, Layout, Run, _state, polywheel  # noqa: E402

LINE_WIDTH = 110
TELLING = re.compile(r"error|E\d|verdict|Traceback", re.IGNORECASE)


def make_layout(root: Path) -> Layout:
    """The same layout as the `layout` fixture of tests/test_hostile.py."""
    here = Layout(root)
    here.victim.mkdir(parents=True)
    hostile.wheel(here.victim, distribution="victim")
    (here.victim / "notes.txt").write_text("the user's only copy\n")
    here.tmp.mkdir()
    (root / "home").mkdir()
    here.inputs.mkdir(parents=True)
    return here


def escape(text: str) -> str:
    """Control and format characters (escape sequences, NUL, right-to-left overrides)
    as Python escapes, so that none reaches the terminal or breaks the table."""
    out = []
    for char in text:
        if unicodedata.category(char)[0] == "C":
            code = ord(char)
            out.append(f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}")
        else:
            out.append(char)
    return "".join(out)


def cell(text: str) -> str:
    text = escape(text.strip())
    if len(text) > LINE_WIDTH:
        text = text[: LINE_WIDTH - 1] + "…"
    return text.replace("|", "\\|")


def traceback_end(lines: list[str]) -> str | None:
    """The exception line of the last traceback in the output, if there is one."""
    starts = [i for i, line in enumerate(lines) if line.startswith("Traceback (most recent")]
    if not starts:
        return None
    for line in lines[starts[-1] + 1 :]:
        if line.strip() and not line[0].isspace():
            return line
    return lines[starts[-1]]


def shorten_paths(text: str, root: Path) -> str:
    """The case's temporary folder as `<root>`, so rows show what differs, not where."""
    for form in {str(root.resolve()), str(root)}:
        text = text.replace(form, "<root>")
    return text


def telling_line(text: str) -> str:
    lines = text.splitlines()
    end = traceback_end(lines)
    if end is not None:
        return end
    for line in lines:
        if TELLING.search(line):
            return line
    for line in lines:
        if line.strip():
            return line
    return "(no output)"


def raw_controls(text: str) -> bool:
    return any(unicodedata.category(char)[0] == "C" and char not in "\n\t\r" for char in text)


def as_tested(attack: Attack, run: Run) -> str:
    ok = (
        run.status == attack.status
        and re.search(attack.message, run.text) is not None
        and "Traceback" not in run.text
        and "\x1b" not in run.text
        and "\x00" not in run.text
    )
    return "yes" if ok else "**no**"


def stray_writes(layout: Layout, attack: Attack, before: dict[str, str]) -> str:
    """What the command changed outside what it may write, or left behind, as the test
    checks it: files under the layout (not the home folder), the temporary folder and
    `.polywheel-*` scratch files."""
    after = _state(layout.root, _skip(layout, attack))
    changed = sorted(k for k in before.keys() | after.keys() if before.get(k) != after.get(k))
    changed += [
        str(p.relative_to(layout.root))
        for p in (*layout.tmp.iterdir(), *(layout.root / "work").rglob(".polywheel-*"))
        if str(p.relative_to(layout.root)) not in changed
    ]
    if not changed:
        return ""
    shown = ", ".join(changed[:2]) + (f" (+{len(changed) - 2})" if len(changed) > 2 else "")
    return "**" + cell(shown) + "**"


def _skip(layout: Layout, attack: Attack) -> tuple[Path, ...]:
    writable = tuple(layout.root / "work" / p for p in attack.may_write)
    return (*writable, layout.root / "home", layout.root / "usage.json")


def run_case(name: str, attack: Attack, timeout: float, scratch: Path) -> list[str]:
    root = Path(tempfile.mkdtemp(prefix="case-", dir=scratch))
    try:
        layout = make_layout(root)
        args = attack.make(layout)
        before = _state(root, _skip(layout, attack))
        try:
            run = polywheel(layout, *args, timeout=timeout)
        except AssertionError as error:
            if "still running" not in str(error):
                raise
            stray = stray_writes(layout, attack, before)
            return [name, "—", "", "", f"timed out after {timeout:g} s", "**no**", stray, "—", "—"]
        return [
            name,
            str(run.status),
            "**yes**" if "Traceback" in run.text else "",
            "**yes**" if raw_controls(run.text) else "",
            cell(telling_line(shorten_paths(run.text, root))),
            as_tested(attack, run),
            stray_writes(layout, attack, before),
            f"{run.cpu:.2f}",
            f"{run.peak_mb:.0f}",
        ]
    except Exception as error:  # the harness itself failed (e.g. the launcher was killed)
        message = cell(f"harness: {type(error).__name__}: {error}")
        return [name, "—", "", "", message, "**no**", "", "—", "—"]
    finally:
        shutil.rmtree(root, ignore_errors=True)


def imported_polywheel(scratch: Path) -> str:
    """Which polywheel a child with the cases' environment imports."""
    layout = Layout(scratch)
    result = subprocess.run(
        [sys.executable, "-c", "import polywheel; print(polywheel.__file__)"],
        env=layout.env(),
        cwd=scratch,
        check=False,
        capture_output=True,
        text=True,
    )
    if result.returncode != 0:
        raise SystemExit(f"the child cannot import polywheel:\n{result.stderr}")
    return result.stdout.strip()


def git_head(src: Path) -> str:
    result = subprocess.run(
        ["git", "-C", str(src), "log", "-1", "--format=%h %s"],
        capture_output=True,
        text=True,
        check=False,
    )
    return result.stdout.strip() or "(not a git checkout)"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("filters", nargs="*", help="keep cases whose name contains one of these")
    parser.add_argument("--timeout", type=float, default=20, help="seconds per case (20)")
    parser.add_argument("--src", type=Path, help="a checkout's src folder for the child to import")
    parser.add_argument("--markdown", type=Path, help="also write the table to this file")
    parser.add_argument(
        "--max-memory", type=int, default=8192, help="address-space cap of the children, MiB"
    )
    options = parser.parse_args(argv)

    if options.src is not None:
        src = options.src.resolve()
        if not (src / "polywheel" / "__init__.py").is_file():
            parser.error(f"{src} holds no polywheel package")
        os.environ["PYTHONPATH"] = os.pathsep.join(
            filter(None, [str(src), os.environ.get("PYTHONPATH")])
        )
    if options.max_memory > 0:
        # Inherited by every child; this process stays far below it.
        limit = options.max_memory << 20
        resource.setrlimit(resource.RLIMIT_AS, (limit, resource.getrlimit(resource.RLIMIT_AS)[1]))

    filters = [f.lower() for f in options.filters]
    cases = {n: a for n, a in CASES.items() if not filters or any(f in n.lower() for f in filters)}
    if not cases:
        parser.error("no case matches")

    scratch = Path(tempfile.mkdtemp(prefix="hostile-report-"))
    try:
        module = imported_polywheel(scratch)
        rows = []
        for number, (name, attack) in enumerate(cases.items(), 1):
            start = time.monotonic()
            rows.append(run_case(name, attack, options.timeout, scratch))
            row = rows[-1]
            print(
                f"[{number}/{len(cases)}] {name}: status {row[1]}, "
                f"{time.monotonic() - start:.1f} s",
                file=sys.stderr,
                flush=True,
            )
    finally:
        shutil.rmtree(scratch, ignore_errors=True)

    code = Path(module).parent.parent
    header = [
        f"polywheel imported from `{module}` ({git_head(code)}); "
        f"timeout {options.timeout:g} s; "
        f"address space cap {options.max_memory or 'none'} MiB",
        "",
        "| case | exit | traceback | raw ctrl | most telling line | as tested | stray writes"
        " | CPU s | peak MB |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    lines = header + ["| " + " | ".join([cell(row[0]), *row[1:]]) + " |" for row in rows]
    timeouts = sum(row[1] == "—" for row in rows)
    tracebacks = sum(row[2] != "" for row in rows)
    controls = sum(row[3] != "" for row in rows)
    failing = sum(row[5] != "yes" for row in rows)
    stray = sum(row[6] != "" for row in rows)
    lines += [
        "",
        f"{len(rows)} cases: {failing} not as tested, {tracebacks} with a traceback, "
        f"{controls} with raw control characters, {stray} with stray writes, "
        f"{timeouts} timed out or failed to run.",
    ]
    table = "\n".join(lines) + "\n"
    sys.stdout.write(table)
    if options.markdown is not None:
        options.markdown.parent.mkdir(parents=True, exist_ok=True)
        options.markdown.write_text(table, encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
