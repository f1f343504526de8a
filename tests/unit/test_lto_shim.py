"""The LTO cache's lto-wrapper (cmake/lto_shim.py) against a stand-in GCC: a fake
lto-wrapper that counts its runs and writes objects derived from its inputs, with fake
lto1, assembler and driver programs beside it."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from polywheel.cmake import lto_cache
from polywheel.cmake.lto_shim import CACHE_ENV, SHIM_ENV, STATS_ENV

pytestmark = pytest.mark.skipif(os.name != "posix", reason="GCC's LTO on a POSIX system")

# Reads the response file as GCC's plugin writes it, and writes two objects made of
# the bytes of its inputs (so a wrong key would give wrong bytes), in TMPDIR.
FAKE_WRAPPER = """#!/bin/sh
echo run >> "$FAKE_RUNS"
[ -n "$FAKE_FAIL" ] && { echo "lto-wrapper: fake failure" >&2; exit 3; }
set -- $(cat "${1#@}")
out=$(mktemp "${TMPDIR:-/tmp}/fakeXXXXXX")
for arg; do
    case $arg in -fresolution=*) cat "${arg#*=}" ;; -*) ;; *) cat "$arg" ;; esac
done > "$out.0"
echo "$COLLECT_GCC_OPTIONS" >> "$out.0"
echo second > "$out.1"
rm -f "$out"
echo "$out.0"; echo "$out.1"
"""


@pytest.fixture
def gcc(tmp_path: Path) -> dict[str, str]:
    """The environment the linker's plugin gives lto-wrapper, with the shim first on
    COMPILER_PATH, the cache in tmp_path, and a working folder with two IR objects."""
    tools = tmp_path / "gcc"
    tools.mkdir()
    for name, text in (
        ("lto-wrapper", FAKE_WRAPPER), ("lto1", "#!/bin/sh\n"), ("as", "#!/bin/sh\n"),
        ("g++", "#!/bin/sh\n"),
    ):  # fmt: skip
        (tools / name).write_text(text)
        (tools / name).chmod(0o755)
    work = tmp_path / "build" / "v1"
    work.mkdir(parents=True)
    (work / "a.o").write_bytes(b"IR a")
    (work / "b.o").write_bytes(b"IR b")
    (work / "link.res").write_text("2\na.o 1\n1 abc PREVAILING_DEF main\n")
    shim = tmp_path / "shim"
    shim.mkdir()
    return {
        "PATH": os.environ["PATH"],
        "TMPDIR": str(tmp_path),
        "PWD": str(work),
        "COMPILER_PATH": f"{shim}:{tools}",
        "COLLECT_GCC": str(tools / "g++"),
        "COLLECT_GCC_OPTIONS": f"'-O2' '-shared' '-ffile-prefix-map={work}=build' '-o' 'm.so'",
        SHIM_ENV: str(shim),
        CACHE_ENV: str(tmp_path / "cache"),
        STATS_ENV: str(tmp_path / "stats.log"),
        "FAKE_RUNS": str(tmp_path / "runs"),
    }


def link(env: dict[str, str], cwd: str | None = None) -> tuple[int, list[bytes], str]:
    """One lto-wrapper run through the shim: its status, the bytes of the objects it
    named (deleted after, as the plugin does) and its error output."""
    folder = Path(cwd or env["PWD"])
    args = folder / "args"
    args.write_text("-fresolution=link.res\n-flinker-output=dyn\na.o\nb.o\n")
    done = subprocess.run(
        [sys.executable, "-c", "import sys; from polywheel.cmake.lto_shim import main; "
         "sys.exit(main(sys.argv[1:]))", f"@{args}"],
        cwd=folder, env={**env, "PWD": str(folder)}, capture_output=True, check=False,
    )  # fmt: skip
    outputs = []
    for name in done.stdout.decode().split():
        outputs.append(Path(name).read_bytes())
        Path(name).unlink()
    return done.returncode, outputs, done.stderr.decode()


def runs(env: dict[str, str]) -> int:
    path = Path(env["FAKE_RUNS"])
    return len(path.read_text().split()) if path.exists() else 0


def events(env: dict[str, str]) -> list[str]:
    return Path(env[STATS_ENV]).read_text().split()


def test_a_second_identical_link_takes_the_stored_objects(gcc: dict[str, str]) -> None:
    status, first, _ = link(gcc)
    assert status == 0 and runs(gcc) == 1
    assert first[0].startswith(b"2\na.o 1\n1 abc PREVAILING_DEF main\nIR aIR b")
    assert first[1] == b"second\n"
    status, second, _ = link(gcc)
    assert (status, second, runs(gcc)) == (0, first, 1)
    assert events(gcc) == ["miss", "hit"]
    stats = lto_cache.read_stats(Path(gcc[STATS_ENV]))
    assert stats is not None and stats.describe() == "1 of 2 link(s) from the cache"


@pytest.mark.parametrize(
    "change",
    ["object", "resolution", "options", "lto1", "driver", "gcc variable"],
)
def test_a_change_to_what_the_code_generation_reads_misses(
    gcc: dict[str, str], change: str
) -> None:
    link(gcc)
    work, tools = Path(gcc["PWD"]), Path(gcc["COMPILER_PATH"].split(":")[1])
    if change == "object":
        (work / "b.o").write_bytes(b"IR b, changed")
    elif change == "resolution":
        (work / "link.res").write_text("2\na.o 1\n1 abc RESOLVED_DYN main\n")
    elif change == "options":
        gcc["COLLECT_GCC_OPTIONS"] += " '-march=x86-64-v3'"
    elif change == "lto1":
        (tools / "lto1").write_text("#!/bin/sh\n# another GCC\n")
    elif change == "driver":
        (tools / "g++").write_text("#!/bin/sh\n# another driver\n")
    else:
        gcc["GCC_COMPARE_DEBUG"] = "1"
    assert link(gcc)[0] == 0
    assert runs(gcc) == 2 and events(gcc) == ["miss", "miss"]


def test_another_build_folder_hits_only_where_the_link_maps_it(
    gcc: dict[str, str], tmp_path: Path
) -> None:
    link(gcc)
    other = tmp_path / "build" / "v3"
    other.mkdir()
    for name in ("a.o", "b.o", "link.res"):
        (other / name).write_bytes((Path(gcc["PWD"]) / name).read_bytes())
    # Polywheel.cmake maps each build folder to the same name: the output holds no
    # trace of the folder, so the other variant takes the objects.
    mapped = gcc["COLLECT_GCC_OPTIONS"].replace(gcc["PWD"], str(other))
    assert link({**gcc, "COLLECT_GCC_OPTIONS": mapped}, str(other))[0] == 0
    assert runs(gcc) == 1
    # Unmapped, or with a second map that also touches the folder, it is part of the key.
    unmapped = "'-O2' '-shared' '-o' 'm.so'"
    link({**gcc, "COLLECT_GCC_OPTIONS": unmapped}, str(other))
    assert runs(gcc) == 2
    both = f"{mapped} '-ffile-prefix-map={tmp_path}=/x'"
    link({**gcc, "COLLECT_GCC_OPTIONS": both}, str(other))
    assert runs(gcc) == 3
    assert events(gcc) == ["miss", "hit", "miss", "miss"]


@pytest.mark.parametrize(
    "option",
    [
        "-save-temps",
        "-fplugin=x.so",
        "-specs=my.specs",
        "-B/elsewhere/",
        "-fdump-ipa-all",
        "--coverage",
    ],
)
def test_options_that_read_or_write_other_files_are_not_cached(
    gcc: dict[str, str], option: str
) -> None:
    gcc["COLLECT_GCC_OPTIONS"] += f" '{option}'"
    link(gcc)
    link(gcc)
    assert runs(gcc) == 2 and events(gcc) == ["uncacheable", "uncacheable"]


def test_a_damaged_entry_is_never_used(gcc: dict[str, str], tmp_path: Path) -> None:
    _, first, _ = link(gcc)
    (stored,) = (tmp_path / "cache").glob("*/*/0")
    stored.write_bytes(b"tampered")
    status, again, _ = link(gcc)
    assert (status, again, runs(gcc)) == (0, first, 2)
    assert events(gcc) == ["miss", "miss"]
    assert link(gcc)[1] == first and runs(gcc) == 2  # stored anew


def test_a_failing_lto_wrapper_stores_nothing_and_keeps_its_status(
    gcc: dict[str, str], tmp_path: Path
) -> None:
    status, outputs, err = link({**gcc, "FAKE_FAIL": "1"})
    assert (status, outputs) == (3, [])
    assert "fake failure" in err
    assert not list((tmp_path / "cache").glob("*/*/manifest.json"))


def test_without_gccs_own_lto_wrapper_the_link_fails_with_one_line(gcc: dict[str, str]) -> None:
    status, _, err = link({**gcc, "COMPILER_PATH": gcc[SHIM_ENV]})
    assert status == 1
    assert err.strip() == "polywheel: GCC's lto-wrapper was not found on COMPILER_PATH"


def test_pruning_removes_the_least_recently_used_entries(tmp_path: Path) -> None:
    root = tmp_path / "lto"
    for i, age in enumerate((300, 100, 200)):
        entry = root / "ab" / f"key{i}"
        entry.mkdir(parents=True)
        (entry / "0").write_bytes(b"x" * 1000)
        os.utime(entry, (1_700_000_000 - age, 1_700_000_000 - age))
    (root / "ab" / ".tmp-writing").mkdir()
    assert lto_cache.prune(root, limit=2000) == 1
    assert sorted(p.name for p in (root / "ab").iterdir()) == [".tmp-writing", "key1", "key2"]
    assert lto_cache.prune(root, limit=2000) == 0


def test_code_for_an_offload_target_is_not_cached(gcc: dict[str, str]) -> None:
    """GCC sets OFFLOAD_TARGET_NAMES for every link where it was built with offload
    targets (Debian's is): only an object that holds offload code makes lto-wrapper run
    mkoffload and another target's compiler, which the key does not hash."""
    gcc["OFFLOAD_TARGET_NAMES"] = "nvptx-none:amdgcn-amdhsa"
    link(gcc)
    link(gcc)
    assert runs(gcc) == 1 and events(gcc) == ["miss", "hit"]
    work = Path(gcc["PWD"])
    # Across the boundary of two reads.
    (work / "b.o").write_bytes(b"x" * ((1 << 20) - 5) + b".gnu.offload_lto_.opts" + b"y" * 64)
    link(gcc)
    link(gcc)
    assert runs(gcc) == 3 and events(gcc) == ["miss", "hit", "uncacheable", "uncacheable"]


def test_an_entry_missing_an_object_is_removed(gcc: dict[str, str], tmp_path: Path) -> None:
    _, first, _ = link(gcc)
    (stored,) = (tmp_path / "cache").glob("*/*/1")
    stored.unlink()
    assert link(gcc)[1] == first and runs(gcc) == 2
    assert not list(Path(gcc["TMPDIR"]).glob("polywheel-lto-*")), "a copy was left behind"


def test_the_written_shim_runs_from_an_interpreter_path_with_a_space(
    gcc: dict[str, str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The script GCC runs, as polywheel writes it: it finds its own folder without
    being told (and never runs itself as the real lto-wrapper)."""
    interpreter = tmp_path / "python with space"
    interpreter.symlink_to(sys.executable)
    monkeypatch.setattr(sys, "executable", str(interpreter))
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "home"))
    shim = lto_cache.shim_folder()
    env = {k: v for k, v in gcc.items() if k != SHIM_ENV}
    env["COMPILER_PATH"] = f"{shim}:{gcc['COMPILER_PATH'].split(':')[1]}"
    work = Path(gcc["PWD"])
    (work / "args").write_text("-fresolution=link.res\n-flinker-output=dyn\na.o\nb.o\n")
    for expected in (["miss"], ["miss", "hit"]):
        done = subprocess.run(
            [str(shim / "lto-wrapper"), f"@{work / 'args'}"],
            cwd=work, env=env, capture_output=True, text=True, check=True,
        )  # fmt: skip
        assert len(done.stdout.split()) == 2 and events(gcc) == expected
    alone = subprocess.run(
        [str(shim / "lto-wrapper"), f"@{work / 'args'}"],
        cwd=work, env={**env, "COMPILER_PATH": str(shim)},
        capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    assert alone.returncode == 1 and "lto-wrapper was not found" in alone.stderr
