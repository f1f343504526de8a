"""The well-known namespaces: one module each, and this registry the other stages ask.

To add a namespace, write a `Namespace` subclass in its own module and list it in
`KNOWN` below; docs/architecture.md says what each method is for.
"""

from __future__ import annotations

from collections.abc import Mapping

from polywheel.namespaces.aarch64 import AARCH64
from polywheel.namespaces.abi_dependency import AbiDependency
from polywheel.namespaces.base import AuditFinding, CompilerFlags, Namespace
from polywheel.namespaces.nvidia import NVIDIA
from polywheel.namespaces.x86_64 import X86_64

__all__ = ["KNOWN", "AuditFinding", "CompilerFlags", "Namespace", "known"]

# In default-priority order within a kind: the ABI of a dependency ranks last.
KNOWN: Mapping[str, Namespace] = {
    ns.name: ns for ns in (NVIDIA(), X86_64(), AARCH64(), AbiDependency())
}


def known(name: str) -> Namespace | None:
    """The namespace polywheel knows by this name, or None for a maintainer's own."""
    return KNOWN.get(name)
