"""`polywheel audit`: deliberately wrong variants are caught, honest ones pass."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest
from conftest import needs, pep517_build, polywheel

from polywheel.audit.binary import AuditAllow
from polywheel.audit.wheel import audit_wheel
from polywheel.namespaces.x86_64 import level_of_features

pytestmark = pytest.mark.compile


def add(project: Path, text: str, after: str | None = None) -> None:
    path = project / "pyproject.toml"
    content = path.read_text()
    path.write_text(content.replace(after, after + text) if after else content + text)


@pytest.mark.parametrize(
    ("features", "level", "other"),
    [
        (["SSE2"], 1, set()),
        (["SSE4_1"], 2, set()),
        (["AVX", "FMA"], 3, set()),
        (["AVX512F", "AVX512VL"], 4, set()),
        (["AES"], 1, {"AES"}),
        (["AVX512_VNNI", "AVX512VL"], 4, {"AVX512_VNNI"}),
        (["XSAVE", "CET_IBT"], 1, set()),
    ],
)
def test_level_of_features(features: list[str], level: int, other: set[str]) -> None:
    assert level_of_features(features) == (level, frozenset(other))


def test_honest_example_variants_pass(copy_project: Callable[[str], Path]) -> None:
    project = copy_project("examples/simd")
    proc = polywheel("build", "-o", "dist", cwd=project)
    for line in ("ok (v1)", "ok (v3)", "ok (v4)"):
        assert line in proc.stdout
    report = json.loads(polywheel("audit", "dist", "--json", cwd=project).stdout)
    levels = {r["label"]: (r["needed_level"], r["verdict"]) for r in report}
    assert levels == {
        "x86_64_v1": ("v1", "ok"),
        "x86_64_v3": ("v3", "ok"),
        "x86_64_v4": ("v4", "ok"),
        None: ("v1", "ok"),  # the plain wheel must run on any x86-64 CPU
    }
    v4 = next(r for r in report if r["label"] == "x86_64_v4")
    features = v4["binaries"][0]["features"]
    assert features["AVX512F"] > 0 and features["FMA"] > 0
    assert v4["binaries"][0]["functions"]["v4"], "the functions using AVX-512 are named"


def test_v1_compiled_with_avx2_is_refused(copy_project: Callable[[str], Path]) -> None:
    project = copy_project("simple_c")
    add(project, 'compile-options = ["-mavx2"]\n', after='label = "x86_64_v1"\n')
    proc = polywheel("build", "-o", "dist", "--variant", "x86_64_v1", cwd=project, check=False)
    assert proc.returncode == 1
    # The compile commands name the source, the target and the flag before any machine
    # code is read.
    assert (
        "src/_core.c (target _core) is compiled for x86-64-v3 (-mavx2) in a variant that "
        "claims x86-64-v1" in proc.stderr
    )
    assert not list((project / "dist").glob("*-x86_64_v1.whl")), "no lying wheel is left"


def test_pep517_plain_wheel_is_audited(copy_project: Callable[[str], Path]) -> None:
    """`pip wheel .` gets the plain wheel: it installs on every CPU, so AVX2 code in it
    is a lie, as it would be in a v1 wheel. (The dispatch package's AVX2 function is
    chosen by a target attribute, which no compile flag shows: only the machine code.)"""
    project = copy_project("dispatch")
    proc = pep517_build(project, "--wheel", check=False)
    output = proc.stdout + proc.stderr
    assert proc.returncode != 0
    assert "the plain wheel dispatch-0.1.0-" in output and "needs x86-64-v3" in output
    assert "hint: the project's own code adds wider instructions" in output
    assert not list((project / "dist").glob("*.whl")), "no lying plain wheel is left"


def test_pep517_plain_wheel_verdict_is_printed(copy_project: Callable[[str], Path]) -> None:
    project = copy_project("simple_c")
    proc = pep517_build(project, "--wheel")
    (wheel,) = (project / "dist").glob("*.whl")
    assert f"polywheel: audit {wheel.name}: ok (v1)" in proc.stdout


def test_plain_wheel_from_a_v3_build_is_refused(copy_project: Callable[[str], Path]) -> None:
    project = copy_project("simple_c")
    add(project, '\n[tool.variants]\nplain-wheel = "x86_64_v3"\n')
    proc = polywheel("build", "-o", "dist", "--variant", "x86_64_v3", cwd=project, check=False)
    assert proc.returncode == 1
    assert "variant 'x86_64_v3': the plain wheel" in proc.stderr
    assert "hint: the plain wheel is built as variant 'x86_64_v3'" in proc.stderr
    assert not list((project / "dist").glob("*.whl"))
    # Without the plain wheel the v3 build is fine.
    polywheel("build", "-o", "dist", "--variant", "x86_64_v3", "--no-plain", cwd=project)
    assert [p.name[-13:] for p in (project / "dist").glob("*.whl")] == ["x86_64_v3.whl"]


def test_warning_mode_keeps_the_wheel(copy_project: Callable[[str], Path]) -> None:
    project = copy_project("simple_c")
    add(project, 'compile-options = ["-mavx2"]\n', after='label = "x86_64_v1"\n')
    add(project, '\n[tool.variants.audit]\nmode = "warning"\n')
    proc = polywheel("build", "-o", "dist", "--variant", "x86_64_v1", cwd=project)
    assert "error (v3)" in proc.stdout
    assert "warning: variant 'x86_64_v1': src/_core.c (target _core) is compiled" in proc.stderr
    (wheel,) = (project / "dist").glob("*-x86_64_v1.whl")
    assert audit_wheel(wheel).verdict == "error"
    assert polywheel("audit", str(wheel), cwd=project, check=False).returncode == 1


def test_clobbered_v3_flags_are_flagged(copy_project: Callable[[str], Path]) -> None:
    project = copy_project("simple_c")
    add(project, 'cmake-define = { SIMPLE_CLOBBER_MARCH = "ON" }\n', after='label = "x86_64_v3"\n')
    proc = polywheel("build", "-o", "dist", "--variant", "x86_64_v3", cwd=project)
    assert "warning (v1)" in proc.stdout
    # The compile commands say which source lost the variant's flags, and to which flag.
    assert (
        "src/_core.c (target _core) is compiled for x86-64-v1 only (-march=x86-64) in a "
        "variant that claims x86-64-v3" in proc.stderr
    )
    (wheel,) = (project / "dist").glob("*-x86_64_v3.whl")
    findings = audit_wheel(wheel).findings
    assert any(
        "did the variant's flags reach the compiler" in m for s, m in findings if s == "warning"
    )


def test_runtime_dispatch_can_be_allowed(copy_project: Callable[[str], Path]) -> None:
    project = copy_project("dispatch")
    proc = polywheel("build", "-o", "dist", cwd=project, check=False)
    assert proc.returncode == 1 and "Used in: dispatch_sum_avx2" in proc.stderr
    add(project, '\n[tool.variants.audit]\nallow-functions = ["dispatch_*_avx2"]\n')
    polywheel("build", "-o", "dist", cwd=project)
    (wheel,) = (project / "dist").glob("*-x86_64_v1.whl")
    result = audit_wheel(wheel, AuditAllow(functions=("dispatch_*_avx2",)))
    assert result.verdict == "ok" and result.needed_level == 1
    assert set(result.binaries[0].allowed) == {"dispatch_sum_avx2"}
    assert result.binaries[0].allowed_level == 3
    assert audit_wheel(wheel).verdict == "error", "without the allowance it is a lie"


@needs("nvcc")
def test_gpu_variant_missing_an_architecture(copy_project: Callable[[str], Path]) -> None:
    project = copy_project("cuda_small")
    pyproject = project / "pyproject.toml"
    pyproject.write_text(
        pyproject.read_text().replace(
            'label = "sm80"\ncuda-architectures = ["80-real"]',
            'label = "sm80_90"\ncuda-architectures = ["80-real", "90-real"]',
        )
    )
    # The project narrows one target's architectures: the wheel would claim sm_90 code
    # it does not have.
    cmake = project / "CMakeLists.txt"
    cmake.write_text(
        cmake.read_text().replace(
            "install(TARGETS",
            "if(CMAKE_CUDA_COMPILER)\n"
            "  set_target_properties(_core PROPERTIES CUDA_ARCHITECTURES 80-real)\n"
            "endif()\ninstall(TARGETS",
        )
    )
    proc = polywheel("build", "-o", "dist", "--variant", "sm80_90", cwd=project, check=False)
    assert proc.returncode == 1, proc.stdout
    assert "claims nvidia :: sm_arch ['90_real'], absent from its fat binaries" in proc.stderr


@pytest.mark.parametrize(
    "allowance",
    ['allow-sources = ["src/sum_*.c"]', 'allow-targets = ["_core"]'],
    ids=["by-source", "by-target"],
)
def test_dispatch_code_in_a_stripped_binary_is_allowed_by_source_or_target(
    copy_project: Callable[[str], Path], allowance: str
) -> None:
    project = copy_project("dispatch_files")
    proc = polywheel("build", "-o", "dist", cwd=project, check=False)
    assert proc.returncode == 1
    assert "src/sum_avx2.c (target _core) is compiled for x86-64-v3 (-mavx2)" in proc.stderr
    add(project, f"\n[tool.variants.audit]\n{allowance}\n")
    proc = polywheel("build", "-o", "dist", cwd=project)
    assert "ok (v1)" in proc.stdout
    (wheel,) = (project / "dist").glob("*-x86_64_v1.whl")
    plain = audit_wheel(wheel)
    # Stripped: the AVX2 code has no function name, which allow-functions would need.
    assert plain.verdict == "error" and "Used in: fn@0x" in plain.findings[0][1]
