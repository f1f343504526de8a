"""The order of `polywheel build`'s variant builds: lanes, and the build that goes first.

Each lane builds variants one after another; it holds no jobserver slot, since each
job of a build takes its own (cmake/job_slots.py). With the compiler cache on, one
build goes first and alone ("primes" the cache, with the whole job budget): builds
started together compile their variant-independent sources at the same moment and
all miss, while builds started after it find them.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Callable, Sequence

from polywheel.cmake.compiler_cache import sharing
from polywheel.matrix.spec import VariantSpec

__all__ = ["Lanes", "primer"]


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


class Lanes:
    def __init__(self, names: Sequence[str], prime: str | None) -> None:
        self.prime = prime
        self.pending: queue.SimpleQueue[str] = queue.SimpleQueue()
        for name in sorted(names, key=lambda n: n != prime):  # the primer first
            self.pending.put(name)
        self.primed = threading.Event()
        if prime is None:
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
        finally:
            self.primed.set()
