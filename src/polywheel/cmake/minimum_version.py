"""`minimum-version = "build-system.requires"` with polywheel as the backend.

A module of its own: the PEP 517 hooks apply it when they are imported, and
`get_requires_for_build_wheel` runs in a process of its own, which should not pay for
importing the build machinery.
"""

from __future__ import annotations

from collections.abc import Iterable

__all__ = ["floor_minimum_version"]


def floor_minimum_version() -> None:
    """Make `minimum-version = "build-system.requires"` work with polywheel as the backend.

    scikit-build-core reads that literal from a `scikit-build-core` entry of
    `build-system.requires` only, before any -C or environment override, and stops when
    there is none. A project whose requires name polywheel instead gets the floor of
    polywheel's own scikit-build-core requirement: that is the oldest scikit-build-core
    this polywheel builds with, so the behaviour it asks for is stable across the
    scikit-build-core releases a build environment may resolve to.
    """
    from importlib import metadata

    from packaging.requirements import Requirement
    from packaging.utils import canonicalize_name
    from scikit_build_core.settings import skbuild_read_settings as reader

    original = getattr(reader, "get_min_requires")  # noqa: B009 - not in its __all__
    if getattr(original, "polywheel_floor", False):
        return

    def get_min_requires(package: str, reqlist: Iterable[str]) -> object:
        reqlist = list(reqlist)
        found = original(package, reqlist)
        if found is not None or canonicalize_name(package) != "scikit-build-core":
            return found
        if not any(canonicalize_name(Requirement(r).name) == "polywheel" for r in reqlist):
            return None
        try:
            own = metadata.requires("polywheel") or []
        except metadata.PackageNotFoundError:  # pragma: no cover - run from a bare tree
            return None
        return original(package, own)

    get_min_requires.polywheel_floor = True  # type: ignore[attr-defined]
    setattr(reader, "get_min_requires", get_min_requires)  # noqa: B010
