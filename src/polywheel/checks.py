"""Refuse to label a build whose variant flags or CUDA architectures never reached it."""

from __future__ import annotations

from polywheel.errors import BuildError
from polywheel.flags import cuda_lower_bound
from polywheel.matrix import VariantSpec
from polywheel.properties import VariantProperty
from polywheel.stage import RawBuild
from polywheel.wheelfile import wheel_is_pure

__all__ = ["verified_properties"]


def _same_archs(reported: tuple[str, ...], expected: tuple[str, ...]) -> bool:
    def expand(archs: tuple[str, ...]) -> set[str]:
        out: set[str] = set()
        for arch in archs:
            out |= {arch} if "-" in arch else {f"{arch}-real", f"{arch}-virtual"}
        return out

    return expand(reported) == expand(expected)


def verified_properties(
    spec: VariantSpec, raw: RawBuild, *, apply_flags: str
) -> tuple[VariantProperty, ...]:
    """The properties to write for this build, after checking the build honoured them."""
    label = spec.label
    if wheel_is_pure(raw.wheel):
        raise BuildError(
            f"the build produced a pure-Python wheel ({raw.wheel.name}); scikit-build-core "
            "probably fell back after a CMake failure (an `if.failed` override), and a "
            "wheel without compiled code must not carry a variant label",
            label=label,
        )
    info = raw.info
    if info is None:
        raise BuildError(
            "polywheel's CMake include never ran, so the variant flags did not reach "
            "CMake; something replaced CMAKE_PROJECT_INCLUDE (SKBUILD_CMAKE_DEFINE?)",
            label=label,
            hint="set CMAKE_PROJECT_INCLUDE in [tool.scikit-build] cmake.define or "
            "CMAKE_ARGS, where polywheel chains it",
        )
    if apply_flags == "targets" and spec.flags and not info.list("flagged_targets"):
        raise BuildError(
            '`apply-flags = "targets"` but no target was passed to '
            "polywheel_apply_variant_flags(), so no code got the variant's flags",
            label=label,
            hint="call polywheel_apply_variant_flags(<target>) in CMakeLists.txt",
        )
    if not spec.cuda:
        return spec.properties
    if not info.cuda_enabled:
        raise BuildError(
            "the variant declares nvidia :: sm_arch, but the CMake project never enabled "
            "the CUDA language, so the wheel holds no GPU code",
            label=label,
            hint="is a CUDA toolkit installed? CMake looks at CUDACXX, PATH and "
            "/usr/local/cuda; the project must enable CUDA when CMAKE_CUDA_ARCHITECTURES "
            "is given",
        )
    reported = info.list("cuda_architectures")
    if not _same_archs(reported, spec.cuda_architectures):
        raise BuildError(
            f"CMAKE_CUDA_ARCHITECTURES ended up as {';'.join(reported) or '(empty)'} but "
            f"the variant needs {';'.join(spec.cuda_architectures)}; the project overrides "
            "the value polywheel passed",
            label=label,
            hint="set CMAKE_CUDA_ARCHITECTURES only if it is not defined yet",
        )
    version = info.cuda_compiler_version
    if version is None:
        raise BuildError("CUDA is enabled but CMake reported no CUDA compiler version", label=label)
    toolkit = cuda_lower_bound(version)
    for prop in spec.properties:
        if prop.feature == "cuda_version_lower_bound" and prop.namespace == "nvidia":
            declared = tuple(int(x) for x in prop.value.split("."))
            if tuple(int(x) for x in toolkit.split(".")) < declared:
                raise BuildError(
                    f"declares cuda_version_lower_bound {prop.value} but was built with CUDA "
                    f"{version}",
                    label=label,
                )
    return spec.final_properties(toolkit)
