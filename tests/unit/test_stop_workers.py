"""Stopping worker processes (pipeline/faults.stop_process_groups)."""

from __future__ import annotations

import subprocess
import sys

import pytest

from polywheel.pipeline.faults import stop_process_groups

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="process groups")


def test_a_worker_that_does_not_lead_its_group_yet_is_stopped_too() -> None:
    # A worker stopped right after its start, before it called setpgrp: it is still in
    # this process's group, so signalling "its" group alone would miss it.
    proc = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        stop_process_groups([proc.pid])
        assert proc.wait(timeout=10) == -15
    finally:
        proc.kill()
        proc.wait()
