"""When a variant's CMake cache must be started afresh.

CMake reads some environment variables only when it first configures a build folder
(`CFLAGS` becomes the cached `CMAKE_C_FLAGS`, `CC` the cached compiler). A later change
of them is silently ignored, and a flag such as `CFLAGS=-mavx2` would survive into
every later build of the variant. So polywheel records what those variables were at
the last configure of each variant's build folder, and asks CMake for a fresh cache
(`cmake --fresh`) when they differ, when nothing was recorded, or on `--rebuild`.
"""

from __future__ import annotations

import hashlib
import json
import os
import sys
from collections.abc import Mapping
from pathlib import Path

__all__ = ["CONFIGURE_ONCE_ENV", "ConfigureState"]

# Read by CMake at the first configure of a build folder only.
CONFIGURE_ONCE_ENV = (
    "CC", "CXX", "CUDACXX", "CUDAHOSTCXX", "HIPCXX", "FC", "ASM", "OBJC", "OBJCXX",
    "CFLAGS", "CXXFLAGS", "CPPFLAGS", "CUDAFLAGS", "HIPFLAGS", "FFLAGS", "ASMFLAGS",
    "OBJCFLAGS", "OBJCXXFLAGS", "LDFLAGS", "CUDAARCHS", "HIPARCHS",
    "CMAKE_TOOLCHAIN_FILE", "CMAKE_GENERATOR", "CMAKE_GENERATOR_PLATFORM",
    "CMAKE_GENERATOR_TOOLSET", "CMAKE_BUILD_TYPE", "CMAKE_CONFIGURATION_TYPES",
)  # fmt: skip


class ConfigureState:
    """What the configure-once variables were at the last configure of one build folder."""

    def __init__(self, project_root: Path, build_dir: str) -> None:
        # The build folder template may hold {wheel_tag}: the interpreter is part of it.
        key = json.dumps([build_dir, sys.prefix, sys.implementation.cache_tag])
        digest = hashlib.sha256(key.encode()).hexdigest()[:24]
        self.path = project_root / "build" / "polywheel-state" / f"configure-{digest}.json"

    @staticmethod
    def snapshot(environ: Mapping[str, str] = os.environ) -> dict[str, str | None]:
        return {name: environ.get(name) for name in CONFIGURE_ONCE_ENV}

    def needs_fresh(self, snapshot: Mapping[str, str | None]) -> bool:
        try:
            return bool(json.loads(self.path.read_text()) != dict(snapshot))
        except (OSError, ValueError):
            return True  # never recorded: the folder may hold a cache of unknown origin

    def record(self, snapshot: Mapping[str, str | None]) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.path.with_suffix(f".{os.getpid()}.tmp")
        tmp.write_text(json.dumps(dict(snapshot), sort_keys=True))
        tmp.replace(self.path)

    def forget(self) -> None:
        self.path.unlink(missing_ok=True)
