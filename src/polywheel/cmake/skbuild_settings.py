"""A `[tool.scikit-build]` setting as scikit-build-core will see it: `-C` first, then
pyproject.toml. Light (no polywheel imports): the command line reads it before the
project is validated, so any shape of table is walked without an error."""

from __future__ import annotations

from collections.abc import Mapping

__all__ = ["skbuild_setting"]


def skbuild_setting(
    pyproject: Mapping[str, object], settings: Mapping[str, object], key: str
) -> object:
    """The dotted `key` (such as `ninja.version`) from `settings` (-C), else from
    `[tool.scikit-build]`; None where neither has it."""
    if key in settings:
        return settings[key]
    table: object = pyproject
    for part in ("tool", "scikit-build", *key.split(".")):
        table = table.get(part) if isinstance(table, Mapping) else None
    return table
