"""Example of polywheel: a CUDA kernel built per GPU architecture, with a CPU fallback."""

from __future__ import annotations

from array import array

from pw_cuda._core import backend, compiled_architectures, device_info
from pw_cuda._core import saxpy as _saxpy

__all__ = ["backend", "compiled_architectures", "device_info", "saxpy", "saxpy_reference"]


def saxpy(a: float, x: array, y: array) -> array:
    """A new float32 array a*x + y (on the GPU in CUDA builds)."""
    out = array("f", y)
    _saxpy(a, x, out)
    return out


def saxpy_reference(a: float, x: array, y: array) -> list[float]:
    return [a * xi + yi for xi, yi in zip(x, y, strict=True)]
