"""CUDA targets: what a CMake architecture entry or a fat-binary entry holds, on which
devices its code runs, on which devices installers pick a wheel that claims a
`nvidia :: sm_arch` value, and which targets an nvcc can compile.

A compute capability is written as CMake and nvcc write it, major * 10 + minor: `90` is
9.0, `121` is 12.1. Where code runs (CUDA Programming Guide, "Feature Set Compiler
Targets" and "Binary Compatibility"):

- SASS (`sm_100`) runs on the same major with a minor at least its own: 10.0 and 10.3.
  A family-specific `sm_100f` cubin is ordinary SASS of that family, so the same.
- PTX (`compute_100`) is compiled by the driver on any device at least 10.0; family
  PTX (`compute_100f`) only within the family, that is the same major today.
- Architecture-specific code (`sm_100a`, `compute_100a`) runs on exactly 10.0.

The nvidia provider reports, on a device M.m, `{M}{k}_real` for every k ≤ m and
`{M}0_virtual`. So `100_real` selects every 10.x device, `103_real` only 10.3 and later
10.x, and `103_virtual` nothing.
"""

from __future__ import annotations

import dataclasses
import os
import re
import shutil
from collections.abc import Iterable
from pathlib import Path

from polywheel.tools import tool_output

__all__ = [
    "DEVICES",
    "Code",
    "CudaToolkit",
    "codes_from_cmake_entry",
    "cuda_lower_bound",
    "device_name",
    "find_nvcc",
    "nvcc_release",
    "parse_gpu_list",
    "probe_cuda_toolkit",
    "selected_devices",
    "uncovered_devices",
    "unsupported_codes",
]

# The compute capabilities of devices that exist (CUDA 13.0's table; 10.1 became 11.0).
# Only these, and the numbers a wheel claims, are checked for code: a future 10.5 is
# added here when it ships.
DEVICES = (50, 52, 53, 60, 61, 62, 70, 72, 75, 80, 86, 87, 88, 89, 90, 100, 103, 110, 120, 121)
# Arch-specific targets exist from 9.0 on, family-specific ones from 10.0 on, and
# toolkits know `f` targets from CUDA 12.9 on.
FIRST_ARCH_SPECIFIC = 90
FIRST_FAMILY_SPECIFIC = 100
FAMILY_TOOLKIT = (12, 9)

_ENTRY_RE = re.compile(r"^([1-9][0-9]*[0-9])([af]?)(?:-(real|virtual))?$")
_NAME_RE = re.compile(r"^(sm|compute)_([1-9][0-9]*[0-9])([af]?)$")


def device_name(number: int) -> str:
    """100 → '10.0', the way NVIDIA writes a compute capability."""
    return f"{number // 10}.{number % 10}"


@dataclasses.dataclass(frozen=True, order=True)
class Code:
    """One kind of GPU code: SASS (`real`) or PTX (`virtual`) for one target."""

    number: int
    suffix: str  # "", "a" (architecture-specific) or "f" (family-specific)
    kind: str  # "real" or "virtual"

    @classmethod
    def from_name(cls, name: str) -> Code:
        """'sm_90a' or 'compute_100f' → the code."""
        match = _NAME_RE.fullmatch(name)
        if not match:
            raise ValueError(f"not a CUDA target name: {name!r}")
        prefix, number, suffix = match.groups()
        return cls(int(number), suffix, "real" if prefix == "sm" else "virtual")

    @property
    def name(self) -> str:
        return f"{'sm' if self.kind == 'real' else 'compute'}_{self.number}{self.suffix}"

    @property
    def property_value(self) -> str:
        """The `nvidia :: sm_arch` value: the suffix is not part of it (see the module)."""
        return f"{self.number}_{self.kind}"

    def runs_on(self, device: int) -> bool:
        if self.suffix == "a":
            return device == self.number
        if self.kind == "virtual" and not self.suffix:
            return device >= self.number
        return device // 10 == self.number // 10 and device >= self.number


def codes_from_cmake_entry(entry: str) -> tuple[Code, ...]:
    """A `CMAKE_CUDA_ARCHITECTURES` entry → its codes; ValueError says what is wrong."""
    match = _ENTRY_RE.fullmatch(entry.strip())
    if not match:
        raise ValueError(f"{entry!r} is not an explicit CUDA architecture")
    number, suffix, kind = match.groups()
    first = {"a": FIRST_ARCH_SPECIFIC, "f": FIRST_FAMILY_SPECIFIC}.get(suffix, 0)
    if int(number) < first:
        what = "arch-specific ('a')" if suffix == "a" else "family-specific ('f')"
        raise ValueError(
            f"{entry!r}: {what} targets start at {first}{suffix} (compute capability "
            f"{device_name(first)})"
        )
    kinds = (kind,) if kind else ("real", "virtual")
    return tuple(Code(int(number), suffix, k) for k in kinds)


