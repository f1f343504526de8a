"""Example kernel of polywheel: the same C code, compiled per x86-64 level."""

from __future__ import annotations

from array import array

from pw_simd._kernels import benchmark, build_info
from pw_simd._kernels import poly as _poly

__all__ = ["COEFFS", "benchmark", "build_info", "poly", "poly_reference"]

COEFFS = [(-0.5) ** k for k in range(13)]


def poly(values: array) -> array:
    """P(x) for every float32 in `values`, computed by the compiled kernel."""
    out = array("f", bytes(4 * len(values)))
    _poly(values, out)
    return out


def poly_reference(values: array) -> list[float]:
    """The same polynomial in pure Python, for checking the kernel."""
    result = []
    for x in values:
        acc = 0.0
        for c in reversed(COEFFS):
            acc = acc * x + c
        result.append(acc)
    return result
