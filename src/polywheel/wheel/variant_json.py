"""The `variant.json` document: built for one wheel or an index, parsed back, checked."""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from typing import Any

from polywheel.conformance.rules import SCHEMA_PEP825, SCHEMA_VARIANTLIB, document_problems
from polywheel.errors import WheelFormatError
from polywheel.properties import VariantProperty, properties_to_dict

__all__ = [
    "MAX_DEPTH",
    "check_variant_json",
    "dumps",
    "make_variant_json",
    "parse_document",
]

# A variant.json is four levels deep (variants → label → namespace → feature → values);
# deeper documents are refused before the parser could recurse on them.
MAX_DEPTH = 16


def make_variant_json(
    labels: Mapping[str, Iterable[VariantProperty]],
    namespaces: Iterable[str],
    providers: Mapping[str, Mapping[str, Any]],
    fmt: str,
) -> dict[str, Any]:
    """The document for one wheel (one label) or for the index (all labels)."""
    order = list(namespaces)
    doc: dict[str, Any] = {
        "$schema": SCHEMA_PEP825 if fmt == "pep825" else SCHEMA_VARIANTLIB,
        "default-priorities": {"namespace": order},
        "variants": {label: properties_to_dict(props) for label, props in sorted(labels.items())},
    }
    if fmt != "pep825":
        doc["providers"] = {ns: json.loads(json.dumps(dict(providers[ns]))) for ns in order}
    return doc


def dumps(doc: Mapping[str, Any]) -> bytes:
    """Stable bytes: sorted keys, fixed indentation, UTF-8, trailing newline."""
    return (json.dumps(doc, indent=4, sort_keys=True, ensure_ascii=False) + "\n").encode()


def _depth(text: str) -> int:
    depth = deepest = 0
    in_string = escaped = False
    for char in text:
        if in_string:
            if escaped:
                escaped = False
            elif char == "\\":
                escaped = True
            elif char == '"':
                in_string = False
        elif char == '"':
            in_string = True
        elif char in "[{":
            depth += 1
            deepest = max(deepest, depth)
        elif char in "]}":
            depth -= 1
    return deepest


def parse_document(raw: bytes, where: str) -> Any:
    """JSON from untrusted bytes: UTF-8, nesting bounded, errors as WheelFormatError."""
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise WheelFormatError(f"{where} is not UTF-8: {exc}") from None
    if _depth(text) > MAX_DEPTH:
        raise WheelFormatError(f"{where} nests deeper than {MAX_DEPTH} levels")
    try:
        return json.loads(text)
    except ValueError as exc:
        raise WheelFormatError(f"{where} is not JSON: {exc}") from None


def check_variant_json(doc: Any, where: str, *, expected_label: str | None = None) -> None:
    """Refuse a document that breaks any error-level rule (the first one is reported)."""
    errors = [p for p in document_problems(doc, expected_label=expected_label) if p.severity == "E"]
    if errors:
        raise WheelFormatError(f"{where}: {errors[0]}")
