"""Which variant build goes first, and lanes that wait for it (pipeline/lanes.py)."""

from __future__ import annotations

import dataclasses
import threading
import time
from pathlib import Path

from polywheel.cmake.job_slots import JobSlots
from polywheel.matrix.expand import expand_matrix
from polywheel.matrix.spec import VariantSpec
from polywheel.pipeline.lanes import Lanes, gate_others, primer
from polywheel.pipeline.variant import VariantJob
from polywheel.settings import read_settings


def specs(*variants: dict[str, object]) -> list[tuple[str, VariantSpec | None]]:
    matrix = expand_matrix(read_settings({"tool": {"variants": {"variant": list(variants)}}}))
    return [(spec.label, spec) for spec in matrix.variants]


V1 = {"label": "v1", "properties": ["x86_64 :: level :: v1"]}
V3 = {"label": "v3", "properties": ["x86_64 :: level :: v3"]}
V4 = {"label": "v4", "properties": ["x86_64 :: level :: v4"]}
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


def test_a_first_build_is_known_before_the_project_is_read(tmp_path: Path) -> None:
    from polywheel.pipeline.warm import never_built

    assert never_built(tmp_path)
    (tmp_path / "build" / "polywheel-cache" / "x86_64_v1").mkdir(parents=True)
    assert never_built(tmp_path)  # an entry without its manifest was never completed
    (tmp_path / "build" / "polywheel-cache" / "x86_64_v1" / "manifest.json").write_text("{}")
    assert not never_built(tmp_path)


def _jobs() -> dict[str, VariantJob]:
    handoff = JobSlots("/run/fifo", "-j2 --jobserver-auth=fifo:/run/fifo")
    return {
        name: VariantJob(spec, Path("out"), Path("staging") / name, {}, jobs=2, slots=handoff)
        for name, spec in specs(V1, V3, V4)
    }


def test_the_others_are_gated_by_the_primer_and_compile_their_own_targets_meanwhile() -> None:
    gated = gate_others(_jobs(), "v1", "/run/gate", apply_flags="targets")
    primer_job = gated["v1"]
    assert primer_job.slots is not None and primer_job.slots.gate is None
    # Its ninja starts more jobs than the others': the FIFO serves waiting jobs in turn.
    assert primer_job.jobs == 8
    for name, flag in (("v3", "-march=x86-64-v3"), ("v4", "-march=x86-64-v4")):
        job = gated[name]
        assert job.slots is not None
        assert (job.slots.gate, job.slots.gate_unless) == ("/run/gate", flag)
        assert job.jobs == 4
        assert job.slots.environment()["POLYWHEEL_JOB_GATE_UNLESS"] == flag


def test_with_global_flags_every_compile_of_the_others_waits() -> None:
    gated = gate_others(_jobs(), "v1", "/run/gate", apply_flags="global")
    assert gated["v3"].slots is not None
    assert (gated["v3"].slots.gate, gated["v3"].slots.gate_unless) == ("/run/gate", None)


def test_builds_without_the_jobserver_are_not_gated() -> None:
    jobs = {k: dataclasses.replace(j, slots=None) for k, j in _jobs().items()}
    assert gate_others(jobs, "v1", "/run/gate", apply_flags="targets") == jobs


def test_gated_lanes_start_together_and_the_gate_opens_when_the_primer_ends() -> None:
    opened: list[str] = []
    started: list[str] = []
    failed: list[BaseException] = []
    order = Lanes(["a", "b", "c"], "b", open_gate=lambda: opened.append("gate"))
    both_started = threading.Barrier(2, timeout=5)

    def build(name: str) -> None:
        started.append(name)
        if len(started) <= 2:
            both_started.wait()  # the other lane starts while the primer builds
        if name == "b":
            assert opened == []
            raise RuntimeError("the primer failed")  # the gate opens all the same

    def lane(index: int) -> None:
        try:
            order.run(index, build, threading.Event())
        except RuntimeError as exc:
            failed.append(exc)

    threads = [threading.Thread(target=lane, args=(i,), daemon=True) for i in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(5)
    assert "b" in started[:2]
    assert len(failed) == 1
    assert opened and opened[0] == "gate"
