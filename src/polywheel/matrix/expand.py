"""Settings → the expanded matrix: one `VariantSpec` per label, fully validated."""

from __future__ import annotations

import dataclasses
import itertools
import string
from collections.abc import Sequence

from polywheel.errors import ConfigError, close_matches_hint
from polywheel.matrix.providers import check_property_value, resolve_variant_metadata
from polywheel.matrix.spec import Matrix, VariantSpec
from polywheel.namespaces import CompilerFlags, known
from polywheel.namespaces.abi_dependency import ABI_DEPENDENCY
from polywheel.namespaces.nvidia import (
    SM_ARCH_RE,
    cmake_architectures,
    properties_from_cmake_architectures,
)
from polywheel.properties import NULL_LABEL, VariantProperty, check_label
from polywheel.settings.fields import toml_key
from polywheel.settings.model import AxisEntry, BuildOptions, Settings

__all__ = ["expand_matrix"]


def _merge(entries: Sequence[AxisEntry]) -> BuildOptions:
    props: list[VariantProperty] = []
    define: dict[str, str] = {}
    env: dict[str, str] = {}
    # (kind, variable) -> (value, the entry that set it); `FAST` and `FAST:BOOL` are
    # one CMake variable.
    first: dict[tuple[str, str], tuple[str, str]] = {}
    archs: tuple[str, ...] | None = None
    cuda: bool | None = None
    for entry in entries:
        opts = entry.options
        props.extend(p for p in opts.properties if p not in props)
        for table, target, what in (
            (opts.cmake_define, define, "cmake-define"),
            (opts.env, env, "env"),
        ):
            for name, value in table.items():
                variable = name.partition(":")[0] if what == "cmake-define" else name
                earlier = first.setdefault((what, variable), (value, entry.key))
                if earlier[0] != value:
                    raise ConfigError(
                        f"{what} {variable!r} is set to {earlier[0]!r} by `{earlier[1]}` "
                        f"and to {value!r} here; axis entries must not contradict each other",
                        key=f"{entry.key}.{what}.{toml_key(name)}",
                    )
                target[name] = value
        if opts.cuda_architectures is not None:
            if archs is not None:
                raise ConfigError(
                    "two axes set cuda-architectures", key=f"{entry.key}.cuda-architectures"
                )
            archs = opts.cuda_architectures
        if opts.cuda is not None:
            if cuda is not None and cuda != opts.cuda:
                raise ConfigError("axes disagree on `cuda`", key=f"{entry.key}.cuda")
            cuda = opts.cuda
    return BuildOptions(
        properties=tuple(props),
        cmake_define=define,
        cmake_args=tuple(a for e in entries for a in e.options.cmake_args),
        compile_options=tuple(a for e in entries for a in e.options.compile_options),
        env=env,
        dependencies=tuple(dict.fromkeys(d for e in entries for d in e.options.dependencies)),
        build_requires=tuple(dict.fromkeys(r for e in entries for r in e.options.build_requires)),
        abi_dependencies=_merged_abi(entries),
        cuda_toolkit=_merged_toolkit(entries),
        cuda_architectures=archs,
        cuda=cuda,
    )


def _merged_abi(entries: Sequence[AxisEntry]) -> dict[str, str]:
    """Axis entries' `abi-dependencies`, merged; two precisions for one dependency clash."""
    merged: dict[str, str] = {}
    for entry in entries:
        for name, precision in entry.options.abi_dependencies.items():
            if merged.setdefault(name, precision) != precision:
                raise ConfigError(
                    f"axes disagree on the precision of {name!r} ({merged[name]!r} and "
                    f"{precision!r})",
                    key=f"{entry.key}.abi-dependencies.{name}",
                )
    return merged


def _merged_toolkit(entries: Sequence[AxisEntry]) -> str | None:
    chosen = [e for e in entries if e.options.cuda_toolkit is not None]
    if len(chosen) > 1:
        raise ConfigError("two axes set cuda-toolkit", key=f"{chosen[1].key}.cuda-toolkit")
    return chosen[0].options.cuda_toolkit if chosen else None


def _check_template(template: str, axes: Sequence[str]) -> None:
    """Every `{field}` of the label template names an axis; braces balance."""
    key = "tool.variants.label-template"
    try:
        fields = [f for _, f, _, _ in string.Formatter().parse(template) if f is not None]
    except ValueError as exc:
        raise ConfigError(
            f"{template!r} is not a template: {exc}",
            key=key,
            hint="write axis names in braces, e.g. '{cpu}_{cuda}'; '{{' and '}}' are braces",
        ) from None
    unknown = sorted(set(fields) - set(axes))
    if unknown:
        raise ConfigError(
            f"names unknown axes {unknown}; axes: {', '.join(axes)}",
            key=key,
            hint="write axis names in braces, e.g. '{cpu}_{cuda}'",
        )


