"""The `variant.json` document: built for one wheel, read back, and checked."""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from typing import Any

from polywheel.errors import WheelFormatError
from polywheel.properties import VariantProperty
from polywheel.properties import properties_to_dict as _tree
from polywheel.providers import VariantMetadata
from polywheel.rules import SCHEMA_PEP825, SCHEMA_VARIANTLIB, document_problems

__all__ = [
    "SCHEMA_PEP825",
    "SCHEMA_VARIANTLIB",
    "check_variant_json",
    "dumps",
    "make_variant_json",
]


def make_variant_json(
    labels: Mapping[str, Iterable[VariantProperty]], metadata: VariantMetadata, fmt: str
) -> dict[str, Any]:
    """The document for one wheel (one label) or for the index (all labels)."""
    doc: dict[str, Any] = {
        "$schema": SCHEMA_PEP825 if fmt == "pep825" else SCHEMA_VARIANTLIB,
        "default-priorities": {"namespace": list(metadata.namespaces)},
        "variants": {label: _tree(props) for label, props in sorted(labels.items())},
    }
    if fmt != "pep825":
        doc["providers"] = {
            ns: json.loads(json.dumps(dict(metadata.providers[ns]))) for ns in metadata.namespaces
        }
    return doc


def dumps(doc: Mapping[str, Any]) -> bytes:
    """Stable bytes: sorted keys, fixed indentation, UTF-8, trailing newline."""
    return (json.dumps(doc, indent=4, sort_keys=True, ensure_ascii=False) + "\n").encode()


def check_variant_json(doc: Any, where: str, *, expected_label: str | None = None) -> None:
    """Refuse a document that breaks any error-level rule (the first one is reported)."""
    errors = [p for p in document_problems(doc, expected_label=expected_label) if p.severity == "E"]
    if errors:
        raise WheelFormatError(f"{where}: {errors[0]}")
