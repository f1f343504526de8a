"""polywheel.namespaces: what each well-known namespace knows, and the audit's judging."""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Mapping, Sequence
from typing import Any, ClassVar

import pytest

from polywheel.audit.binary import BinaryAudit
from polywheel.audit.wheel import judge
from polywheel.cmake.report import BuildReport
from polywheel.errors import BuildError, ConfigError
from polywheel.namespaces import KNOWN, AuditFinding, CompilerFlags, Namespace, known
from polywheel.namespaces.aarch64 import AARCH64, VERSIONS, march_flag
from polywheel.namespaces.nvidia import (
    NVIDIA,
    cmake_architectures,
    cuda_lower_bound,
    properties_from_cmake_architectures,
)
from polywheel.namespaces.x86_64 import LEVELS, X86_64, level_of_features
from polywheel.properties import VariantProperty

KEY = "tool.variants.variant[0].properties"


def props(*texts: str) -> list[VariantProperty]:
    """'ns::feature::value' shorthands → properties."""
    return [VariantProperty(*(part.strip() for part in t.split("::"))) for t in texts]


def sm(*values: str) -> list[VariantProperty]:
    return [VariantProperty("nvidia", "sm_arch", v) for v in values]


# --- the registry ------------------------------------------------------------------------


def test_known_registry() -> None:
    assert set(KNOWN) == {"nvidia", "x86_64", "aarch64", "abi_dependency"}
    assert isinstance(known("x86_64"), X86_64)
    assert isinstance(known("nvidia"), NVIDIA)
    assert isinstance(known("aarch64"), AARCH64)
    assert known("my_own") is None
    for name, namespace in KNOWN.items():
        assert namespace.name == name
        # A provider installers vendor by package name, or one they implement themselves.
        assert namespace.provider.get("requires") or namespace.provider.get("builtin")


def test_kinds() -> None:
    assert KNOWN["nvidia"].kind == "accelerator"
    assert KNOWN["x86_64"].kind == "cpu"
    assert KNOWN["aarch64"].kind == "cpu"
    assert KNOWN["abi_dependency"].kind == "dependency"


def test_compiler_flags_add_and_truth() -> None:
    assert not CompilerFlags()
    assert CompilerFlags(extra=("-O3",))
    total = CompilerFlags(gnu=("-a",), msvc=("/a",)) + CompilerFlags(gnu=("-b",), extra=("-c",))
    assert total == CompilerFlags(gnu=("-a", "-b"), msvc=("/a",), extra=("-c",))


def test_base_namespace_defaults() -> None:
    class Mine(Namespace):
        name = "mine"
        provider: ClassVar[Mapping[str, Any]] = {"requires": ["mine-provider"]}
        kind = "cpu"

    ns = Mine()
    prop = VariantProperty("mine", "anything", "whatever")
    ns.check_value(prop, key=KEY)  # no closed set: anything goes
    assert ns.compiler_flags([prop], key=KEY) == CompilerFlags()
    assert ns.narrowness([prop]) == 0
    report = BuildReport.parse("languages=C\n")
    assert ns.verified_properties([prop], report, label="x") == (prop,)
    assert ns.audit(None, []) == []


# --- compiler flags ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("namespace", "properties", "flags"),
    [
        (X86_64(), props("x86_64::level::v1"), CompilerFlags(gnu=("-march=x86-64",))),
        (
            X86_64(),
            props("x86_64::level::v2"),
            CompilerFlags(gnu=("-march=x86-64-v2",), msvc=("/arch:SSE4.2",)),
        ),
        (
            X86_64(),
            props("x86_64::level::v3"),
            CompilerFlags(gnu=("-march=x86-64-v3",), msvc=("/arch:AVX2",)),
        ),
        (
            X86_64(),
            props("x86_64::level::v4", "x86_64::avx512_bf16::on"),
            CompilerFlags(gnu=("-march=x86-64-v4",), msvc=("/arch:AVX512",)),
        ),
        (X86_64(), props("x86_64::avx512_bf16::on"), CompilerFlags()),
        (X86_64(), [], CompilerFlags()),
        (AARCH64(), props("aarch64::version::8a"), CompilerFlags(gnu=("-march=armv8-a",))),
        (AARCH64(), props("aarch64::version::8.2a"), CompilerFlags(gnu=("-march=armv8.2-a",))),
        (AARCH64(), props("aarch64::version::9.0a"), CompilerFlags(gnu=("-march=armv9-a",))),
        (AARCH64(), props("aarch64::version::9.5a"), CompilerFlags(gnu=("-march=armv9.5-a",))),
        (AARCH64(), props("aarch64::sve2::on"), CompilerFlags()),
        (NVIDIA(), sm("90_real"), CompilerFlags()),
    ],
)
def test_compiler_flags(
    namespace: Namespace, properties: list[VariantProperty], flags: CompilerFlags
) -> None:
    assert namespace.compiler_flags(properties, key=KEY) == flags


