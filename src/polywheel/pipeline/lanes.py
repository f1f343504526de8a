"""The order of `polywheel build`'s variant builds: lanes, and the build that goes first.

Each lane builds variants one after another; it holds no jobserver slot, since each
job of a build takes its own (cmake/job_slots.py). With the compiler cache on, one
build goes first ("primes" the cache): builds started together compile their
variant-independent sources at the same moment and all miss, while builds started
after it find them. Under the jobserver the others start with it all the same, gated
(`gate_others`): they configure, and compile what only they compile, while it builds,
and their other compiles wait until it has ended. Without one, they start after it.
"""

from __future__ import annotations

import dataclasses
import queue
import threading
from collections.abc import Callable, Mapping, Sequence

from polywheel.cmake.compiler_cache import sharing
from polywheel.matrix.spec import VariantSpec
from polywheel.pipeline.variant import VariantJob

__all__ = ["Lanes", "gate_others", "primer"]


def primer(
    to_build: Sequence[tuple[str, VariantSpec | None]], *, apply_flags: str, cached: bool
) -> str | None:
    """The build to run first and alone, or None: the first of those that compile some
    sources with the same command as another build of this run (compiler_cache.sharing),
    when they compile through the cache."""
    specs = [spec for _, spec in to_build if spec is not None]
    if not cached or len(specs) != len(to_build):
        return None
    shared = sharing(specs, apply_flags)
    return next((name for name, spec in to_build if spec and spec.label in shared), None)


# How many jobs each ninja starts, in shares of the budget: a started job waits for a
# slot in the FIFO, and the FIFO serves waiting jobs in turn, so the primer, which the
# others wait for, gets most slots; a gated build's compiles waiting at the gate hold no
# slot but count against ninja's own limit.
_PRIMER_SHARES = 4
_GATED_SHARES = 2


def gate_others(
    jobs: Mapping[str, VariantJob], prime: str, gate: str, *, apply_flags: str
) -> dict[str, VariantJob]:
    """`jobs` with every build but the primer's gated by the FIFO `gate`
    (cmake/job_slots.py): their compiles wait until the primer has ended, except, with
    `apply-flags = "targets"`, those holding the variant's own flag (its flagged
    targets, which no other build compiles)."""
    gated = {}
    for name, job in jobs.items():
        if job.slots is None or job.spec is None:
            gated[name] = job
        elif name == prime:
            gated[name] = dataclasses.replace(job, jobs=_PRIMER_SHARES * (job.jobs or 1))
        else:
            flags = job.spec.flags.gnu + job.spec.flags.extra
            own = flags[0] if apply_flags == "targets" and flags else None
            slots = dataclasses.replace(job.slots, gate=gate, gate_unless=own)
            shares = _GATED_SHARES * (job.jobs or 1)
            gated[name] = dataclasses.replace(job, slots=slots, jobs=shares)
    return gated


class Lanes:
    def __init__(
        self,
        names: Sequence[str],
        prime: str | None,
        *,
        open_gate: Callable[[], None] | None = None,
    ) -> None:
        """`open_gate`: the others start with the primer, gated, and this lets them on
        once it has ended (`gate_others`); None: they start after it."""
        self.prime = prime
        self.pending: queue.SimpleQueue[str] = queue.SimpleQueue()
        for name in sorted(names, key=lambda n: n != prime):  # the primer first
            self.pending.put(name)
        self.primed = threading.Event()
        self.open_gate = open_gate
        if prime is None or open_gate is not None:
            self.primed.set()

    def run(self, index: int, build: Callable[[str], None], stopping: threading.Event) -> None:
        """Lane `index`: build what is pending until nothing is; lane 0 takes the primer,
        the others start once it is done."""
        if index > 0:
            while not self.primed.wait(0.1):
                if stopping.is_set():
                    return
        try:
            while not stopping.is_set():
                try:
                    name = self.pending.get_nowait()
                except queue.Empty:
                    return
                try:
                    build(name)
                finally:
                    if name == self.prime:
                        self.primed.set()
                        if self.open_gate is not None:
                            self.open_gate()
        finally:
            # Lanes waiting for a primer that will not be built (a stopped run) end.
            self.primed.set()
