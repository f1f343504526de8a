"""What a PEP 517 call asks of polywheel, told without reading the matrix: polywheel's
own config-settings keys, and whether the `get_requires_*` hooks need the matrix at
all. Light on purpose: the frontend starts a process for each hook."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

from polywheel._compat import tomllib

__all__ = ["OWN_KEYS", "requires_need_matrix"]

# Our keys, and the ones meson-python's fork and scikit-build-core use for the same
# purpose; none of them may reach scikit-build-core.
LABEL_KEYS = ("variant-label",)
PROPERTY_KEYS = ("variant", "variant-name")
NULL_KEYS = ("null-variant",)
DEFER_KEY = "defer-label"
OWN_KEYS = (*LABEL_KEYS, *PROPERTY_KEYS, *NULL_KEYS, DEFER_KEY)

_BUILD_REQUIRES = "build-requires"


def _has_key(table: object, key: str) -> bool:
    """Whether `key` is a key of some table nested in `table` (iterative: the depth of a
    TOML document is not bounded)."""
    pending = [table]
    while pending:
        value = pending.pop()
        if isinstance(value, Mapping):
            if key in value:
                return True
            pending.extend(value.values())
        elif isinstance(value, list):
            pending.extend(value)
    return False


def requires_need_matrix(root: Path, config_settings: Mapping[str, object] | None) -> bool:
    """False when a `get_requires_*` hook's answer is provably scikit-build-core's alone:
    the call selects nothing (no key of ours) and no part of `[tool.variants]` declares
    `build-requires`, the only thing the matrix adds. Otherwise, and for a pyproject.toml
    that cannot be read, the hook reads (and validates) the whole matrix."""
    if set(config_settings or {}) & set(OWN_KEYS):
        return True
    try:
        with (root / "pyproject.toml").open("rb") as f:
            pyproject = tomllib.load(f)
    except (OSError, ValueError):  # TOMLDecodeError and UnicodeDecodeError are ValueErrors
        return True
    tool = pyproject.get("tool", {})
    if not isinstance(tool, Mapping):
        return True  # not a table: the full reader says so
    return _has_key(tool.get("variants"), _BUILD_REQUIRES)
