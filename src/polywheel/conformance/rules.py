"""The numbered conformance rules for variant.json documents (spec notes §10 B, C, E).

Pure functions returning every problem found, each with its rule number, so that
`polywheel check` can report them all and the writers can refuse the first error.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from typing import Any

from polywheel.conformance.problems import Problem
from polywheel.properties import NAME_RE, NULL_LABEL, VALUE_RE, label_problem

__all__ = [
    "SCHEMA_PEP825",
    "SCHEMA_PEP850",
    "SCHEMA_VARIANTLIB",
    "Problem",
    "document_problems",
    "merge_problems",
    "release_problems",
]

# One constant per format: PEP 825 says 0.x schemas are drafts and the URL will move.
SCHEMA_PEP825 = "https://variants-schema.wheelnext.dev/peps/825/v0.1.1.json"
# What variantlib 0.2.2 writes and uv 0.13 parses (PEP 825 keys plus `providers`).
SCHEMA_VARIANTLIB = "https://variants-schema.wheelnext.dev/v0.2.0.json"
# PEP 850 (providers) gives the same document its own URL; uv 0.13.9 knows it, and
# variantlib 0.2.2 reads it (it does not check `$schema`).
SCHEMA_PEP850 = "https://variants-schema.wheelnext.dev/peps/850/v0.2.0.json"
KNOWN_SCHEMAS = {
    SCHEMA_PEP850: "pep850",
    SCHEMA_PEP825: "pep825",
    SCHEMA_VARIANTLIB: "variantlib",
}
_PROVIDER_KEYS = {
    "requires",
    "plugin-api",
    "optional",
    "static-properties",
    "feature-order",
    "builtin",  # a provider the installer implements itself (PEP 850's abi_dependency)
}
_PROVIDER_FORMS = ("requires", "static-properties", "builtin")
# Keys of the v0.0.3 (PEP 817 draft) format that variant-repack wheels still carry.
_PEP817_DRAFT_KEYS = {"enable-if", "install-time"}


def _providers_problems(providers: Any, namespaces: Sequence[str]) -> list[Problem]:
    if not isinstance(providers, dict):
        return [Problem(10, "E", "`providers` must be an object")]
    problems = []
    if sorted(providers) != sorted(namespaces):
        problems.append(
            Problem(10, "E", "`providers` must name exactly the namespaces of default-priorities")
        )
    for ns, provider in providers.items():
        drafts = sorted(set(provider) & _PEP817_DRAFT_KEYS) if isinstance(provider, dict) else []
        if drafts:
            problems.append(
                Problem(
                    10,
                    "E",
                    f"provider {ns!r} has the PEP 817 draft keys {drafts}; uv 0.13 refuses "
                    "the whole file (`unexpected subkeys`): drop them (install-time is the "
                    "default, enable-if has no replacement)",
                )
            )
        elif not isinstance(provider, dict) or not set(provider) <= _PROVIDER_KEYS:
            unknown = sorted(set(provider) - _PROVIDER_KEYS) if isinstance(provider, dict) else []
            problems.append(
                Problem(
                    10,
                    "E",
                    f"provider {ns!r} has unknown keys {unknown}; allowed: "
                    f"{sorted(_PROVIDER_KEYS)}",
                )
            )
        elif sum(form in provider for form in _PROVIDER_FORMS) != 1:
            problems.append(
                Problem(
                    10,
                    "E",
                    f"provider {ns!r} needs exactly one of requires / static-properties / builtin",
                )
            )
        elif "builtin" in provider and not isinstance(provider["builtin"], str):
            problems.append(Problem(10, "E", f"provider {ns!r}: `builtin` must be a string"))
    return problems


def _tree_problems(label: str, tree: Any, namespaces: Sequence[str]) -> list[Problem]:
    if not isinstance(tree, dict):
        return [Problem(10, "E", f"variant {label!r} must be an object")]
    problems = []
    if label == NULL_LABEL and tree:
        problems.append(Problem(20, "E", "the null variant must have no properties"))
    if label != NULL_LABEL and not tree:
        problems.append(Problem(20, "E", f"variant {label!r} has no properties but is not 'null'"))
    for ns, features in tree.items():
        if not NAME_RE.fullmatch(ns):
            problems.append(Problem(13, "E", f"variant {label!r}: bad namespace {ns!r}"))
        if ns not in namespaces:
            problems.append(
                Problem(21, "E", f"variant {label!r} uses {ns!r}, missing from default-priorities")
            )
        if not isinstance(features, dict):
            problems.append(Problem(10, "E", f"variant {label!r}: {ns!r} must be an object"))
            continue
        if not features:
            problems.append(Problem(16, "W", f"variant {label!r}: empty namespace {ns!r}"))
        for feature, values in features.items():
            name = f"{ns} :: {feature}"
            if not NAME_RE.fullmatch(feature):
                problems.append(Problem(13, "E", f"variant {label!r}: bad feature {feature!r}"))
            if not isinstance(values, list) or not values:
                problems.append(Problem(14, "E", f"variant {label!r}: {name} needs values"))
                continue
            bad = [v for v in values if not (isinstance(v, str) and VALUE_RE.fullmatch(v))]
            if bad:
                problems.append(
                    Problem(
                        13,
                        "E",
                        f"variant {label!r}: {name} has the bad value {bad[0]!r} "
                        f"(values match {VALUE_RE.pattern})",
                    )
                )
                continue
            if len(set(values)) != len(values):
                problems.append(Problem(14, "E", f"variant {label!r}: {name} repeats a value"))
            elif values != sorted(values):
                problems.append(
                    Problem(15, "E", f"variant {label!r}: values of {name} are not sorted")
                )
    return problems


def document_problems(doc: Any, *, expected_label: str | None = None) -> list[Problem]:
    """Rules 9-22 for one variant.json (or, without `expected_label`, an index file)."""
    if not isinstance(doc, dict):
        return [Problem(9, "E", "the top level must be a JSON object")]
    problems: list[Problem] = []
    schema = str(doc.get("$schema"))
    if schema not in KNOWN_SCHEMAS:
        problems.append(Problem(11, "E", f"unsupported $schema {doc.get('$schema')!r}"))
    elif "/v0." in schema:
        problems.append(Problem(12, "W", f"$schema {schema} is a draft (0.x) version"))
    allowed = {"$schema", "default-priorities", "variants"}
    if KNOWN_SCHEMAS.get(schema) != "pep825":
        allowed.add("providers")
    extra = sorted(set(doc) - allowed)
    if extra:
        rule = 22 if KNOWN_SCHEMAS.get(schema) == "pep825" else 10
        problems.append(Problem(rule, "E", f"unexpected keys {extra}"))
    for key in ("$schema", "default-priorities", "variants"):
        if key not in doc:
            problems.append(Problem(10, "E", f"missing {key!r}"))
    priorities = doc.get("default-priorities", {})
    namespaces: list[str] = []
    if not isinstance(priorities, dict) or set(priorities) - {"namespace"}:
        rule = 22 if isinstance(priorities, dict) else 10
        problems.append(Problem(rule, "E", "default-priorities may hold only `namespace`"))
    raw = priorities.get("namespace") if isinstance(priorities, dict) else None
    if (
        not isinstance(raw, list)
        or not raw
        or len(set(map(str, raw))) != len(raw)
        or not all(isinstance(n, str) and NAME_RE.fullmatch(n) for n in raw)
    ):
        problems.append(
            Problem(17, "E", "default-priorities.namespace must be non-empty, distinct names")
        )
    else:
        namespaces = list(raw)
    if "providers" in doc and "providers" in allowed:
        problems += _providers_problems(doc["providers"], namespaces)
    variants = doc.get("variants", {})
    if not isinstance(variants, dict):
        return [*problems, Problem(10, "E", "`variants` must be an object")]
    if expected_label is not None:
        if len(variants) != 1:
            problems.append(Problem(18, "E", f"`variants` has {len(variants)} entries, not one"))
        if expected_label not in variants:
            problems.append(
                Problem(19, "E", f"`variants` does not hold the filename label {expected_label!r}")
            )
    for label, tree in variants.items():
        problem = label_problem(label)
        if problem:
            problems.append(Problem(3, "E", f"label {problem}"))
        problems += _tree_problems(label, tree, namespaces)
    return sorted(set(problems))


def merge_problems(
    docs: Iterable[tuple[str, dict[str, Any]]],
) -> tuple[dict[str, Any] | None, list[Problem]]:
    """Rules 23-26: merge the wheels' documents, reporting every conflict.

    The inputs are merged in sorted order, so the result never depends on the order
    they were found in (rule 33).
    """
    merged: dict[str, Any] | None = None
    owner: dict[str, str] = {}
    problems: list[Problem] = []
    signatures: dict[str, str] = {}
    first = ""
    for source, doc in sorted(docs, key=lambda item: item[0]):
        if merged is None:
            merged = json.loads(json.dumps(doc))
            owner = dict.fromkeys(doc["variants"], source)
            first = source
            continue
        if doc["$schema"] != merged["$schema"]:
            problems.append(
                Problem(
                    26,
                    "W",
                    f"{source} uses $schema {doc['$schema']} but {first} uses "
                    f"{merged['$schema']}; rebuild them with one `format`",
                )
            )
        ours = merged["default-priorities"]["namespace"]
        theirs = doc["default-priorities"]["namespace"]
        shorter, longer = sorted((ours, theirs), key=len)
        if longer[: len(shorter)] != shorter:
            problems.append(
                Problem(24, "E", f"namespace lists of {source} {theirs} and {first} {ours} clash")
            )
        else:
            merged["default-priorities"]["namespace"] = list(longer)
        for ns, provider in doc.get("providers", {}).items():
            if merged.setdefault("providers", {}).setdefault(ns, provider) != provider:
                problems.append(
                    Problem(23, "E", f"provider {ns!r} differs in {source} and {first}")
                )
        for label, props in doc["variants"].items():
            if label in merged["variants"] and merged["variants"][label] != props:
                problems.append(
                    Problem(
                        23,
                        "E",
                        f"label {label!r} means {props} in {source} but "
                        f"{merged['variants'][label]} in {owner[label]}",
                    )
                )
            merged["variants"].setdefault(label, props)
            owner.setdefault(label, source)
    if merged is not None:
        merged["variants"] = dict(sorted(merged["variants"].items()))
        for label, props in merged["variants"].items():
            signature = json.dumps(props, sort_keys=True)
            if signature in signatures:
                problems.append(
                    Problem(
                        25, "W", f"labels {signatures[signature]!r} and {label!r} mean the same"
                    )
                )
            signatures.setdefault(signature, label)
    return merged, sorted(set(problems))


def release_problems(
    index: dict[str, Any], wheels: Sequence[tuple[str, dict[str, Any]]]
) -> list[Problem]:
    """Rules 30-32: an index file against the variant.json of the release's wheels."""
    merged, problems = merge_problems(wheels)
    if merged is None:
        return problems
    variants = index.get("variants", {})
    for source, doc in wheels:
        for label, props in doc["variants"].items():
            if label not in variants:
                problems.append(Problem(30, "E", f"label {label!r} of {source} is missing"))
            elif variants[label] != props:
                problems.append(Problem(31, "E", f"label {label!r} differs from {source}"))
    namespace = index.get("default-priorities", {}).get("namespace")
    if namespace != merged["default-priorities"]["namespace"]:
        problems.append(
            Problem(32, "E", "default-priorities.namespace is not the longest of the wheels' lists")
        )
    return sorted(set(problems))
