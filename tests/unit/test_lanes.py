"""Which variant build goes first, and lanes that wait for it (pipeline/lanes.py)."""

from __future__ import annotations

import threading
import time
from pathlib import Path

from polywheel.matrix.expand import expand_matrix
from polywheel.matrix.spec import VariantSpec
from polywheel.pipeline.lanes import Lanes, primer
from polywheel.settings import read_settings


def specs(*variants: dict[str, object]) -> list[tuple[str, VariantSpec | None]]:
    matrix = expand_matrix(read_settings({"tool": {"variants": {"variant": list(variants)}}}))
    return [(spec.label, spec) for spec in matrix.variants]


V1 = {"label": "v1", "properties": ["x86_64 :: level :: v1"]}
V3 = {"label": "v3", "properties": ["x86_64 :: level :: v3"]}
SM80 = {"label": "sm80", "properties": ["x86_64 :: level :: v3"], "cuda-architectures": ["80"]}


def test_targets_mode_with_the_cache_primes_with_the_first_build() -> None:
    assert primer(specs(V1, V3), apply_flags="targets", cached=True) == "v1"


def test_no_primer_without_the_cache_or_with_one_build() -> None:
    assert primer(specs(V1, V3), apply_flags="targets", cached=False) is None
    assert primer(specs(V3), apply_flags="targets", cached=True) is None
    assert primer([("plain", None)], apply_flags="global", cached=True) is None


def test_global_flags_prime_only_where_two_builds_compile_c_alike() -> None:
    assert primer(specs(V1, V3), apply_flags="global", cached=True) is None
    # A GPU variant of the same CPU level: its host code is compiled like v3's.
    assert primer(specs(V3, SM80), apply_flags="global", cached=True) == "v3"
    # The primer is one whose compiles another build reads, not merely the first.
    assert primer(specs(V1, V3, SM80), apply_flags="global", cached=True) == "v3"


def test_the_other_lanes_start_once_the_primer_is_built() -> None:
    order = Lanes(["a", "b", "c"], "b")
    started: list[tuple[str, int]] = []
    lock = threading.Lock()

    def build(name: str, lane: int) -> None:
        with lock:
            started.append((name, lane))
        time.sleep(0.05)

    stopping = threading.Event()
    threads = [
        threading.Thread(target=order.run, args=(i, lambda n, i=i: build(n, i), stopping))
        for i in range(2)
    ]
    for thread in reversed(threads):
        thread.start()
    for thread in threads:
        thread.join(5)
    assert started[0] == ("b", 0)
    assert sorted(name for name, _ in started[1:]) == ["a", "c"]


def test_a_waiting_lane_stops_with_the_build() -> None:
    order = Lanes(["a", "b"], "a")
    stopping = threading.Event()
    stopping.set()
    order.run(1, lambda name: None, stopping)  # returns without building
    assert order.pending.qsize() == 2


def test_workers_start_early_only_when_some_variant_has_no_earlier_build(
    tmp_path: Path,
) -> None:
    from polywheel.pipeline.warm import likely_to_build

    names = ["x86_64_v1", "x86_64_v3"]
    assert likely_to_build(tmp_path, names, rebuild=False)  # never built
    cache = tmp_path / "build" / "polywheel-cache"
    (cache / "x86_64_v1").mkdir(parents=True)
    (cache / "x86_64_v1" / "manifest.json").write_text("{}")
    assert likely_to_build(tmp_path, names, rebuild=False)  # v3 never built
    (cache / "x86_64_v3").mkdir()
    (cache / "x86_64_v3" / "manifest.json").write_text("{}")
    assert not likely_to_build(tmp_path, names, rebuild=False)  # a rerun: maybe nothing
    assert likely_to_build(tmp_path, names, rebuild=True)


def test_one_build_more_than_jobs_where_each_job_takes_its_own_slot() -> None:
    from polywheel.pipeline.warm import lane_count

    assert lane_count(3, 2, shared=True) == 3
    assert lane_count(5, 2, shared=True) == 3
    assert lane_count(3, 2, shared=False) == 2  # a fixed share each
    assert lane_count(3, 1, shared=True) == 1  # -j 1: one thing at a time
    assert lane_count(1, 4, shared=True) == 1
    assert lane_count(0, 0, shared=False) == 1


def test_workers_preload_numpy_only_where_a_build_would_import_it() -> None:
    import importlib.util

    from polywheel.pipeline.warm import build_imports

    has_numpy = importlib.util.find_spec("numpy") is not None
    assert build_imports({}, {}) == ["polywheel.pipeline.preload"] + ["numpy"] * has_numpy
    off = {"tool": {"scikit-build": {"cmake": {"python-hints": False}}}}
    assert build_imports(off, {}) == ["polywheel.pipeline.preload"]
    assert build_imports({}, {"cmake.python-hints": "false"}) == ["polywheel.pipeline.preload"]


def test_a_first_build_is_known_before_the_project_is_read(tmp_path: Path) -> None:
    from polywheel.pipeline.warm import early_imports, never_built

    assert never_built(tmp_path)
    (tmp_path / "build" / "polywheel-cache" / "x86_64_v1").mkdir(parents=True)
    assert never_built(tmp_path)  # an entry without its manifest was never completed
    (tmp_path / "build" / "polywheel-cache" / "x86_64_v1" / "manifest.json").write_text("{}")
    assert not never_built(tmp_path)
    # What the server imports comes from pyproject.toml as it is; an unreadable one
    # counts as empty (the reader reports it later).
    (tmp_path / "pyproject.toml").write_text("[tool.scikit-build]\ncmake.python-hints = false\n")
    assert early_imports(tmp_path, {}) == ["polywheel.pipeline.preload"]
    (tmp_path / "pyproject.toml").write_text("not toml = = =")
    assert early_imports(tmp_path, {"cmake.python-hints": "false"}) == [
        "polywheel.pipeline.preload"
    ]
    # Not validated yet: any shape is read without an error.
    for text in ("tool = 1\n", "[tool]\nscikit-build = []\n", "[tool.scikit-build]\ncmake = 3\n"):
        (tmp_path / "pyproject.toml").write_text(text)
        assert early_imports(tmp_path, {})[0] == "polywheel.pipeline.preload"
