"""The expanded matrix: one `VariantSpec` per label, plus what all wheels share."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from typing import Any

from polywheel.errors import SelectionError, close_matches_hint
from polywheel.namespaces import known
from polywheel.namespaces.base import CompilerFlags
from polywheel.namespaces.nvidia import declares_lower_bound, with_toolkit_lower_bound
from polywheel.properties import VariantProperty

__all__ = ["Matrix", "VariantMetadata", "VariantSpec"]


@dataclasses.dataclass(frozen=True)
class VariantSpec:
    """Everything needed to build and describe one variant."""

    label: str
    properties: tuple[VariantProperty, ...]
    flags: CompilerFlags
    cmake_define: Mapping[str, str]
    cmake_args: tuple[str, ...]
    env: Mapping[str, str]
    dependencies: tuple[str, ...]
    cuda: bool
    cuda_architectures: tuple[str, ...]
    key: str
    # Added to the build environment's requirements (`build-requires`).
    build_requires: tuple[str, ...] = ()
    # distribution -> precision; the properties come from the build environment.
    abi_dependencies: Mapping[str, str] = dataclasses.field(default_factory=dict)
    cuda_toolkit: str | None = None  # a toolkit folder, "build-env", or None: CMake's

    @property
    def adds_cuda_lower_bound(self) -> bool:
        """True when `nvidia :: cuda_version_lower_bound` comes from the toolkit used."""
        return self.cuda and not declares_lower_bound(self.properties)

    def final_properties(self, cuda_version: str | None) -> tuple[VariantProperty, ...]:
        """The properties written to variant.json, given the toolkit's lower bound."""
        if not self.cuda:
            return self.properties
        return with_toolkit_lower_bound(self.properties, cuda_version)

    def of_namespace(self, namespace: str) -> tuple[VariantProperty, ...]:
        return tuple(p for p in self.properties if p.namespace == namespace)

    @property
    def compatibility_rank(self) -> tuple[int, int, int]:
        """Lower is more widely installable: fewer accelerators, a lower CPU level, then
        fewer properties. (0, 0, n) runs on every machine of its architecture."""
        accelerators = cpu = 0
        for ns in dict.fromkeys(p.namespace for p in self.properties):
            namespace = known(ns)
            if namespace is None:
                continue
            narrowness = namespace.narrowness(self.of_namespace(ns))
            if namespace.kind == "accelerator":
                accelerators += narrowness
            else:
                cpu = max(cpu, narrowness)
        return (accelerators, cpu, len(self.properties))


@dataclasses.dataclass(frozen=True)
class VariantMetadata:
    """What every wheel of the release shares: namespace priorities and providers."""

    namespaces: tuple[str, ...]
    providers: Mapping[str, Mapping[str, Any]]
    declared_variants: Mapping[str, frozenset[VariantProperty]]


@dataclasses.dataclass(frozen=True)
class Matrix:
    variants: tuple[VariantSpec, ...]
    metadata: VariantMetadata
    plain: VariantSpec | None

    @property
    def labels(self) -> tuple[str, ...]:
        return tuple(v.label for v in self.variants)

    @property
    def has_gpu_variants(self) -> bool:
        return any(v.cuda for v in self.variants)

    def get(self, label: str) -> VariantSpec:
        for spec in self.variants:
            if spec.label == label:
                return spec
        if not self.variants:
            raise SelectionError(
                f"variant {label!r} was asked for, but pyproject.toml declares no variants",
                hint="add [[tool.variants.variant]] tables",
            )
        raise SelectionError(
            f"unknown variant label {label!r}; the matrix has: {', '.join(self.labels)}",
            hint=close_matches_hint(label, self.labels),
        )
