"""Variant properties (`namespace :: feature :: value`) and labels, as PEP 825 defines them."""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Iterable, Mapping

from polywheel.errors import ConfigError

__all__ = [
    "LABEL_RE",
    "NULL_LABEL",
    "VariantProperty",
    "check_label",
    "label_problem",
    "parse_property",
    "properties_from_dict",
    "properties_to_dict",
]

NAME_RE = re.compile(r"^[a-z0-9_]+$")
VALUE_RE = re.compile(r"^[a-z0-9_.]+$")
LABEL_RE = re.compile(r"^[0-9a-z_.]+$")
# Whitespace around `::` is insignificant (PEP 825 marker rules; variantlib parses it so).
_PROPERTY_RE = re.compile(r"^\s*([^:\s]+)\s*::\s*([^:\s]+)\s*::\s*([^:\s]+)\s*$")
NULL_LABEL = "null"


@dataclasses.dataclass(frozen=True, order=True)
class VariantProperty:
    namespace: str
    feature: str
    value: str

    def __str__(self) -> str:
        return f"{self.namespace} :: {self.feature} :: {self.value}"


def parse_property(text: str, *, key: str) -> VariantProperty:
    """Parse one property string; `key` names where it came from for the error."""
    match = _PROPERTY_RE.fullmatch(text)
    if not match:
        raise ConfigError(
            f"{text!r} is not a variant property; expected 'namespace :: feature :: value'",
            key=key,
            hint="for example 'x86_64 :: level :: v3'",
        )
    namespace, feature, value = match.groups()
    for part, what, pattern in (
        (namespace, "namespace", NAME_RE),
        (feature, "feature", NAME_RE),
        (value, "value", VALUE_RE),
    ):
        if not pattern.fullmatch(part):
            raise ConfigError(
                f"in property {text!r} the {what} {part!r} must match {pattern.pattern} "
                "(lowercase ASCII, PEP 825)",
                key=key,
            )
    return VariantProperty(namespace, feature, value)


def label_problem(label: str) -> str | None:
    """Why `label` may not name a variant (and so a file or folder), or None.

    The one full-match check every label passes, wherever it comes from (pyproject,
    variant.json, an index file, a filename), before it can become part of a path.
    """
    if not LABEL_RE.fullmatch(label):
        return f"{label!r} must match {LABEL_RE.pattern}"
    if not label.strip("."):
        return f"{label!r} is made of dots only and would name a folder, not a variant"
    return None


def check_label(label: str, *, key: str, property_count: int, max_length: int) -> None:
    """Enforce the PEP 825 label rules plus polywheel's length default."""
    problem = label_problem(label)
    if problem and LABEL_RE.fullmatch(label):
        raise ConfigError(problem, key=key, hint="use a name such as 'x86_64_v3'")
    if problem:
        fixed = re.sub(r"[^0-9a-z_.]", "_", label.lower())
        hint = f"use {fixed!r}" if fixed and LABEL_RE.fullmatch(fixed) else None
        raise ConfigError(
            f"{label!r} is not a valid variant label: it must match {LABEL_RE.pattern} "
            "(lowercase letters, digits, '_' and '.'; PEP 825)",
            key=key,
            hint=hint,
        )
    if label == NULL_LABEL and property_count:
        raise ConfigError(
            "the label 'null' is reserved for the null variant, which has no properties",
            key=key,
            hint="remove the properties or choose another label",
        )
    if label != NULL_LABEL and not property_count:
        raise ConfigError(
            f"variant {label!r} has no properties; a variant without properties is the "
            "null variant and must be labelled 'null'",
            key=key,
        )
    if max_length and len(label) > max_length:
        raise ConfigError(
            f"label {label!r} is {len(label)} characters long; at most {max_length} are "
            "allowed, because uv's prototype and variantlib 0.0.x reject longer labels",
            key=key,
            hint="shorten it, or raise `tool.variants.max-label-length` (0 = no limit)",
        )


def properties_to_dict(properties: Iterable[VariantProperty]) -> dict[str, dict[str, list[str]]]:
    """`{namespace: {feature: sorted values}}`, the shape variant.json uses."""
    tree: dict[str, dict[str, set[str]]] = {}
    for prop in properties:
        tree.setdefault(prop.namespace, {}).setdefault(prop.feature, set()).add(prop.value)
    return {
        ns: {feature: sorted(values) for feature, values in sorted(features.items())}
        for ns, features in sorted(tree.items())
    }


def properties_from_dict(
    tree: Mapping[str, Mapping[str, Iterable[str]]],
) -> frozenset[VariantProperty]:
    return frozenset(
        VariantProperty(ns, feature, value)
        for ns, features in tree.items()
        for feature, values in features.items()
        for value in values
    )
