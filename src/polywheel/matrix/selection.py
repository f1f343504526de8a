"""Which wheel(s) a PEP 517 call asks for, read from config-settings."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping

from polywheel.errors import SelectionError, close_matches_hint
from polywheel.matrix.requests import DEFER_KEY, LABEL_KEYS, NULL_KEYS, PROPERTY_KEYS
from polywheel.matrix.spec import Matrix
from polywheel.properties import NULL_LABEL, parse_property

__all__ = ["ALL", "Selection", "build_requires_of", "split_config_settings"]

ALL = ":all:"


@dataclasses.dataclass(frozen=True)
class Selection:
    """Empty `labels` means the plain, non-variant wheel.

    `defer_label`: write variant.json but keep the filename plain, for tools that
    cannot read labelled names (cibuildwheel, auditwheel); `polywheel relabel` adds it.
    """

    labels: tuple[str, ...] = ()
    defer_label: bool = False

    @property
    def plain(self) -> bool:
        return not self.labels


def _values(raw: str | list[str]) -> list[str]:
    items = raw if isinstance(raw, list) else [raw]
    return [part.strip() for item in items for part in item.split(",") if part.strip()]


def split_config_settings(
    config_settings: Mapping[str, str | list[str]] | None, matrix: Matrix
) -> tuple[Selection, dict[str, str | list[str]]]:
    """Our selection, and the settings left for scikit-build-core."""
    settings = dict(config_settings or {})
    labels = [v for k in LABEL_KEYS if k in settings for v in _values(settings.pop(k))]
    props = [v for k in PROPERTY_KEYS if k in settings for v in _values(settings.pop(k))]
    null = any(settings.pop(k, None) is not None for k in NULL_KEYS)
    defer = _flag(settings.pop(DEFER_KEY, None))
    if null:
        labels.append(NULL_LABEL)
    if props:
        wanted = frozenset(parse_property(p, key="-C variant") for p in props)
        match = [v.label for v in matrix.variants if frozenset(v.properties) == wanted]
        if not match:
            described = "; ".join(
                f"{v.label}: {', '.join(map(str, v.properties))}" for v in matrix.variants
            )
            raise SelectionError(
                f"no variant has exactly the properties {sorted(map(str, wanted))}; "
                f"the matrix has {described or 'no variants'}",
                hint="select by label instead: -C variant-label=LABEL",
            )
        labels.extend(match)
    if ALL in labels:
        if len(labels) > 1:
            raise SelectionError(f"-C variant-label={ALL} cannot be combined with other labels")
        if not matrix.variants:
            raise SelectionError("-C variant-label=:all: but pyproject.toml declares no variants")
        return _checked(Selection(matrix.labels, defer)), settings
    for label in labels:
        if label not in matrix.labels:
            if label == NULL_LABEL:
                raise SelectionError(
                    "the null variant was asked for, but the matrix declares none",
                    hint='add [[tool.variants.variant]] with label = "null" and no properties',
                )
            raise SelectionError(
                f"unknown -C variant-label {label!r}; allowed: {', '.join([*matrix.labels, ALL])}",
                hint=close_matches_hint(label, matrix.labels),
            )
    return _checked(Selection(tuple(dict.fromkeys(labels)), defer)), settings


def _flag(raw: str | list[str] | None) -> bool:
    if isinstance(raw, list):
        raw = raw[-1] if raw else None  # a repeated option: the last one wins
    value = (raw or "").strip().lower()
    if raw is None or value in ("false", "0", "no", "off"):
        return False
    if value in ("", "true", "1", "yes", "on"):
        return True
    raise SelectionError(f"-C {DEFER_KEY}={value!r}: use true or false")


def _checked(selection: Selection) -> Selection:
    if selection.defer_label and len(selection.labels) != 1:
        raise SelectionError(
            f"-C {DEFER_KEY}=true needs exactly one -C variant-label: without labels in "
            "their names, several variant wheels would overwrite each other"
        )
    return selection


def build_requires_of(matrix: Matrix, selection: Selection) -> list[str]:
    """The `build-requires` of the variants a PEP 517 call builds: the frontend installs
    them, since the hooks cannot change their own environment."""
    if selection.plain or not selection.labels:
        spec = matrix.get(selection.labels[0]) if selection.labels else matrix.plain
        specs = [spec] if spec else []
    else:
        specs = [matrix.get(label) for label in selection.labels]
    return list(dict.fromkeys(r for spec in specs for r in spec.build_requires))
