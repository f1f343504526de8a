"""Helpers shared by the integration tests: read wheels the way installers do."""

from __future__ import annotations

import json
import subprocess
import sys
import zipfile
from pathlib import Path
from typing import Any

import pytest
from wheel.wheelfile import WheelFile


def read_all_verified(wheel: Path) -> dict[str, bytes]:
    """Every entry, read through wheel.wheelfile, which checks each RECORD hash."""
    with WheelFile(wheel) as wf:
        return {name: wf.read(name) for name in wf.namelist() if not name.endswith("/RECORD")}


def variant_json(wheel: Path) -> dict[str, Any] | None:
    with zipfile.ZipFile(wheel) as zf:
        names = [n for n in zf.namelist() if n.endswith(".dist-info/variant.json")]
        return json.loads(zf.read(names[0])) if names else None


def record_lines(wheel: Path) -> list[str]:
    with zipfile.ZipFile(wheel) as zf:
        record = next(n for n in zf.namelist() if n.endswith(".dist-info/RECORD"))
        return zf.read(record).decode().splitlines()


def metadata(wheel: Path) -> str:
    with zipfile.ZipFile(wheel) as zf:
        name = next(n for n in zf.namelist() if n.endswith(".dist-info/METADATA"))
        return zf.read(name).decode()


def cpu_has(flag: str) -> bool:
    try:
        return flag in Path("/proc/cpuinfo").read_text().split()
    except OSError:
        return False


# What the host must have (as /proc/cpuinfo names it) to run a build of each level.
LEVEL_CPU_FLAGS = {
    "x86_64_v1": (),
    "x86_64_v3": ("avx", "avx2", "bmi1", "bmi2", "fma", "f16c", "movbe"),
    "x86_64_v4": ("avx512f", "avx512bw", "avx512cd", "avx512dq", "avx512vl"),
}


def skip_unless_host_runs(label: str) -> None:
    """Skip, saying why, when this host's CPU cannot run a build of `label`.

    The build itself was compiled and checked before this is called: only running
    its code depends on the host.
    """
    missing = [flag for flag in LEVEL_CPU_FLAGS[label] if not cpu_has(flag)]
    if label == "x86_64_v4":
        missing = [*missing, *(f for f in LEVEL_CPU_FLAGS["x86_64_v3"] if not cpu_has(f))]
    if missing:
        pytest.skip(f"this host's CPU lacks {', '.join(missing)}: cannot run the {label} build")


def call_in_wheel(wheel: Path, tmp: Path, code: str) -> Any:
    """Unpack the wheel and evaluate `code` (an expression) in a fresh interpreter."""
    target = tmp / wheel.name.removesuffix(".whl")
    with zipfile.ZipFile(wheel) as zf:
        zf.extractall(target)
    out = subprocess.run(
        [sys.executable, "-c", f"import json; print(json.dumps({code}))"],
        cwd=target,
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    return json.loads(out)
