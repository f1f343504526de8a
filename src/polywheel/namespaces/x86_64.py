"""`x86_64 :: level :: vN`: the x86-64 micro-architecture levels.

Adding a level (say v5) means adding it here: its flags, its CPUID features for the
audit, and its place in LEVELS.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from typing import TYPE_CHECKING, Any, ClassVar

from polywheel.errors import ConfigError
from polywheel.namespaces.base import (
    AuditFinding,
    CompilerFlags,
    CpuNamespace,
    FeatureDoc,
)
from polywheel.properties import VariantProperty

if TYPE_CHECKING:
    from polywheel.audit.binary import BinaryAudit
    from polywheel.cmake.compile_commands import CompileUnit

__all__ = ["BASELINE", "LEVELS", "LEVEL_FEATURES", "X86_64", "flags_level", "level_of_features"]

LEVELS = ("v1", "v2", "v3", "v4")
_GNU = {
    "v1": ("-march=x86-64",),
    "v2": ("-march=x86-64-v2",),
    "v3": ("-march=x86-64-v3",),
    "v4": ("-march=x86-64-v4",),
}
_MSVC = {"v1": (), "v2": ("/arch:SSE4.2",), "v3": ("/arch:AVX2",), "v4": ("/arch:AVX512",)}

# The CPUID features (iced-x86 names) each level adds to the one below.
LEVEL_FEATURES: Mapping[int, frozenset[str]] = {
    2: frozenset({"SSE3", "SSSE3", "SSE4_1", "SSE4_2", "POPCNT", "CMPXCHG16B"}),
    3: frozenset({"AVX", "AVX2", "BMI1", "BMI2", "FMA", "F16C", "MOVBE", "LZCNT"}),
    4: frozenset({"AVX512F", "AVX512BW", "AVX512CD", "AVX512DQ", "AVX512VL"}),
}
# What every x86-64 CPU runs (x86-64 v1), plus hint-space instructions such as endbr64
# that older CPUs execute as no-ops. XSAVE (xgetbv) is here because compilers emit it
# only in CPU-detection code (libgcc's __builtin_cpu_init), after CPUID said it exists;
# the v3 level's XSAVE requirement is about the OS saving AVX state.
BASELINE = frozenset(
    {
        "INTEL8086", "INTEL186", "INTEL286", "INTEL386", "INTEL486", "X64", "FPU", "FPU287",
        "FPU387", "CMOV", "CX8", "CPUID", "TSC", "MMX", "SSE", "SSE2", "FXSR", "SYSCALL",
        "MULTIBYTENOP", "PAUSE", "CLFSH", "SEP", "MSR", "CET_IBT", "RDPMC", "XSAVE",
    }
)  # fmt: skip


def level_of_features(features: Iterable[str]) -> tuple[int, frozenset[str]]:
    """(x86-64 level an instruction needs, its features outside every level)."""
    level, other = 1, set()
    for feature in features:
        for number, names in LEVEL_FEATURES.items():
            if feature in names:
                level = max(level, number)
                break
        else:
            if feature not in BASELINE:
                other.add(feature)
    return level, frozenset(other)


def _level_number(value: str) -> int:
    return LEVELS.index(value) + 1


# What compiler flags mean in levels (GCC/Clang -march= and -m<feature>, MSVC /arch:).
_MARCH_LEVEL = {
    "x86-64": 1, "k8": 1, "nocona": 1, "core2": 1, "x86-64-v2": 2, "nehalem": 2,
    "westmere": 2, "sandybridge": 2, "ivybridge": 2, "btver2": 2, "x86-64-v3": 3,
    "haswell": 3, "broadwell": 3, "skylake": 3, "alderlake": 3, "znver1": 3, "znver2": 3,
    "znver3": 3, "x86-64-v4": 4, "skylake-avx512": 4, "cascadelake": 4, "cooperlake": 4,
    "icelake-client": 4, "icelake-server": 4, "tigerlake": 4, "sapphirerapids": 4,
    "graniterapids": 4, "znver4": 4, "znver5": 4,
}  # fmt: skip
_FEATURE_LEVEL = {
    "sse3": 2, "ssse3": 2, "sse4": 2, "sse4.1": 2, "sse4.2": 2, "popcnt": 2, "cx16": 2,
    "avx": 3, "avx2": 3, "bmi": 3, "bmi2": 3, "fma": 3, "f16c": 3, "movbe": 3, "lzcnt": 3,
}  # fmt: skip
_MSVC_LEVEL = {"/arch:SSE4.2": 2, "/arch:AVX": 3, "/arch:AVX2": 3, "/arch:AVX512": 4}


def flags_level(arguments: Iterable[str]) -> tuple[int | str, tuple[str, ...]]:
    """The level code compiled with these flags may need, and the flags that set it.

    The last -march wins; -m<feature> adds to it and -mno-<feature> takes away. The
    level is "native" for -march=native, which depends on the build machine, and
    "unknown" for an -march this table does not know.
    """
    march: tuple[int | str, str | None] = (1, None)
    features: dict[str, tuple[int, str]] = {}
    for arg in arguments:
        if arg.startswith("-march="):
            name = arg.split("=", 1)[1]
            march = (name if name == "native" else _MARCH_LEVEL.get(name, "unknown"), arg)
            features.clear()
        elif arg in _MSVC_LEVEL:
            march = (_MSVC_LEVEL[arg], arg)
        elif arg.startswith("-mno-"):
            features.pop(arg[5:], None)
        elif arg.startswith("-mavx512"):
            features[arg[2:]] = (4, arg)
        elif arg.startswith("-m") and arg[2:] in _FEATURE_LEVEL:
            features[arg[2:]] = (_FEATURE_LEVEL[arg[2:]], arg)
    level, flag = march
    if isinstance(level, str):
        return level, (flag,) if flag else ()
    top = max((lvl for lvl, _ in features.values()), default=0)
    if top > level:
        return top, tuple(f for lvl, f in features.values() if lvl == top)
    return level, (flag,) if flag else ()


class X86_64(CpuNamespace):
    name = "x86_64"
    provider: ClassVar[Mapping[str, Any]] = {"requires": ["x86-64-variant-provider"]}
    flag_feature = "level"
    values = LEVELS
    flag_doc_values = LEVELS
    feature_docs = (
        FeatureDoc("`level`", ", ".join(f"`{v}`" for v in LEVELS) + " (one per variant)"),
        FeatureDoc("any other feature, e.g. `avx512_bf16`", "`on`"),
    )

    def flags_for(self, value: str, *, key: str) -> CompilerFlags:
        if value not in _GNU:
            raise ConfigError(
                f"polywheel knows compiler flags for x86_64 levels {', '.join(LEVELS)}, "
                f"not {value!r}",
                key=key,
            )
        return CompilerFlags(gnu=_GNU[value], msvc=_MSVC[value])

    def check_compile_units(
        self, props: Sequence[VariantProperty], units: Sequence[CompileUnit]
    ) -> list[tuple[AuditFinding, CompileUnit]]:
        levels = [p.value for p in props if p.feature == "level"]
        claimed = _level_number(levels[0]) if len(levels) == 1 else 1
        found: list[tuple[AuditFinding, CompileUnit]] = []
        for unit in units:
            level, flags = flags_level(unit.arguments)
            where = f"{unit.source} (target {unit.target or '?'})"
            shown = " ".join(flags) or "no -march"
            if isinstance(level, str):
                message = (
                    f"{where} is compiled with {shown}: code for "
                    + (
                        "the build machine's CPU"
                        if level == "native"
                        else "a CPU polywheel does not know"
                    )
                    + f", not for x86-64-v{claimed}"
                )
                found.append((("error", message), unit))
            elif level > claimed:
                found.append(
                    (
                        (
                            "error",
                            f"{where} is compiled for x86-64-v{level} ({shown}) in a variant "
                            f"that claims x86-64-v{claimed}: the project's own flags override "
                            "the variant's",
                        ),
                        unit,
                    )
                )
            elif level < claimed:
                found.append(
                    (
                        (
                            "warning",
                            f"{where} is compiled for x86-64-v{level} only ({shown}) in a "
                            f"variant that claims x86-64-v{claimed}: it does not get the "
                            "variant's instructions",
                        ),
                        unit,
                    )
                )
        return found

    def audit(
        self, claims: Mapping[str, Sequence[str]] | None, binaries: Sequence[BinaryAudit]
    ) -> list[AuditFinding]:
        levels = list((claims or {}).get("level", ()))
        claimed = _level_number(levels[0]) if len(levels) == 1 and levels[0] in LEVELS else None
        findings: list[AuditFinding] = []
        x86 = [b for b in binaries if b.machine == "x86_64"]
        if claims is None:
            what = "x86-64 (a plain wheel installs on every x86-64 CPU, so v1)"
        elif claimed is None:
            what = "x86-64 (no level claimed, so v1)"
        else:
            what = f"x86-64-v{claimed}"
        for binary in x86:
            if binary.level > (claimed or 1):
                top = binary.functions.get(binary.level, Counter()).most_common(5)
                used = ", ".join(f"{f} ({n})" for f, n in top)
                findings.append(
                    (
                        "error",
                        f"{binary.name} needs x86-64-v{binary.level} but the wheel claims "
                        f"{what}; it would crash with an illegal instruction on older CPUs. "
                        f"Used in: {used}",
                    )
                )
            if binary.other:
                listed = ", ".join(f"{k} ({v})" for k, v in binary.other.most_common(6))
                findings.append(
                    (
                        "warning",
                        f"{binary.name} uses extensions outside the x86-64 levels: {listed}",
                    )
                )
        if claimed and claimed > 1 and x86 and all(b.level <= 1 for b in x86):
            findings.append(
                (
                    "warning",
                    f"the wheel claims x86-64-v{claimed} but its code uses nothing above "
                    "v1: did the variant's flags reach the compiler?",
                )
            )
        return findings