def _product(settings: Settings) -> list[tuple[str, BuildOptions, str]]:
    if not settings.axes:
        if settings.exclude or settings.label_template:
            key = "tool.variants.exclude" if settings.exclude else "tool.variants.label-template"
            raise ConfigError("only makes sense with [tool.variants.axes]", key=key)
        return []
    names = [name for name, _ in settings.axes]
    entries_by_axis = {name: {e.name for e in entries} for name, entries in settings.axes}
    for i, rule in enumerate(settings.exclude):
        for axis, entry in rule.items():
            key = f"tool.variants.exclude[{i}].{axis}"
            if axis not in entries_by_axis:
                raise ConfigError(
                    f"unknown axis {axis!r}; axes: {', '.join(names)}",
                    key=key,
                    hint=close_matches_hint(axis, names),
                )
            if entry not in entries_by_axis[axis]:
                raise ConfigError(
                    f"axis {axis!r} has no entry {entry!r}; entries: "
                    f"{', '.join(sorted(entries_by_axis[axis]))}",
                    key=key,
                    hint=close_matches_hint(entry, entries_by_axis[axis]),
                )
    if settings.label_template is not None:
        _check_template(settings.label_template, names)
    result = []
    for combo in itertools.product(*(entries for _, entries in settings.axes)):
        chosen = dict(zip(names, combo, strict=True))
        if any(all(chosen[a].name == e for a, e in rule.items()) for rule in settings.exclude):
            continue
        parts = {name: entry.label_part for name, entry in chosen.items()}
        if settings.label_template is not None:
            label = settings.label_template.format(**parts)
        else:
            label = "_".join(p for p in parts.values() if p)
        where = " x ".join(e.key for e in combo)
        result.append((label or NULL_LABEL, _merge(combo), where))
    if not result:
        total = 1
        for _, entries in settings.axes:
            total *= len(entries)
        raise ConfigError(
            f"excludes every combination of the axes ({total} of {total}), so "
            "[tool.variants.axes] adds no variant",
            key="tool.variants.exclude",
            hint="a rule removes every combination that has all of its entries; "
            "a rule naming one axis removes that entry from the product entirely",
        )
    return result


def _spec(
    label: str, opts: BuildOptions, key: str, label_key: str, max_label_length: int
) -> VariantSpec:
    props = set(opts.properties)
    archs: tuple[str, ...] = ()
    sm_props = {p for p in props if p.namespace == "nvidia" and p.feature == "sm_arch"}
    if opts.cuda_architectures is not None:
        derived = properties_from_cmake_architectures(
            opts.cuda_architectures, key=f"{key}.cuda-architectures"
        )
        if sm_props and sm_props != derived:
            raise ConfigError(
                f"cuda-architectures {list(opts.cuda_architectures)} means "
                f"{sorted(str(p) for p in derived)}, but the properties say "
                f"{sorted(str(p) for p in sm_props)}",
                key=f"{key}.cuda-architectures",
                hint="give one of the two; polywheel derives the other",
            )
        props |= derived
        sm_props = set(derived)
    for prop in sm_props:
        if not SM_ARCH_RE.fullmatch(prop.value):
            raise ConfigError(
                f"property '{prop}': sm_arch values look like '90_real' or '90_virtual'",
                key=f"{key}.properties",
            )
    if sm_props:
        archs = cmake_architectures(sm_props, opts.cuda_architectures)
    has_nvidia = any(p.namespace == "nvidia" for p in props)
    cuda = opts.cuda if opts.cuda is not None else bool(sm_props)
    if not cuda and sm_props:
        raise ConfigError(
            "`cuda = false` contradicts the variant's `nvidia :: sm_arch` properties",
            key=f"{key}.cuda",
        )
    if opts.cuda_toolkit is not None and not cuda:
        raise ConfigError(
            "`cuda-toolkit` is set, but this variant builds no CUDA code",
            key=f"{key}.cuda-toolkit",
            hint="give the variant `cuda-architectures`, or set cuda-toolkit on GPU variants only",
        )
    if cuda and not sm_props:
        raise ConfigError(
            "`cuda = true` needs `cuda-architectures` (or `nvidia :: sm_arch` properties): "
            "a GPU build must say which architectures it targets",
            key=f"{key}.cuda",
        )
    if has_nvidia and not sm_props:
        raise ConfigError(
            "nvidia properties need `nvidia :: sm_arch` (or `cuda-architectures`): "
            "polywheel passes them to CMake as CMAKE_CUDA_ARCHITECTURES",
            key=key,
        )
    ordered = tuple(sorted(props))
    # A build tied to a dependency's ABI has properties, known once it is built.
    count = len(ordered) + len(opts.abi_dependencies)
    check_label(label, key=label_key, property_count=count, max_length=max_label_length)
    return VariantSpec(
        label=label,
        properties=ordered,
        # Completed by expand_matrix once the property values are known to be valid.
        flags=CompilerFlags(extra=opts.compile_options),
        cmake_define=dict(opts.cmake_define),
        cmake_args=opts.cmake_args,
        env=dict(opts.env),
        dependencies=opts.dependencies,
        build_requires=opts.build_requires,
        abi_dependencies=dict(opts.abi_dependencies),
        cuda_toolkit=opts.cuda_toolkit,
        cuda=cuda,
        cuda_architectures=archs,
        key=key,
    )


