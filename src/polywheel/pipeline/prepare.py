"""prepare_metadata_for_build_wheel: the same dist-info build_wheel will write."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

from scikit_build_core import build as _skbuild

from polywheel.cmake.toolchain import probe_cuda_lower_bound, toolkit_nvcc
from polywheel.errors import BuildError
from polywheel.matrix.selection import Selection
from polywheel.namespaces.abi_dependency import installed_abi_properties, runtime_requirement
from polywheel.pipeline.variant import variant_json_bytes
from polywheel.project import Project
from polywheel.wheel.metadata import add_requires

__all__ = ["prepare_metadata"]


def prepare_metadata(
    project: Project,
    selection: Selection,
    metadata_directory: Path,
    config_settings: Mapping[str, str | list[str]],
    *,
    editable: bool,
) -> str:
    matrix = project.matrix
    spec = matrix.get(selection.labels[0]) if selection.labels else matrix.plain
    hook = (
        _skbuild.prepare_metadata_for_build_editable
        if editable
        else _skbuild.prepare_metadata_for_build_wheel
    )
    name = str(hook(str(metadata_directory), dict(config_settings)))
    dist_info = metadata_directory / name
    if spec is None:
        return name
    abi = installed_abi_properties(spec.abi_dependencies, label=spec.label, key=spec.key)
    metadata = dist_info / "METADATA"
    requires = (*spec.dependencies, *map(runtime_requirement, abi))
    metadata.write_bytes(add_requires(metadata.read_bytes(), requires))
    if selection.labels and not editable:
        nvcc = toolkit_nvcc(spec.cuda_toolkit, key=spec.key, label=spec.label)
        cuda = probe_cuda_lower_bound(nvcc) if spec.adds_cuda_lower_bound else None
        if spec.adds_cuda_lower_bound and cuda is None:
            raise BuildError(
                "is a GPU variant, but no CUDA toolkit (nvcc) was found",
                label=spec.label,
                hint="put nvcc on PATH or set CUDACXX",
            )
        props = tuple(sorted({*spec.final_properties(cuda), *abi}))
        (dist_info / "variant.json").write_bytes(variant_json_bytes(project, spec.label, props))
    return name
