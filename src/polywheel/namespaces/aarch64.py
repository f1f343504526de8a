"""`aarch64 :: version :: 8.2a`: the Arm A-profile architecture versions."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any, ClassVar

from polywheel.errors import ConfigError
from polywheel.namespaces.base import CompilerFlags, CpuNamespace, FeatureDoc

__all__ = ["AARCH64", "VERSIONS", "march_flag"]

VERSIONS = (
    "8a", "8.1a", "8.2a", "8.3a", "8.4a", "8.5a", "8.6a", "8.7a", "8.8a", "8.9a",
    "9.0a", "9.1a", "9.2a", "9.3a", "9.4a", "9.5a",
)  # fmt: skip
_VERSION_RE = re.compile(r"^([0-9]+(?:\.[0-9]+)?)a$")


def march_flag(version: str) -> str:
    """'8.2a' → '-march=armv8.2-a', '8a' and '8.0a' → '-march=armv8-a', '9.0a' → armv9-a."""
    match = _VERSION_RE.fullmatch(version)
    if not match:
        raise ValueError(version)
    number = match.group(1)
    if number.endswith(".0"):
        number = number[:-2]
    return f"-march=armv{number}-a"


class AARCH64(CpuNamespace):
    name = "aarch64"
    provider: ClassVar[Mapping[str, Any]] = {"requires": ["aarch64-variant-provider"]}
    flag_feature = "version"
    values = VERSIONS
    flag_doc_values = ("8a", "8.2a", "9.0a")
    feature_docs = (
        FeatureDoc("`version`", "`8a`, `8.1a` … `8.9a`, `9.0a` … `9.5a` (one per variant)"),
        FeatureDoc("any other feature", "`on`"),
    )

    def flags_for(self, value: str, *, key: str) -> CompilerFlags:
        try:
            return CompilerFlags(gnu=(march_flag(value),))
        except ValueError:
            raise ConfigError(
                f"aarch64 version {value!r} is not like '8.2a' or '9.0a'", key=key
            ) from None
