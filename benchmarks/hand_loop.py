"""The matrix as a maintainer builds it by hand today, and the check that it is right.

One scikit-build-core build per x86-64 level, each in its own build folder (a shared
folder keeps the first variant's CMake cache, so every later wheel would hold v1 code),
with the level's `-march` in `CFLAGS` and `CXXFLAGS`; `uv build` runs them, so many at
once with so many compile jobs each (`CMAKE_BUILD_PARALLEL_LEVEL`). Each raw wheel is
labelled with `variantlib make-variant` as soon as it is built, the v1 raw wheel is kept
as the plain wheel, and `variantlib generate-index-json` writes the index file.
`check_wheels` then audits every wheel with `polywheel audit` and stops the benchmark
if one does not need exactly its level: a fast but wrong baseline proves nothing.
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from common import LEVELS, MARCH, PYTHON, run, tool

# Shapes of the loop on a budget of `jobs` cores: (builds at once, compile jobs each).


def shapes(jobs: int, variants: int) -> list[tuple[int, int]]:
    """Every split of the budget: 2 cores give 2x1 (two builds side by side, one compile
    each) and 1x2 (one build at a time, two compiles each); with more variants than
    cores, also every build at once with one compile each (3x1 for three levels: as
    many builds as polywheel runs at once, though their compiles then outnumber the
    cores)."""
    found = []
    for concurrent in range(1, min(jobs, variants) + 1):
        if jobs % concurrent == 0:
            found.append((concurrent, jobs // concurrent))
    if variants > jobs:
        found.append((variants, 1))
    return found


def within(jobs: int, shape: tuple[int, int]) -> bool:
    """Whether a shape runs no more compiles at once than `jobs`: the best hand loop of
    the targets is the fastest of these ("as many at once as jobs")."""
    return shape[0] * shape[1] <= jobs


def scikit_build_project(project: Path) -> None:
    """Turn a polywheel project back into the scikit-build-core project a maintainer
    has today: scikit-build-core as the backend, the `[variant]` table variantlib reads
    instead of `[tool.variants]`."""
    pyproject = project / "pyproject.toml"
    text = pyproject.read_text().replace('"polywheel.build"', '"scikit_build_core.build"')
    text = text.split("[[tool.variants.variant]]")[0].split("[tool.variants]")[0]
    text += (
        '\n[variant.default-priorities]\nnamespace = ["x86_64"]\n\n'
        '[variant.providers.x86_64]\nrequires = ["x86-64-variant-provider"]\n'
    )
    pyproject.write_text(text)


def add_variant_table(project: Path) -> None:
    """Only the `[variant]` table, for a project that has none (the real project)."""
    pyproject = project / "pyproject.toml"
    pyproject.write_text(
        pyproject.read_text() + '\n[variant.default-priorities]\nnamespace = ["x86_64"]\n\n'
        '[variant.providers.x86_64]\nrequires = ["x86-64-variant-provider"]\n'
    )


def build_matrix(
    project: Path,
    out: Path,
    *,
    concurrent: int,
    parallel: int,
    levels: Sequence[str] = LEVELS,
    flags_define: str | None = None,
    ccache_dir: Path | None = None,
) -> None:
    """Build, label and index the matrix into `out` (which must not exist yet).

    `flags_define` names a CMake variable that gets the level's flags instead of
    `CFLAGS`/`CXXFLAGS` (targets by hand: the project passes it to its hot target);
    `ccache_dir` compiles through ccache with that cache (a compiler cache by hand)."""
    uv, variantlib = tool("uv"), tool("variantlib")
    out.mkdir(parents=True)
    extra: list[str] = []
    env: dict[str, str] = {}
    if ccache_dir is not None:
        ccache = tool("ccache")
        for language in ("C", "CXX"):
            extra += ["-C", f"cmake.define.CMAKE_{language}_COMPILER_LAUNCHER={ccache}"]
        env["CCACHE_DIR"] = str(ccache_dir)

    def one(label: str) -> None:
        raw = project / "build" / f"hand-raw-{label}"
        for stale in raw, project / "build" / f"hand-{label}":
            shutil.rmtree(stale, ignore_errors=True)  # every build from scratch
        flags = MARCH[label]
        if flags_define:
            how, flags_env = ["-C", f"cmake.define.{flags_define}={flags}"], {}
        else:
            how, flags_env = [], {"CFLAGS": flags, "CXXFLAGS": flags}
        run(
            [uv, "build", "--wheel", "--no-build-isolation", "--python", PYTHON, "-q",
             "-C", f"build-dir=build/hand-{label}", *extra, *how, "-o", str(raw), "."],
            project,
            env={**env, **flags_env, "CMAKE_BUILD_PARALLEL_LEVEL": str(parallel)},
        )  # fmt: skip
        (wheel,) = raw.glob("*.whl")
        if label == levels[0]:
            shutil.copy2(wheel, out / wheel.name)  # the plain wheel
        level = label.rsplit("_", 1)[1]
        run(
            [variantlib, "make-variant", "-f", str(wheel), "-o", str(out), "--no-isolation",
             "--skip-plugin-validation", "-p", f"x86_64 :: level :: {level}",
             "--variant-label", label],
            project,
        )  # fmt: skip

    with ThreadPoolExecutor(concurrent) as pool:
        for done in [pool.submit(one, label) for label in levels]:
            done.result()
    run([variantlib, "generate-index-json", "-d", str(out)], project)


def check_wheels(out: Path, levels: Sequence[str] = LEVELS) -> str:
    """Audit a built matrix; stop the benchmark unless every variant wheel needs exactly
    the level of its label with verdict ok, the plain wheel runs on v1, and the index
    file lists every label (no `levels`: a plain wheel alone, no index). Returns the
    audit's summary for the report."""
    audit = json.loads(run([PYTHON, "-m", "polywheel", "audit", "--json", str(out)], out))
    seen: dict[str | None, str] = {}
    wrong = []
    for entry in audit:
        label, needed, verdict = entry["label"], entry["needed_level"], entry["verdict"]
        seen[label] = f"{label or 'plain'}: needs {needed}, {verdict}"
        want = "v1" if label is None else label.rsplit("_", 1)[1]
        if verdict != "ok" or (needed or "v1") != want:
            wrong.append(seen[label])
    missing = {None, *levels} - set(seen)
    indexes = list(out.glob("*-variants.json"))
    if levels and not indexes:
        wrong.append("no *-variants.json index file")
    elif levels:
        listed = set(json.loads(indexes[0].read_text()).get("variants", {}))
        missing |= set(levels) - listed
    if wrong or missing:
        raise SystemExit(
            f"the matrix in {out} is wrong, so its time proves nothing: "
            + "; ".join(
                wrong + [f"missing {m or 'plain wheel'}" for m in sorted(map(str, missing))]
            )
        )
    return ", ".join(seen[k] for k in [None, *levels])
