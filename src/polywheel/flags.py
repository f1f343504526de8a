"""What well-known variant properties mean for the compiler, and back.

Pure functions: no compiler is run here.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Iterable

from polywheel.errors import ConfigError
from polywheel.properties import VariantProperty

__all__ = [
    "CompilerFlags",
    "compiler_flags",
    "cuda_archs_to_properties",
    "cuda_lower_bound",
    "properties_to_cuda_archs",
]

_MSVC_X86 = {"v1": (), "v2": ("/arch:SSE4.2",), "v3": ("/arch:AVX2",), "v4": ("/arch:AVX512",)}
_CMAKE_ARCH_RE = re.compile(r"^([1-9][0-9]*[0-9])(?:-(real|virtual))?$")
SM_ARCH_RE = re.compile(r"^[1-9][0-9]*[0-9]_(real|virtual)$")
_AARCH64_RE = re.compile(r"^([0-9]+(?:\.[0-9]+)?)a$")


@dataclasses.dataclass(frozen=True)
class CompilerFlags:
    """C/C++ flags for GCC-like compilers and for MSVC, plus the maintainer's own."""

    gnu: tuple[str, ...] = ()
    msvc: tuple[str, ...] = ()
    extra: tuple[str, ...] = ()

    def __bool__(self) -> bool:
        return bool(self.gnu or self.msvc or self.extra)


def _single(props: list[VariantProperty], key: str) -> str:
    values = sorted(p.value for p in props)
    if len(values) > 1:
        raise ConfigError(
            f"'{props[0].namespace} :: {props[0].feature}' has several values {values}; "
            "a build targets exactly one",
            key=key,
        )
    return values[0]


def aarch64_march(version: str) -> str:
    """'8.2a' → 'armv8.2-a', '8a' and '8.0a' → 'armv8-a', '9.0a' → 'armv9-a'."""
    match = _AARCH64_RE.match(version)
    if not match:
        raise ValueError(version)
    number = match.group(1)
    if number.endswith(".0"):
        number = number[:-2]
    return f"-march=armv{number}-a"


def compiler_flags(
    properties: Iterable[VariantProperty], extra: Iterable[str], *, key: str
) -> CompilerFlags:
    by_feature: dict[tuple[str, str], list[VariantProperty]] = {}
    for prop in properties:
        by_feature.setdefault((prop.namespace, prop.feature), []).append(prop)
    gnu: list[str] = []
    msvc: list[str] = []
    if ("x86_64", "level") in by_feature:
        level = _single(by_feature["x86_64", "level"], key)
        if level not in _MSVC_X86:
            raise ConfigError(
                f"polywheel knows compiler flags for x86_64 levels {', '.join(_MSVC_X86)}, "
                f"not {level!r}",
                key=key,
            )
        gnu.append("-march=x86-64" if level == "v1" else f"-march=x86-64-{level}")
        msvc.extend(_MSVC_X86[level])
    if ("aarch64", "version") in by_feature:
        version = _single(by_feature["aarch64", "version"], key)
        try:
            gnu.append(aarch64_march(version))
        except ValueError:
            raise ConfigError(
                f"aarch64 version {version!r} is not like '8.2a' or '9.0a'", key=key
            ) from None
    return CompilerFlags(tuple(gnu), tuple(msvc), tuple(extra))


def cuda_archs_to_properties(archs: Iterable[str], *, key: str) -> frozenset[VariantProperty]:
    """CMake `CMAKE_CUDA_ARCHITECTURES` entries → `nvidia :: sm_arch` properties."""
    props: set[VariantProperty] = set()
    for arch in archs:
        match = _CMAKE_ARCH_RE.match(arch.strip())
        if not match:
            raise ConfigError(
                f"{arch!r} is not an explicit CUDA architecture; use entries like '90', "
                "'90-real' or '90-virtual' ('native', 'all' and arch-specific 'a' targets "
                "cannot be described by `nvidia :: sm_arch`)",
                key=key,
            )
        number, kind = match.groups()
        kinds = [kind] if kind else ["real", "virtual"]
        props.update(VariantProperty("nvidia", "sm_arch", f"{number}_{k}") for k in kinds)
    if not props:
        raise ConfigError("must name at least one CUDA architecture", key=key)
    return frozenset(props)


def properties_to_cuda_archs(properties: Iterable[VariantProperty]) -> tuple[str, ...]:
    """`nvidia :: sm_arch :: 90_real` → CMake '90-real', ordered by architecture."""
    archs = [
        tuple(p.value.split("_"))
        for p in properties
        if p.namespace == "nvidia" and p.feature == "sm_arch"
    ]
    return tuple(f"{n}-{kind}" for n, kind in sorted(archs, key=lambda a: (int(a[0]), a[1])))


def cuda_lower_bound(compiler_version: str) -> str:
    """The toolkit '13.0.88' → '13.0', the value `nvidia :: cuda_version_lower_bound` takes."""
    parts = compiler_version.strip().split(".")
    if len(parts) < 2 or not all(p.isdigit() for p in parts[:2]):
        raise ValueError(f"not a CUDA compiler version: {compiler_version!r}")
    return f"{int(parts[0])}.{int(parts[1])}"
