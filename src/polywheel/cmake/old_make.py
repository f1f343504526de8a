"""Keep GNU make before 4.4 working under the matrix's jobserver.

polywheel's jobserver is a FIFO named in `MAKEFLAGS` (`--jobserver-auth=fifo:PATH`), the
only form ninja 1.13 reads. GNU make learned that form in 4.4; older ones (Debian 12,
Ubuntu 24.04) stop with `invalid --jobserver-auth string` when they find it, so a
project whose build runs `make` (an ExternalProject, a custom command) would fail. For
those, a `make` first on the build's PATH drops that form and `-j` from `MAKEFLAGS` and
runs the real one: that make then runs serially, inside the one job its caller already
holds, so the budget still holds. The descriptor form (`R,W`) that links get
(cmake/job_slots.py), which make reads since 4.2, is kept: the make that GCC's LTO
driver runs takes its code generation jobs from the jobserver.
"""

from __future__ import annotations

import functools
import re
import shutil
from pathlib import Path

from polywheel.cachedir import cached_script
from polywheel.tools import tool_output

__all__ = ["make_shim_dir"]

_FIRST_FIFO_MAKE = (4, 4)
_FIRST_PIPE_MAKE = (4, 2)


def _gnu_make_version(make: str) -> tuple[int, int] | None:
    out = tool_output([make, "--version"], timeout=10, check=False)
    match = re.match(r"GNU Make (\d+)\.(\d+)", out or "")
    return (int(match.group(1)), int(match.group(2))) if match else None


_SHIM = """#!/bin/sh
# Written by polywheel (cmake/old_make.py): {make} predates the jobserver FIFO that
# MAKEFLAGS may name; then run it serially, without the jobserver, in the caller's job.
case " $MAKEFLAGS " in
    *{drop}*)
        MAKEFLAGS=$(printf '%s' "$MAKEFLAGS" | sed -e 's/--jobserver-auth=[^ ]*//g' \\
            -e 's/--jobserver-fds=[^ ]*//g' -e 's/\\(^\\| \\)-j[0-9]*//g')
        export MAKEFLAGS
        unset MFLAGS
        ;;
esac
exec {make} "$@"
"""


@functools.cache
def make_shim_dir() -> Path | None:
    """A folder to put first on PATH when the `make` there is GNU make before 4.4, or
    None when no such make is found (a newer make reads the FIFO itself)."""
    make = shutil.which("make")
    if make is None:
        return None
    version = _gnu_make_version(make)
    if version is None or version >= _FIRST_FIFO_MAKE:
        return None
    # The descriptor form came in 4.2: an older make drops every jobserver.
    drop = "--jobserver-auth=fifo:" if version >= _FIRST_PIPE_MAKE else "--jobserver-"
    return cached_script("make-shim", "make", _SHIM.format(make=make, drop=drop)).parent