@pytest.mark.parametrize(
    ("namespace", "properties", "message"),
    [
        (X86_64(), props("x86_64::level::v2", "x86_64::level::v3"), "has several values"),
        (X86_64(), props("x86_64::level::v5"), "not 'v5'"),
        (
            AARCH64(),
            props("aarch64::version::8.2a", "aarch64::version::9.0a"),
            "'aarch64 :: version' has several values ['8.2a', '9.0a']",
        ),
        (AARCH64(), props("aarch64::version::armv8"), "is not like '8.2a'"),
    ],
)
def test_compiler_flags_errors(
    namespace: Namespace, properties: list[VariantProperty], message: str
) -> None:
    with pytest.raises(ConfigError) as exc:
        namespace.compiler_flags(properties, key=KEY)
    assert exc.value.key == KEY
    assert message in exc.value.message


@pytest.mark.parametrize(
    ("version", "flag"),
    [
        ("8a", "-march=armv8-a"),
        ("8.0a", "-march=armv8-a"),
        ("8.9a", "-march=armv8.9-a"),
        ("9.0a", "-march=armv9-a"),
        ("9.10a", "-march=armv9.10-a"),
        ("10.0a", "-march=armv10-a"),
    ],
)
def test_march_flag(version: str, flag: str) -> None:
    assert march_flag(version) == flag


@pytest.mark.parametrize("version", ["8", "v8a", "8.2", "8.2.1a", "a"])
def test_march_flag_rejects(version: str) -> None:
    with pytest.raises(ValueError, match=f"^{re.escape(version)}$"):
        march_flag(version)


def test_every_aarch64_version_has_a_flag() -> None:
    for version in VERSIONS:
        assert march_flag(version).startswith("-march=armv")


# --- check_value -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("namespace", "prop"),
    [
        (X86_64(), "x86_64::level::v1"),
        (X86_64(), "x86_64::level::v4"),
        (X86_64(), "x86_64::avx512_bf16::on"),
        (AARCH64(), "aarch64::version::8a"),
        (AARCH64(), "aarch64::version::9.5a"),
        (AARCH64(), "aarch64::sve2::on"),
        (NVIDIA(), "nvidia::sm_arch::90_real"),
        (NVIDIA(), "nvidia::sm_arch::100_virtual"),
        (NVIDIA(), "nvidia::sm_arch::120_real"),
        (NVIDIA(), "nvidia::cuda_version_lower_bound::12.8"),
        (NVIDIA(), "nvidia::cuda_version_lower_bound::13"),
        (NVIDIA(), "nvidia::cuda_version_upper_bound::12.10"),
    ],
)
def test_check_value_accepts(namespace: Namespace, prop: str) -> None:
    namespace.check_value(props(prop)[0], key=KEY)


