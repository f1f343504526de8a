"""Helpers shared by the integration tests: read wheels the way installers do."""

from __future__ import annotations

import json
import subprocess
import sys
import zipfile
from pathlib import Path
from typing import Any

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
