"""The sdist scikit-build-core wrote, with PKG-INFO made honest about variant dependencies."""

from __future__ import annotations

import gzip
import io
import re
import tarfile
from pathlib import Path

from polywheel.project import Project
from polywheel.wheel.writer import atomic_output, reproducible_epoch

__all__ = ["finish_sdist"]


def _mark_dynamic(pkg_info: bytes) -> bytes:
    head, sep, body = pkg_info.decode().partition("\n\n")
    if "Dynamic: Requires-Dist" in head.splitlines():
        return pkg_info
    match = re.search(r"^Metadata-Version: (\d+)\.(\d+)$", head, re.MULTILINE)
    if match and (int(match.group(1)), int(match.group(2))) < (2, 2):
        head = head.replace(match.group(0), "Metadata-Version: 2.2")
    return (head.rstrip("\n") + "\nDynamic: Requires-Dist\n" + sep + body).encode()


def finish_sdist(project: Project, sdist: Path) -> None:
    """Variant wheels add dependencies the sdist cannot know, so Core Metadata 2.2
    requires `Dynamic: Requires-Dist` in its PKG-INFO."""
    if not any(spec.dependencies for spec in project.matrix.variants):
        return
    with tarfile.open(sdist, "r:gz") as src:
        members = [(m, src.extractfile(m).read() if m.isfile() else None) for m in src.getmembers()]  # type: ignore[union-attr]
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w", format=tarfile.PAX_FORMAT) as dst:
        for member, data in members:
            content = data
            if (
                content is not None
                and member.name.count("/") == 1
                and member.name.endswith("/PKG-INFO")
            ):
                content = _mark_dynamic(content)
                member.size = len(content)
            dst.addfile(member, io.BytesIO(content) if content is not None else None)
    epoch = reproducible_epoch()
    with (
        atomic_output(sdist) as tmp,
        tmp.open("wb") as raw,
        gzip.GzipFile(filename="", fileobj=raw, mode="wb", mtime=epoch) as gz,
    ):
        gz.write(buffer.getvalue())