@pytest.mark.parametrize(
    ("namespace", "prop", "message", "hint"),
    [
        (X86_64(), "x86_64::level::v5", "'v5' is not one of ['v1', 'v2', 'v3', 'v4']", None),
        (X86_64(), "x86_64::level::v33", "is not one of", "did you mean `v3`?"),
        (X86_64(), "x86_64::avx512_bf16::yes", "'yes' is not one of ['on']", None),
        (AARCH64(), "aarch64::version::8.2", "'8.2' is not one of", "`8.2a`"),
        (AARCH64(), "aarch64::version::9.6a", "is not one of", None),
        (AARCH64(), "aarch64::sve::true", "'true' is not one of ['on']", None),
        (NVIDIA(), "nvidia::sm_arc::90_real", "knows the features", "did you mean `sm_arch`?"),
        (NVIDIA(), "nvidia::compute::90", "knows the features sm_arch", None),
        (NVIDIA(), "nvidia::sm_arch::90", "'90' is not a valid sm_arch value", None),
        (NVIDIA(), "nvidia::sm_arch::9_real", "is not a valid sm_arch value", None),
        (NVIDIA(), "nvidia::sm_arch::090_real", "is not a valid sm_arch value", None),
        (NVIDIA(), "nvidia::sm_arch::90a_real", "is not a valid sm_arch value", None),
        (NVIDIA(), "nvidia::sm_arch::90_ptx", "e.g. '90_real' or '90_virtual'", None),
        (
            NVIDIA(),
            "nvidia::cuda_version_lower_bound::12.8.1",
            "is not a valid cuda_version_lower_bound value, e.g. '12.8'",
            None,
        ),
        (NVIDIA(), "nvidia::cuda_version_upper_bound::012", "is not a valid", None),
        (NVIDIA(), "nvidia::cuda_version_lower_bound::v12", "is not a valid", None),
    ],
)
def test_check_value_rejects(
    namespace: Namespace, prop: str, message: str, hint: str | None
) -> None:
    key = "variant.variants.some_label"
    with pytest.raises(ConfigError) as exc:
        namespace.check_value(props(prop)[0], key=key)
    assert exc.value.key == key
    assert message in exc.value.message
    if hint is None:
        assert exc.value.hint is None or "did you mean" in exc.value.hint
    else:
        assert exc.value.hint is not None
        assert hint in exc.value.hint


# --- narrowness --------------------------------------------------------------------------


def test_x86_64_narrowness_ranks_levels() -> None:
    ranks = [X86_64().narrowness(props(f"x86_64::level::{v}")) for v in LEVELS]
    assert ranks == [0, 1, 2, 3]
    assert X86_64().narrowness(props("x86_64::avx512_bf16::on")) == 0
    assert X86_64().narrowness([]) == 0


def test_aarch64_narrowness_ranks_versions() -> None:
    ns = AARCH64()
    assert ns.narrowness(props("aarch64::version::8a")) == 0
    assert ns.narrowness(props("aarch64::version::8.2a")) == 2
    assert ns.narrowness(props("aarch64::version::9.0a")) > ns.narrowness(
        props("aarch64::version::8.9a")
    )
    assert ns.narrowness(props("aarch64::sve2::on")) == 0


def test_nvidia_narrowness() -> None:
    assert NVIDIA().narrowness(sm("90_real")) == 1
    assert NVIDIA().narrowness(sm("80_real", "90_real", "100_real")) == 1
    assert NVIDIA().narrowness([]) == 0


# --- level_of_features -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("features", "level", "other"),
    [
        ([], 1, set()),
        (["SSE2", "CMOV", "X64"], 1, set()),
        (["XSAVE", "CET_IBT"], 1, set()),
        (["SSE4_2", "SSE2"], 2, set()),
        (["POPCNT", "AVX2"], 3, set()),
        (["FMA", "AVX512F"], 4, set()),
        (["AVX512VL"], 4, set()),
        (["SHA", "AES", "SSE3"], 2, {"SHA", "AES"}),
        (["AVX512_BF16", "AVX2"], 3, {"AVX512_BF16"}),
    ],
)
def test_level_of_features(features: list[str], level: int, other: set[str]) -> None:
    assert level_of_features(features) == (level, frozenset(other))


# --- nvidia helpers ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("archs", "values"),
    [
        (["90"], {"90_real", "90_virtual"}),
        (["90-real"], {"90_real"}),
        (["90-virtual"], {"90_virtual"}),
        ([" 80-real ", "90"], {"80_real", "90_real", "90_virtual"}),
        (["100-real", "120-real"], {"100_real", "120_real"}),
        (["90-real", "90-real"], {"90_real"}),
    ],
)
def test_properties_from_cmake_architectures(archs: list[str], values: set[str]) -> None:
    assert properties_from_cmake_architectures(archs, key=KEY) == frozenset(sm(*values))


