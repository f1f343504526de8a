"""What compile flags mean in x86-64 levels (the per-source check of a variant)."""

from __future__ import annotations

import pytest

from polywheel.cmake.compile_commands import CompileUnit
from polywheel.namespaces.x86_64 import X86_64, flags_level
from polywheel.properties import VariantProperty


@pytest.mark.parametrize(
    ("flags", "level", "deciding"),
    [
        ([], 1, ()),
        (["-O2"], 1, ()),
        (["-march=x86-64-v3"], 3, ("-march=x86-64-v3",)),
        (["-march=x86-64-v4", "-march=x86-64"], 1, ("-march=x86-64",)),
        (["-march=x86-64-v4", "-march=haswell"], 3, ("-march=haswell",)),
        (["-march=x86-64", "-mavx2"], 3, ("-mavx2",)),
        (["-mavx2", "-mno-avx2"], 1, ()),
        (["-mavx2", "-march=x86-64"], 1, ("-march=x86-64",)),
        (["-march=x86-64-v2", "-mavx512f"], 4, ("-mavx512f",)),
        (["-msse4.2"], 2, ("-msse4.2",)),
        (["/arch:AVX2"], 3, ("/arch:AVX2",)),
        (["-march=native"], "native", ("-march=native",)),
        (["-march=pentium9000"], "unknown", ("-march=pentium9000",)),
    ],
)
def test_flags_level(flags: list[str], level: int | str, deciding: tuple[str, ...]) -> None:
    assert flags_level(flags) == (level, deciding)


def unit(*flags: str) -> CompileUnit:
    return CompileUnit("src/k.c", "kernels", ("cc", *flags, "-c", "src/k.c"))


def level(value: str) -> list[VariantProperty]:
    return [VariantProperty("x86_64", "level", value)]


def test_above_the_variant_is_an_error_naming_source_target_and_flag() -> None:
    (((severity, message), _unit),) = X86_64().check_compile_units(
        level("v1"), [unit("-march=x86-64", "-mavx2")]
    )
    assert severity == "error"
    assert message.startswith("src/k.c (target kernels) is compiled for x86-64-v3 (-mavx2)")


def test_below_the_variant_is_a_warning() -> None:
    (((severity, message), _unit),) = X86_64().check_compile_units(
        level("v4"), [unit("-march=x86-64-v4", "-march=haswell")]
    )
    assert severity == "warning" and "x86-64-v3 only (-march=haswell)" in message


def test_native_is_an_error_whatever_the_variant() -> None:
    (((severity, message), _unit),) = X86_64().check_compile_units(
        level("v4"), [unit("-march=native")]
    )
    assert severity == "error" and "the build machine's CPU" in message


def test_matching_sources_and_variants_without_a_level() -> None:
    assert X86_64().check_compile_units(level("v3"), [unit("-march=x86-64-v3")]) == []
    # No x86_64 property: the code must run on every x86-64 CPU.
    assert X86_64().check_compile_units([], [unit()]) == []
    assert X86_64().check_compile_units([], [unit("-mavx2")])[0][0][0] == "error"