def _pick_plain(settings: Settings, variants: tuple[VariantSpec, ...]) -> VariantSpec | None:
    if not variants:
        return None
    if settings.plain_wheel != "auto":
        labels = [v.label for v in variants]
        if settings.plain_wheel not in labels:
            raise ConfigError(
                f"{settings.plain_wheel!r} is not a variant label; use 'auto' or one of "
                f"{', '.join(labels)}",
                key="tool.variants.plain-wheel",
                hint=close_matches_hint(settings.plain_wheel, labels),
            )
        return variants[labels.index(settings.plain_wheel)]
    for spec in variants:
        if spec.label == NULL_LABEL:
            return spec
    # min() keeps the first of equals, so declaration order breaks ties.
    return min(variants, key=lambda spec: spec.compatibility_rank)


def expand_matrix(settings: Settings) -> Matrix:
    declared = [(v.label, v.options, v.key, f"{v.key}.label") for v in settings.variants]
    label_key = "tool.variants.label-template" if settings.label_template else None
    raw = declared + [
        (label, opts, key, label_key or key) for label, opts, key in _product(settings)
    ]
    variants: list[VariantSpec] = []
    seen_labels: dict[str, str] = {}
    seen_props: dict[frozenset[object], str] = {}
    for label, opts, key, key_of_label in raw:
        spec = _spec(label, opts, key, key_of_label, settings.max_label_length)
        if label in seen_labels:
            raise ConfigError(
                f"label {label!r} is used twice (also by `{seen_labels[label]}`); a label "
                "must name exactly one set of properties",
                key=key_of_label,
            )
        # The toolkit's lower bound is added later, so compare the declared sets. ABI
        # properties come from the build environment too: variants tied to the same
        # dependencies differ when their build requirements differ (each wheel's
        # variant.json and the index check catch a release that turns out equal).
        identity: set[object] = {*spec.properties, *(("abi", d) for d in spec.abi_dependencies)}
        if spec.abi_dependencies or spec.adds_cuda_lower_bound:
            # So is the CUDA lower bound, from the toolkit the build uses.
            identity.add(("environment", spec.build_requires, spec.cuda_toolkit))
        props = frozenset(identity)
        if props in seen_props:
            raise ConfigError(
                f"variant {label!r} has the same properties as {seen_props[props]!r}; "
                "installers could not tell them apart",
                key=key,
            )
        seen_labels[label] = key_of_label
        seen_props[props] = label
        variants.append(spec)

    used = list(dict.fromkeys(p.namespace for v in variants for p in v.properties))
    if any(v.abi_dependencies for v in variants) and ABI_DEPENDENCY not in used:
        used.append(ABI_DEPENDENCY)
    if any(v.adds_cuda_lower_bound for v in variants) and "nvidia" not in used:
        used.append("nvidia")
    metadata = resolve_variant_metadata(settings.variant_table, used)
    for i, spec in enumerate(variants):
        key = f"{spec.key}.properties"
        flags = CompilerFlags()
        for prop in spec.properties:
            check_property_value(prop, metadata.providers, key=key)
        for ns in dict.fromkeys(p.namespace for p in spec.properties):
            namespace = known(ns)
            if namespace is not None:
                flags += namespace.compiler_flags(spec.of_namespace(ns), key=key)
        variants[i] = dataclasses.replace(spec, flags=flags + spec.flags)
    if variants and not metadata.namespaces:
        raise ConfigError(
            "the matrix has only the null variant, and PEP 825 needs at least one "
            "namespace in default-priorities",
            key="variant.default-priorities.namespace",
            hint="declare [variant.default-priorities] namespace = [...]",
        )
    for label, props in metadata.declared_variants.items():
        match = next((v for v in variants if v.label == label), None)
        if match is None or frozenset(match.properties) != props:
            raise ConfigError(
                f"[variant.variants.{label}] does not match the [tool.variants] matrix; "
                "polywheel builds the matrix, so the two must agree",
                key=f"variant.variants.{label}",
            )
    result = tuple(variants)
    return Matrix(result, metadata, _pick_plain(settings, result))