@pytest.mark.parametrize(
    ("archs", "message"),
    [
        (["native"], "'native' is not an explicit CUDA architecture"),
        (["all"], "'all' is not an explicit CUDA architecture"),
        (["all-major"], "is not an explicit CUDA architecture"),
        (["90b"], "'90b' is not an explicit CUDA architecture"),
        (["90-real", "9"], "'9' is not an explicit"),
        (["90-ptx"], "'90-ptx' is not an explicit"),
        ([], "must name at least one CUDA architecture"),
    ],
)
def test_properties_from_cmake_architectures_rejects(archs: list[str], message: str) -> None:
    key = "tool.variants.variant[0].cuda-architectures"
    with pytest.raises(ConfigError) as exc:
        properties_from_cmake_architectures(archs, key=key)
    assert exc.value.key == key
    assert message in exc.value.message


def test_cmake_architectures_orders_numerically() -> None:
    mixed = [
        *sm("100_real", "90_virtual", "90_real", "120_real", "80_real"),
        VariantProperty("nvidia", "cuda_version_lower_bound", "12.8"),
        VariantProperty("x86_64", "level", "v3"),
    ]
    assert cmake_architectures(mixed) == (
        "80-real",
        "90-real",
        "90-virtual",
        "100-real",
        "120-real",
    )
    assert cmake_architectures([]) == ()


def test_cmake_architectures_round_trip() -> None:
    derived = properties_from_cmake_architectures(["90", "100-real"], key=KEY)
    assert cmake_architectures(derived) == ("90-real", "90-virtual", "100-real")
    assert properties_from_cmake_architectures(cmake_architectures(derived), key=KEY) == derived


@pytest.mark.parametrize(
    ("version", "bound"),
    [
        ("13.0.88", "13.0"),
        ("12.8.61", "12.8"),
        ("12.8", "12.8"),
        (" 12.4.131\n", "12.4"),
        ("12.08.1", "12.8"),
    ],
)
def test_cuda_lower_bound(version: str, bound: str) -> None:
    assert cuda_lower_bound(version) == bound


@pytest.mark.parametrize("version", ["13", "", "abc", "12.x.1", "v12.8", "12-8"])
def test_cuda_lower_bound_rejects(version: str) -> None:
    with pytest.raises(ValueError, match="not a CUDA compiler version"):
        cuda_lower_bound(version)


# --- nvidia.verified_properties ----------------------------------------------------------

REPORT_90_REAL = "languages=C;CUDA\ncuda_architectures=90-real\nCUDA_compiler_version=13.0.88\n"
LOWER_13_0 = VariantProperty("nvidia", "cuda_version_lower_bound", "13.0")


def test_verified_properties_adds_toolkit_lower_bound() -> None:
    report = BuildReport.parse(REPORT_90_REAL)
    result = NVIDIA().verified_properties(sm("90_real"), report, label="cu13")
    assert result == (LOWER_13_0, *sm("90_real"))


def test_verified_properties_keeps_declared_lower_bound() -> None:
    report = BuildReport.parse(REPORT_90_REAL)
    declared = [*sm("90_real"), VariantProperty("nvidia", "cuda_version_lower_bound", "12.8")]
    result = NVIDIA().verified_properties(declared, report, label="cu13")
    assert result == tuple(declared)
    assert LOWER_13_0 not in result


def test_verified_properties_equal_declared_lower_bound() -> None:
    report = BuildReport.parse(REPORT_90_REAL)
    declared = [*sm("90_real"), VariantProperty("nvidia", "cuda_version_lower_bound", "13")]
    assert NVIDIA().verified_properties(declared, report, label="cu13") == tuple(declared)


def test_verified_properties_plain_arch_means_real_and_virtual() -> None:
    report = BuildReport.parse(
        "languages=CXX;CUDA\ncuda_architectures=80-real;90\nCUDA_compiler_version=12.8.61\n"
    )
    result = NVIDIA().verified_properties(
        sm("80_real", "90_real", "90_virtual"), report, label="gpu"
    )
    assert VariantProperty("nvidia", "cuda_version_lower_bound", "12.8") in result
    assert set(sm("80_real", "90_real", "90_virtual")) <= set(result)
    assert len(result) == 4


