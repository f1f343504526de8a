"""The `variant.json` document: built for one wheel, read back, and checked."""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from typing import Any

from polywheel.errors import WheelFormatError
from polywheel.properties import LABEL_RE, NAME_RE, NULL_LABEL, VALUE_RE, VariantProperty
from polywheel.properties import properties_to_dict as _tree
from polywheel.providers import VariantMetadata

__all__ = [
    "SCHEMA_PEP825",
    "SCHEMA_VARIANTLIB",
    "check_variant_json",
    "dumps",
    "make_variant_json",
]

# One constant per format: PEP 825 says 0.x schemas are drafts and the URL will move.
SCHEMA_PEP825 = "https://variants-schema.wheelnext.dev/peps/825/v0.1.1.json"
# What variantlib 0.2.2 writes and uv 0.13 parses (PEP 825 keys plus `providers`).
SCHEMA_VARIANTLIB = "https://variants-schema.wheelnext.dev/v0.2.0.json"
KNOWN_SCHEMAS = {SCHEMA_PEP825: "pep825", SCHEMA_VARIANTLIB: "variantlib"}


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


def _fail(where: str, message: str) -> WheelFormatError:
    return WheelFormatError(f"{where}: {message}")


def check_variant_json(doc: Any, where: str, *, expected_label: str | None = None) -> None:
    """The PEP 825 rules that hold for both formats (§10 B and C of the spec notes)."""
    if not isinstance(doc, dict):
        raise _fail(where, "the top level must be a JSON object")
    schema = doc.get("$schema")
    if schema not in KNOWN_SCHEMAS:
        raise _fail(
            where, f"unsupported $schema {schema!r}; polywheel reads {sorted(KNOWN_SCHEMAS)}"
        )
    allowed = {"$schema", "default-priorities", "variants"}
    if KNOWN_SCHEMAS[schema] == "variantlib":
        allowed.add("providers")
    extra = set(doc) - allowed
    if extra:
        raise _fail(where, f"unexpected keys {sorted(extra)} for {schema}")
    priorities = doc.get("default-priorities")
    if not isinstance(priorities, dict) or set(priorities) != {"namespace"}:
        raise _fail(where, "default-priorities must hold exactly `namespace`")
    namespaces = priorities["namespace"]
    if (
        not isinstance(namespaces, list)
        or not namespaces
        or len(set(namespaces)) != len(namespaces)
        or not all(isinstance(n, str) and NAME_RE.match(n) for n in namespaces)
    ):
        raise _fail(
            where, "default-priorities.namespace must be a non-empty list of distinct names"
        )
    variants = doc.get("variants")
    if not isinstance(variants, dict):
        raise _fail(where, "`variants` must be an object")
    if expected_label is not None and list(variants) != [expected_label]:
        raise _fail(
            where,
            f"`variants` must hold exactly the label {expected_label!r}, not {sorted(variants)}",
        )
    for label, tree in variants.items():
        if not LABEL_RE.match(label):
            raise _fail(where, f"label {label!r} must match {LABEL_RE.pattern}")
        if not isinstance(tree, dict):
            raise _fail(where, f"variant {label!r} must be an object")
        if (label == NULL_LABEL) != (not tree):
            raise _fail(
                where, f"variant {label!r}: only 'null' may have, and must have, no properties"
            )
        for ns, features in tree.items():
            if not NAME_RE.match(ns) or ns not in namespaces:
                raise _fail(
                    where,
                    f"variant {label!r} uses namespace {ns!r}, missing from default-priorities",
                )
            if not isinstance(features, dict) or not features:
                raise _fail(
                    where, f"variant {label!r}: namespace {ns!r} must map features to values"
                )
            for feature, values in features.items():
                if not NAME_RE.match(feature) or not isinstance(values, list) or not values:
                    raise _fail(
                        where, f"variant {label!r}: {ns} :: {feature} must be a non-empty list"
                    )
                if not all(isinstance(v, str) and VALUE_RE.match(v) for v in values):
                    raise _fail(where, f"variant {label!r}: {ns} :: {feature} has an invalid value")
                if values != sorted(set(values)):
                    raise _fail(
                        where,
                        f"variant {label!r}: values of {ns} :: {feature} must be sorted and unique",
                    )
    if "providers" in doc:
        providers = doc["providers"]
        if not isinstance(providers, dict) or sorted(providers) != sorted(namespaces):
            raise _fail(where, "`providers` must name exactly the namespaces of default-priorities")
