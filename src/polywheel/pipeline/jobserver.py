"""One budget of compile jobs for the whole matrix: a GNU make jobserver (POSIX fifo).

`polywheel build -j N` creates a FIFO holding N job tokens in a private scratch folder.
Every job of every variant build (each compile, link and custom command) takes a token
from it before it starts and gives it back when it ends (cmake/job_slots.py), and
hands `MAKEFLAGS=-jN --jobserver-auth=fifo:PATH` to the jobserver clients it runs
itself. So N jobs run across all variants, never more, until the last one ends,
instead of a fixed share per variant that leaves cores idle once the other variants
are done; a build holds no token while it configures or writes its wheel.

A job that dies holding its token (killed outright, with its launcher) takes it along:
nothing tells which build held it. Tokens lost that way lower parallelism,
never raise it above N, and whenever no build runs polywheel drains the FIFO and puts
back exactly what belongs there (`Slots.building_one`).

The FIFO's folder is named `.polywheel-<pid>-jobserver-*`, removed on every exit that
runs Python's cleanup (signals included, see `faults.interruptible`), and, after a
`kill -9`, by the next run (`remove_stale`).
"""

from __future__ import annotations

import contextlib
import errno
import os
import shutil
import tempfile
import threading
from collections.abc import Iterator
from pathlib import Path

from polywheel.pipeline.faults import left_by_dead_run

__all__ = ["TOKEN", "Jobserver", "Slots", "jobserver", "remove_stale"]

TOKEN = b"+"
_PREFIX = ".polywheel-"
_MARK = "-jobserver-"


class Jobserver:
    """The FIFO and its tokens. Use `jobserver()` so it is always removed."""

    def __init__(self, jobs: int, folder: Path | None = None) -> None:
        self.jobs = max(1, jobs)
        base = folder if folder is not None else Path(tempfile.gettempdir())
        # mkdtemp: a fresh folder only this user can enter, so no one else can swap
        # the FIFO or steal tokens.
        self.folder = Path(tempfile.mkdtemp(prefix=f"{_PREFIX}{os.getpid()}{_MARK}", dir=base))
        self.path = self.folder / "fifo"
        os.mkfifo(self.path, 0o600)
        # Read and write on one descriptor: the FIFO then always has a reader and a
        # writer, so no client ever sees end-of-file or ENXIO.
        self.fd = os.open(self.path, os.O_RDWR | os.O_NONBLOCK | os.O_CLOEXEC)
        self.put(self.jobs - 1)
        # Gated jobs wait to open this one until it has a writer (cmake/job_slots.py).
        self.gate = self.folder / "gate"
        os.mkfifo(self.gate, 0o600)
        self._gate_fd: int | None = None

    def open_gate(self) -> None:
        """Give the gate a writer for good: the jobs waiting at it go on, later ones
        pass at once. Idempotent."""
        if self._gate_fd is None:
            self._gate_fd = os.open(self.gate, os.O_RDWR | os.O_NONBLOCK | os.O_CLOEXEC)

    @property
    def makeflags(self) -> str:
        return f"-j{self.jobs} --jobserver-auth=fifo:{self.path}"

    def put(self, count: int) -> None:
        if count > 0:
            os.write(self.fd, TOKEN * count)

    def drain(self) -> int:
        """Take every token now in the FIFO; how many there were."""
        count = 0
        while True:
            try:
                got = os.read(self.fd, 4096)
            except OSError as exc:
                if exc.errno in (errno.EAGAIN, errno.EWOULDBLOCK):
                    return count
                raise
            if not got:
                return count
            count += len(got)

    def close(self) -> None:
        for fd in (self.fd, self._gate_fd):
            if fd is not None:
                with contextlib.suppress(OSError):
                    os.close(fd)
        shutil.rmtree(self.folder, ignore_errors=True)


@contextlib.contextmanager
def jobserver(jobs: int, folder: Path | None = None) -> Iterator[Jobserver]:
    server = Jobserver(jobs, folder)
    try:
        yield server
    finally:
        server.close()


class Slots:
    """The tokens of the matrix's jobserver: all N are in the FIFO, and the variant
    builds hold none themselves; each job of a build takes one for as long as it runs
    (cmake/job_slots.py). Counts what a killed job took along, for the report."""

    def __init__(self, server: Jobserver) -> None:
        self.server = server
        self.lock = threading.Lock()
        server.put(1)  # the implicit slot too: polywheel itself runs no job
        self.building = 0
        self.restored = 0  # tokens put back that dead clients had taken along

    @contextlib.contextmanager
    def building_one(self) -> Iterator[None]:
        """Around one variant build; when the last running build ends, refill."""
        with self.lock:
            self.building += 1
        try:
            yield
        finally:
            with self.lock:
                self.building -= 1
                if self.building == 0:
                    self._refill()

    def _refill(self) -> None:
        """No build runs, so no job holds a token: all of them belong in the FIFO. Put
        back exactly that many (those a killed job took along come back; any a client
        wrongly added go)."""
        expected = self.server.jobs
        found = self.server.drain()
        self.server.put(expected)
        self.restored += max(0, expected - found)


def remove_stale(folder: Path | None = None) -> list[Path]:
    """Remove the jobserver folders of this user's polywheel runs that no longer run."""
    base = folder if folder is not None else Path(tempfile.gettempdir())
    removed: list[Path] = []
    try:
        entries = list(os.scandir(base))
    except OSError:
        return removed
    uid = os.getuid() if hasattr(os, "getuid") else None
    for entry in entries:
        if _MARK not in entry.name or not left_by_dead_run(entry.name, _PREFIX):
            continue
        try:
            owner = entry.stat(follow_symlinks=False).st_uid
        except OSError:
            continue
        if uid is not None and owner != uid:
            continue
        shutil.rmtree(entry.path, ignore_errors=True)
        removed.append(Path(entry.path))
    return removed
