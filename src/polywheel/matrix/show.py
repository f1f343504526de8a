"""What `polywheel matrix` prints: one row per variant, as JSON or as text."""

from __future__ import annotations

from typing import Any

from polywheel.matrix.spec import Matrix

__all__ = ["matrix_document", "matrix_rows", "matrix_text"]


def matrix_rows(matrix: Matrix) -> list[dict[str, Any]]:
    """One JSON object per variant: everything its build gets."""
    rows: list[dict[str, Any]] = []
    for spec in matrix.variants:
        defines = dict(spec.cmake_define)
        if spec.cuda:
            defines["CMAKE_CUDA_ARCHITECTURES"] = ";".join(spec.cuda_architectures)
        rows.append(
            {
                "label": spec.label,
                "properties": [str(p) for p in spec.properties],
                "adds_cuda_version_lower_bound": spec.adds_cuda_lower_bound,
                "compile_options": {
                    "gnu": list(spec.flags.gnu),
                    "msvc": list(spec.flags.msvc),
                    "extra": list(spec.flags.extra),
                },
                "cmake_define": defines,
                "cmake_args": list(spec.cmake_args),
                "env": dict(spec.env),
                "dependencies": list(spec.dependencies),
                "build_requires": list(spec.build_requires),
                "abi_dependencies": dict(spec.abi_dependencies),
                "cuda_toolkit": spec.cuda_toolkit,
                "plain_wheel": matrix.plain is not None and matrix.plain.label == spec.label,
            }
        )
    return rows


def matrix_document(fmt: str, matrix: Matrix, rows: list[dict[str, Any]]) -> dict[str, Any]:
    """`polywheel matrix --json`."""
    return {
        "format": fmt,
        "default-priorities": {"namespace": list(matrix.metadata.namespaces)},
        "providers": {k: dict(v) for k, v in matrix.metadata.providers.items()},
        "variants": rows,
    }


def matrix_text(matrix: Matrix, rows: list[dict[str, Any]]) -> list[str]:
    """The lines of `polywheel matrix`."""
    if not rows:
        return ["no variants declared: `polywheel build` writes only the plain wheel"]
    namespaces = ", ".join(matrix.metadata.namespaces)
    lines = [f"{len(rows)} variant(s); namespace priority: {namespaces}"]
    for row in rows:
        marker = "  (plain wheel)" if row["plain_wheel"] else ""
        lines += ["", f"{row['label']}{marker}"]
        props = list(row["properties"])
        if row["adds_cuda_version_lower_bound"]:
            props.append("nvidia :: cuda_version_lower_bound :: <from the CUDA toolkit used>")
        lines.append("  properties:     " + ("; ".join(props) or "(none: the null variant)"))
        flags = row["compile_options"]
        lines.append("  compiler flags: " + (" ".join(flags["gnu"] + flags["extra"]) or "(none)"))
        if flags["msvc"] or flags["extra"]:
            lines.append("  MSVC flags:     " + " ".join(flags["msvc"] + flags["extra"]))
        if row["cmake_define"]:
            defines = " ".join(f"-D{k}={v}" for k, v in row["cmake_define"].items())
            lines.append("  CMake defines:  " + defines)
        if row["dependencies"]:
            lines.append("  dependencies:   " + ", ".join(row["dependencies"]))
        if row["build_requires"]:
            lines.append("  build requires: " + ", ".join(row["build_requires"]))
        if row["abi_dependencies"]:
            abi = ", ".join(f"{k} ({v})" for k, v in row["abi_dependencies"].items())
            lines.append("  ABI tied to:    " + abi + " (releases from the build environment)")
        if row["cuda_toolkit"]:
            lines.append("  CUDA toolkit:   " + row["cuda_toolkit"])
    return lines
