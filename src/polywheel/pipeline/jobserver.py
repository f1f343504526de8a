"""One budget of compile jobs for the whole matrix: a GNU make jobserver (POSIX fifo).

`polywheel build -j N` creates a FIFO holding job tokens in a private scratch folder
and hands `MAKEFLAGS=-jN --jobserver-auth=fifo:PATH` to every variant's build. ninja
1.13 and later is a client: it runs one job on the slot it was started with (its
implicit token) and takes a token from the FIFO for each further job, giving it back
when the job ends. So N compiles run across all variants, never more, until the last
one ends, instead of a fixed share per variant that leaves cores idle once the other
variants are done.

polywheel is the server. Where the builds run a ninja that takes its first slot
itself (cmake/make_program.py), the FIFO holds all N tokens and a build holds none
while it configures or writes its wheel. Otherwise every variant build running at once
is one of polywheel's jobs: the first runs on polywheel's own implicit slot, each
further one holds a token for as long as it runs (`Slots`). The FIFO starts with N-1
tokens; once no variant is left to start, the slot of each build that ends goes into
the FIFO for the builds still running.

A client that dies holding tokens (a ninja killed outright) takes them along: nothing
tells which of the running builds held them. Tokens lost that way lower parallelism,
never raise it above N, and whenever no build runs polywheel drains the FIFO and puts
back exactly what belongs there (`Slots.finished`).

The FIFO's folder is named `.polywheel-<pid>-jobserver-*`, removed on every exit that
runs Python's cleanup (signals included, see `faults.interruptible`), and, after a
`kill -9`, by the next run (`remove_stale`).
"""

from __future__ import annotations

import contextlib
import errno
import os
import select
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

    @property
    def makeflags(self) -> str:
        return f"-j{self.jobs} --jobserver-auth=fifo:{self.path}"

    def put(self, count: int) -> None:
        if count > 0:
            os.write(self.fd, TOKEN * count)

    def take(self, timeout: float) -> bool:
        """Take one token, waiting up to `timeout` seconds for one."""
        try:
            if os.read(self.fd, 1):
                return True
        except BlockingIOError:
            pass
        readable, _, _ = select.select([self.fd], [], [], timeout)
        if not readable:
            return False
        try:
            return bool(os.read(self.fd, 1))
        except BlockingIOError:
            return False  # a client was faster

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
        with contextlib.suppress(OSError):
            os.close(self.fd)
        shutil.rmtree(self.folder, ignore_errors=True)


@contextlib.contextmanager
def jobserver(jobs: int, folder: Path | None = None) -> Iterator[Jobserver]:
    server = Jobserver(jobs, folder)
    try:
        yield server
    finally:
        server.close()


class Slots:
    """The jobs polywheel itself hands out: one per lane of variant builds.

    A lane runs variant builds one after another on one slot: the first lane on
    polywheel's implicit slot, each further one on a token taken from the FIFO before
    its first build. Handing the slot from one build to the next within the lane,
    instead of through the FIFO, keeps a running ninja from winning every race for the
    token a waiting build needs. A lane with nothing left to build puts its slot into
    the FIFO, for the ninjas of the builds still running.
    """

    def __init__(self, server: Jobserver, *, lanes_hold: bool = True) -> None:
        """`lanes_hold` False: the builds' ninjas take their slots themselves
        (cmake/make_program.py), so polywheel's implicit slot goes into the FIFO too and
        lanes take none."""
        self.server = server
        self.lanes_hold = lanes_hold
        self.lock = threading.Lock()
        self.implicit_free = lanes_hold
        self.tokens = server.jobs - 1  # in the FIFO, or held by lanes or clients
        if not lanes_hold:
            self.tokens += 1
            server.put(1)
        self.held = 0  # tokens the lanes hold
        self.building = 0
        self.restored = 0  # tokens put back that dead clients had taken along

    def acquire(self, stopping: threading.Event) -> bool:
        """A lane's slot: False for the implicit one, True for a token (give it back
        with `release`). Waits for a token; raises InterruptedError once `stopping`."""
        while True:
            with self.lock:
                if self.implicit_free:
                    self.implicit_free = False
                    return False
            if stopping.is_set():
                raise InterruptedError("the build is stopping")
            if self.server.take(timeout=0.05):
                with self.lock:
                    self.held += 1
                return True

    def release(self, token: bool) -> None:
        """A lane is done: its slot goes to the builds still running. The implicit slot
        becomes one more token in the FIFO (later lanes take tokens too)."""
        with self.lock:
            if token:
                self.held -= 1
            else:
                self.tokens += 1
            self.server.put(1)

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
        """No build runs, so no client holds a token: every token the lanes do not hold
        belongs in the FIFO. Put back exactly that many (those a killed client took
        along come back; any a client wrongly added go)."""
        expected = self.tokens - self.held
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