@pytest.mark.parametrize(
    ("report", "declared", "message"),
    [
        (
            "languages=C;CXX\ncuda_architectures=90-real\nCUDA_compiler_version=13.0.88\n",
            sm("90_real"),
            "never enabled the CUDA language",
        ),
        (
            "cuda_architectures=90-real\nCUDA_compiler_version=13.0.88\n",
            sm("90_real"),
            "never enabled the CUDA language",
        ),
        (
            "languages=C;CUDA\ncuda_architectures=80-real\nCUDA_compiler_version=13.0.88\n",
            sm("90_real"),
            "ended up as 80-real but the variant needs 90-real",
        ),
        (
            "languages=C;CUDA\ncuda_architectures=90\nCUDA_compiler_version=13.0.88\n",
            sm("90_real"),
            "ended up as 90 but",
        ),
        (
            "languages=C;CUDA\ncuda_architectures=\nCUDA_compiler_version=13.0.88\n",
            sm("90_real"),
            "ended up as (empty)",
        ),
        (
            "languages=C;CUDA\ncuda_architectures=90-real\n",
            sm("90_real"),
            "reported no CUDA compiler version",
        ),
        (
            REPORT_90_REAL,
            [*sm("90_real"), VariantProperty("nvidia", "cuda_version_lower_bound", "13.1")],
            "declares cuda_version_lower_bound 13.1 but was built with CUDA 13.0.88",
        ),
        (
            REPORT_90_REAL,
            [*sm("90_real"), VariantProperty("nvidia", "cuda_version_lower_bound", "14")],
            "declares cuda_version_lower_bound 14",
        ),
    ],
)
def test_verified_properties_rejects(
    report: str, declared: list[VariantProperty], message: str
) -> None:
    with pytest.raises(BuildError) as exc:
        NVIDIA().verified_properties(declared, BuildReport.parse(report), label="cu13")
    assert exc.value.label == "cu13"
    assert message in exc.value.message


def test_build_report_parse() -> None:
    report = BuildReport.parse(REPORT_90_REAL + "junk line\nflags=-O2=x\n")
    assert report.cuda_enabled
    assert report.cuda_compiler_version == "13.0.88"
    assert report.list("languages") == ("C", "CUDA")
    assert report.list("missing") == ()
    assert report.values["flags"] == "-O2=x"
    assert BuildReport.parse(report.render()) == report


# --- the audit ---------------------------------------------------------------------------


def x86_binary(level: int, *, other: dict[str, int] | None = None) -> BinaryAudit:
    functions = {level: Counter({"kernel": 12})} if level > 1 else {}
    return BinaryAudit(
        name=f"lib_v{level}.so",
        machine="x86_64",
        level=level,
        functions=functions,
        other=Counter(other or {}),
    )


def gpu_binary(sass: set[int], ptx: dict[int, str] | None = None) -> BinaryAudit:
    return BinaryAudit(name="lib_gpu.so", machine="x86_64", sass=sass, ptx=ptx or {})


def severities(findings: Sequence[AuditFinding]) -> list[str]:
    return [severity for severity, _ in findings]


def test_x86_plain_wheel_with_v3_code_is_an_error() -> None:
    findings = X86_64().audit(None, [x86_binary(3)])
    assert severities(findings) == ["error"]
    message = findings[0][1]
    assert "lib_v3.so needs x86-64-v3" in message
    assert "a plain wheel" in message
    assert "kernel (12)" in message


def test_x86_plain_wheel_with_v1_code_is_fine() -> None:
    assert X86_64().audit(None, [x86_binary(1)]) == []


@pytest.mark.parametrize("level", ["v3", "v4"])
def test_x86_claimed_level_accepts_code_up_to_it(level: str) -> None:
    assert X86_64().audit({"level": [level]}, [x86_binary(3), x86_binary(2)]) == []


def test_x86_claimed_level_below_code_is_an_error() -> None:
    findings = X86_64().audit({"level": ["v2"]}, [x86_binary(4)])
    assert severities(findings) == ["error"]
    assert "needs x86-64-v4 but the wheel claims x86-64-v2" in findings[0][1]