def _selects(value: str, device: int) -> bool:
    number, _, kind = value.partition("_")
    n = int(number)
    if kind == "virtual":
        return n % 10 == 0 and device // 10 == n // 10
    return device // 10 == n // 10 and device >= n


def selected_devices(values: Iterable[str]) -> dict[int, list[str]]:
    """Device → the claimed `sm_arch` values that make installers pick the wheel there."""
    values = sorted(set(values))
    candidates = set(DEVICES) | {int(v.partition("_")[0]) for v in values}
    found: dict[int, list[str]] = {}
    for device in sorted(candidates):
        chosen = [v for v in values if _selects(v, device)]
        if chosen:
            found[device] = chosen
    return found


def uncovered_devices(values: Iterable[str], codes: Iterable[Code]) -> dict[int, list[str]]:
    """The devices installers would pick the wheel on although none of `codes` runs
    there, each with the claimed values that pick it."""
    codes = list(codes)
    return {
        device: chosen
        for device, chosen in selected_devices(values).items()
        if not any(code.runs_on(device) for code in codes)
    }


@dataclasses.dataclass(frozen=True)
class CudaToolkit:
    """What an nvcc can compile for (`--list-gpu-code`, `--list-gpu-arch`)."""

    version: str  # '13.0.88' or '13.0'
    nvcc: str
    real: frozenset[int]
    virtual: frozenset[int]

    @property
    def release(self) -> tuple[int, int]:
        major, minor = cuda_lower_bound(self.version).split(".")
        return int(major), int(minor)


def parse_gpu_list(text: str, prefix: str) -> frozenset[int]:
    """`nvcc --list-gpu-code` output ('sm_75', 'sm_80', ...) → {75, 80, ...}."""
    found = re.findall(rf"\b{prefix}_([0-9]+)\b", text)
    return frozenset(int(n) for n in found)


def find_nvcc() -> str | None:
    """The nvcc CMake would find, or None."""
    # The order CMake uses: CUDACXX, then PATH, then the default install prefix.
    for candidate in (os.environ.get("CUDACXX"), shutil.which("nvcc"), "/usr/local/cuda/bin/nvcc"):
        if candidate and Path(candidate).is_file():
            return candidate
    return None


_RELEASE = re.compile(r"release (\d+\.\d+)(?:, V(\d+\.\d+\.\d+))?")


def nvcc_release(version_output: str | None) -> str | None:
    """The toolkit version `nvcc --version` prints: '13.0.88', or '13.0' from an nvcc
    that names only its release; None for other output."""
    match = _RELEASE.search(version_output or "")
    return (match.group(2) or match.group(1)) if match else None


def probe_cuda_toolkit(nvcc: str | None = None) -> CudaToolkit | None:
    """What the nvcc CMake would find (or `nvcc`) compiles for; None without one, or
    when it does not answer like nvcc."""
    nvcc = nvcc or find_nvcc()
    if nvcc is None:
        return None
    version, real, virtual = (
        tool_output([nvcc, option], timeout=60)
        for option in ("--version", "--list-gpu-code", "--list-gpu-arch")
    )
    release = nvcc_release(version)
    if release is None or real is None or virtual is None:
        return None
    return CudaToolkit(
        version=release,
        nvcc=nvcc,
        real=parse_gpu_list(real, "sm"),
        virtual=parse_gpu_list(virtual, "compute"),
    )


def unsupported_codes(codes: Iterable[Code], toolkit: CudaToolkit) -> list[Code]:
    """The codes this toolkit cannot produce (its list names the base targets only)."""
    bad = []
    for code in codes:
        listed = toolkit.real if code.kind == "real" else toolkit.virtual
        if code.number not in listed or (code.suffix == "f" and toolkit.release < FAMILY_TOOLKIT):
            bad.append(code)
    return bad


def cuda_lower_bound(compiler_version: str) -> str:
    """The toolkit '13.0.88' → '13.0', the value `nvidia :: cuda_version_lower_bound` takes."""
    parts = compiler_version.strip().split(".")
    if len(parts) < 2 or not all(p.isdigit() for p in parts[:2]):
        raise ValueError(f"not a CUDA compiler version: {compiler_version!r}")
    return f"{int(parts[0])}.{int(parts[1])}"
