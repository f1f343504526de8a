"""The `variant.json` document: built for one wheel or an index, parsed back, checked."""

from __future__ import annotations

import json
import math
from collections.abc import Iterable, Mapping
from typing import Any

from polywheel.conformance.rules import (
    SCHEMA_PEP825,
    SCHEMA_PEP850,
    SCHEMA_VARIANTLIB,
    document_problems,
)
from polywheel.errors import WheelFormatError
from polywheel.properties import VariantProperty, properties_to_dict

__all__ = [
    "MAX_CONTAINERS",
    "MAX_DEPTH",
    "check_variant_json",
    "dumps",
    "make_variant_json",
    "parse_document",
]

# A variant.json is four levels deep (variants → label → namespace → feature → values);
# deeper documents are refused before the parser could recurse on them.
MAX_DEPTH = 16


_SCHEMAS = {"pep850": SCHEMA_PEP850, "variantlib": SCHEMA_VARIANTLIB, "pep825": SCHEMA_PEP825}


def make_variant_json(
    labels: Mapping[str, Iterable[VariantProperty]],
    namespaces: Iterable[str],
    providers: Mapping[str, Mapping[str, Any]],
    fmt: str,
) -> dict[str, Any]:
    """The document for one wheel (one label) or for the index (all labels)."""
    order = list(namespaces)
    doc: dict[str, Any] = {
        "$schema": _SCHEMAS[fmt],
        "default-priorities": {"namespace": order},
        "variants": {label: properties_to_dict(props) for label, props in sorted(labels.items())},
    }
    if fmt != "pep825":
        doc["providers"] = {ns: json.loads(json.dumps(dict(providers[ns]))) for ns in order}
    return doc


def dumps(doc: Mapping[str, Any]) -> bytes:
    """Stable bytes: sorted keys, fixed indentation, UTF-8, trailing newline."""
    return (json.dumps(doc, indent=4, sort_keys=True, ensure_ascii=False) + "\n").encode()


# A generous bound on arrays and objects in one document (an index of a thousand
# variants has a few thousand): each costs memory once parsed, so `[],` repeated is
# refused before parsing, by a count made at C speed.
MAX_CONTAINERS = 200_000


def _depth(doc: Any) -> int:
    """How deeply `doc` nests, walked without recursion."""
    deepest = 0
    stack: list[tuple[Any, int]] = [(doc, 1)]
    while stack:
        node, depth = stack.pop()
        children = node.values() if isinstance(node, dict) else node
        if isinstance(node, (dict, list)):
            deepest = max(deepest, depth)
            stack += [(c, depth + 1) for c in children if isinstance(c, (dict, list))]
    return deepest


def _not_json(constant: str) -> Any:
    raise ValueError(f"{constant} is not a JSON value")


def _finite(number: str) -> float:
    value = float(number)
    if not math.isfinite(value):
        raise ValueError(f"{number[:40]} is out of range")
    return value


def parse_document(raw: bytes, where: str) -> Any:
    """JSON from untrusted bytes: UTF-8, strict JSON (no NaN or Infinity), containers
    and nesting bounded, every failure a WheelFormatError."""
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise WheelFormatError(f"{where} is not UTF-8: {exc}") from None
    containers = raw.count(b"[") + raw.count(b"{")
    if containers > MAX_CONTAINERS:
        raise WheelFormatError(
            f"{where} has {containers} arrays and objects, over the limit of {MAX_CONTAINERS}"
        )
    try:
        doc = json.loads(text, parse_constant=_not_json, parse_float=_finite)
    except RecursionError:
        raise WheelFormatError(f"{where} nests deeper than {MAX_DEPTH} levels") from None
    except ValueError as exc:
        raise WheelFormatError(f"{where} is not JSON: {exc}") from None
    if _depth(doc) > MAX_DEPTH:
        raise WheelFormatError(f"{where} nests deeper than {MAX_DEPTH} levels")
    return doc


def check_variant_json(doc: Any, where: str, *, expected_label: str | None = None) -> None:
    """Refuse a document that breaks any error-level rule (the first one is reported)."""
    errors = [p for p in document_problems(doc, expected_label=expected_label) if p.severity == "E"]
    if errors:
        raise WheelFormatError(f"{where}: {errors[0]}")