def test_x86_variant_without_level_claim_is_judged_as_v1() -> None:
    findings = X86_64().audit({}, [x86_binary(3)])
    assert severities(findings) == ["error"]
    assert "no level claimed" in findings[0][1]


def test_x86_claimed_v4_with_only_v1_code_warns() -> None:
    findings = X86_64().audit({"level": ["v4"]}, [x86_binary(1), x86_binary(1)])
    assert severities(findings) == ["warning"]
    assert "claims x86-64-v4 but its code uses nothing above v1" in findings[0][1]


def test_x86_claimed_level_ignores_other_machines() -> None:
    arm = BinaryAudit(name="lib_arm.so", machine="aarch64", level=4)
    assert X86_64().audit(None, [arm]) == []
    # No x86 binary at all: nothing to warn about either.
    assert X86_64().audit({"level": ["v3"]}, [arm]) == []


def test_x86_extensions_outside_levels_warn() -> None:
    findings = X86_64().audit({"level": ["v3"]}, [x86_binary(3, other={"SHA": 4, "AES": 2})])
    assert severities(findings) == ["warning"]
    assert "outside the x86-64 levels: SHA (4), AES (2)" in findings[0][1]


def test_nvidia_claims_must_match_fat_binaries_both_ways() -> None:
    findings = NVIDIA().audit({"sm_arch": ["90_real"]}, [gpu_binary({80})])
    assert severities(findings) == ["error", "error"]
    assert "claims nvidia :: sm_arch ['90_real'], absent" in findings[0][1]
    assert "carry ['80_real'], which the wheel does not claim" in findings[1][1]


def test_nvidia_matching_claims_pass() -> None:
    claims = {"sm_arch": ["90_real", "90_virtual", "80_real"]}
    binaries = [gpu_binary({90}, {90: "8.4"}), gpu_binary({80})]
    assert NVIDIA().audit(claims, binaries) == []


def test_nvidia_missing_ptx_is_an_error() -> None:
    findings = NVIDIA().audit({"sm_arch": ["90_real", "90_virtual"]}, [gpu_binary({90})])
    assert severities(findings) == ["error"]
    assert "['90_virtual']" in findings[0][1]


def test_nvidia_plain_wheel_is_never_judged() -> None:
    assert NVIDIA().audit(None, [gpu_binary({80, 90}, {90: "8.4"})]) == []


def test_aarch64_audit_finds_nothing() -> None:
    assert AARCH64().audit(None, [x86_binary(4)]) == []


def test_judge_plain_wheel() -> None:
    audit = judge("foo-1.0-cp311-cp311-linux_x86_64.whl", [x86_binary(3)], None)
    assert audit.label is None
    assert audit.claims is None
    assert audit.verdict == "error"
    assert audit.needed_level == 3
    assert audit.claimed_level is None
    assert audit.to_json()["plain"] is True


def test_judge_variant_wheel() -> None:
    doc = {"variants": {"x86_64_v3": {"x86_64": {"level": ["v3"]}}}}
    audit = judge("foo-1.0-cp311-cp311-linux_x86_64-x86_64_v3.whl", [x86_binary(3)], doc)
    assert audit.label == "x86_64_v3"
    assert audit.claims == {"x86_64": {"level": ["v3"]}}
    assert audit.findings == []
    assert audit.verdict == "ok"
    assert audit.claimed_level == 3
    assert audit.claimed_sm == frozenset()
    summary = audit.to_json()
    assert summary["plain"] is False
    assert summary["claimed_level"] == "v3"
    assert summary["needed_level"] == "v3"


def test_judge_variant_wheel_warning_verdict() -> None:
    doc = {"variants": {"x86_64_v3": {"x86_64": {"level": ["v3"]}}}}
    audit = judge("w.whl", [x86_binary(1)], doc)
    assert audit.verdict == "warning"


def test_judge_gpu_variant() -> None:
    doc = {"variants": {"cu90": {"nvidia": {"sm_arch": ["90_real"]}}}}
    ok = judge("w.whl", [gpu_binary({90})], doc)
    assert ok.verdict == "ok"
    assert ok.claimed_sm == frozenset({"90_real"})
    bad = judge("w.whl", [gpu_binary({80})], doc)
    assert bad.verdict == "error"
    assert len(bad.findings) == 2
