"""Arch-specific (`90a`) and family-specific (`100f`) CUDA targets: the mapping to
`nvidia :: sm_arch`, where code runs, the toolkit check, the audit and the fat-binary
reader. Pure: no toolkit needed."""

from __future__ import annotations

import struct

import pytest
from hostile import Section, elf

from polywheel.audit.binary import BinaryAudit
from polywheel.audit.elf import open_elf
from polywheel.audit.fatbin import read_fatbins
from polywheel.cmake.report import BuildReport
from polywheel.errors import BuildError, ConfigError
from polywheel.namespaces import cuda_arch, nvidia
from polywheel.namespaces.cuda_arch import (
    Code,
    CudaToolkit,
    codes_from_cmake_entry,
    nvcc_release,
    parse_gpu_list,
    selected_devices,
)
from polywheel.namespaces.nvidia import (
    NVIDIA,
    check_toolkit_architectures,
    cmake_architectures,
    properties_from_cmake_architectures,
)
from polywheel.properties import VariantProperty

KEY = "tool.variants.variant[0].cuda-architectures"
# What nvcc 13.0 lists (`--list-gpu-code`, `--list-gpu-arch`).
CUDA_13 = CudaToolkit(
    "13.0.88",
    "/usr/local/bin/nvcc",
    frozenset({75, 80, 86, 87, 88, 89, 90, 100, 103, 110, 120, 121}),
    frozenset({75, 80, 86, 87, 88, 89, 90, 100, 103, 110, 120, 121}),
)
CUDA_12_8 = CudaToolkit("12.8.61", "nvcc", frozenset({75, 80, 90, 100, 120}), frozenset({90}))


def values(archs: list[str]) -> set[str]:
    return {p.value for p in properties_from_cmake_architectures(archs, key=KEY)}


def sm(*vals: str) -> list[VariantProperty]:
    return [VariantProperty("nvidia", "sm_arch", v) for v in vals]


# --- where code runs, where installers pick a wheel -----------------------------------------


@pytest.mark.parametrize(
    ("name", "devices"),
    [
        # CUDA Programming Guide, Table 25 (family-specific compatibility).
        ("compute_100f", {100, 103}),
        ("compute_103f", {103}),
        ("compute_110f", {110}),
        ("compute_120f", {120, 121}),
        ("compute_121f", {121}),
        ("sm_100f", {100, 103}),
        # Arch-specific code runs on exactly its compute capability.
        ("sm_90a", {90}),
        ("sm_100a", {100}),
        ("compute_120a", {120}),
        # Plain SASS stays in its major; plain PTX is compiled on anything newer.
        ("sm_80", {80, 86, 87, 88, 89}),
        ("compute_90", {90, 100, 103, 110, 120, 121}),
    ],
)
def test_where_code_runs(name: str, devices: set[int]) -> None:
    code = Code.from_name(name)
    assert code.name == name
    assert {d for d in cuda_arch.DEVICES if code.runs_on(d)} == devices


def test_where_installers_pick_a_wheel() -> None:
    # The provider reports {M}{k}_real for k <= the device's minor, and {M}0_virtual.
    assert set(selected_devices(["100_real"])) == {100, 103}
    assert set(selected_devices(["103_real"])) == {103}
    assert set(selected_devices(["121_real"])) == {121}
    assert set(selected_devices(["90_real", "90_virtual"])) == {90}
    assert set(selected_devices(["120_virtual"])) == {120, 121}
    assert selected_devices(["103_virtual"]) == {}


# --- the mapping -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("archs", "expected"),
    [
        (["90a"], {"90_real", "90_virtual"}),
        (["90a-real"], {"90_real"}),
        (["90a-virtual"], {"90_virtual"}),
        (["100f"], {"100_real", "100_virtual"}),
        (["100f-real"], {"100_real"}),
        (["121f-real"], {"121_real"}),
        (["120f"], {"120_real", "120_virtual"}),
        (["110a-real"], {"110_real"}),
        (["103a-real"], {"103_real"}),
        (["100a-real", "103a-real"], {"100_real", "103_real"}),
        (["100a-real", "100f-real"], {"100_real"}),
        (["100a-real", "103f-real"], {"100_real", "103_real"}),
        (["120a-real", "121a-real"], {"120_real", "121_real"}),
        (["80-real", "90a-real", "100f"], {"80_real", "90_real", "100_real", "100_virtual"}),
    ],
)
def test_suffixed_entries_map_to_the_plain_values(archs: list[str], expected: set[str]) -> None:
    assert values(archs) == expected


@pytest.mark.parametrize(
    ("archs", "message"),
    [
        # sm_100a does not run on 10.3 (B300), which reports 100_real.
        (["100a-real"], "installers would pick the wheel on compute capability 10.3 devices"),
        (["100a"], "sm_100a and compute_100a run only on compute capability 10.0"),
        (["100a-virtual"], "compute_100a runs only on compute capability 10.0"),
        # sm_120a does not run on 12.1 (GB10), which reports 120_real.
        (["120a-real"], "compute capability 12.1 devices"),
        (["90-real", "120a-real"], "['90-real', '120a-real'] would be labelled"),
        (["80a-real"], "arch-specific ('a') targets start at 90a (compute capability 9.0)"),
        (["90f"], "family-specific ('f') targets start at 100f (compute capability 10.0)"),
        (["90b"], "'90b' is not an explicit CUDA architecture"),
        (["100F"], "is not an explicit"),
    ],
)
def test_entries_picked_where_their_code_does_not_run_are_refused(
    archs: list[str], message: str
) -> None:
    with pytest.raises(ConfigError) as exc:
        properties_from_cmake_architectures(archs, key=KEY)
    assert exc.value.key == KEY
    assert message in exc.value.message


def test_refusal_hint_names_the_fixes() -> None:
    with pytest.raises(ConfigError) as exc:
        properties_from_cmake_architectures(["100a-real"], key=KEY)
    assert exc.value.hint is not None
    assert "'103a-real'" in exc.value.hint and "'100f'" in exc.value.hint


def test_declared_entries_keep_their_suffix() -> None:
    props = sm("90_real")
    assert cmake_architectures(props) == ("90-real",)
    assert cmake_architectures(props, ["90a-real"]) == ("90a-real",)
    assert cmake_architectures([], ["100f", " 90a-real"]) == (
        "90a-real",
        "100f-real",
        "100f-virtual",
    )
    assert cmake_architectures([], ["90", "90-real"]) == ("90-real", "90-virtual")


# --- the toolkit -----------------------------------------------------------------------------


def test_gpu_lists_parse() -> None:
    assert parse_gpu_list("sm_75\nsm_80\nsm_100\nsm_121\n", "sm") == {75, 80, 100, 121}
    assert parse_gpu_list("compute_75 compute_90\n", "compute") == {75, 90}
    assert parse_gpu_list("compute_75", "sm") == frozenset()


def test_a_dropped_architecture_names_the_variant_and_the_toolkit() -> None:
    with pytest.raises(BuildError) as exc:
        check_toolkit_architectures(["70-real", "80-real"], label="sm70", toolkit=CUDA_13)
    assert exc.value.label == "sm70"
    assert exc.value.message == (
        "CUDA 13.0.88 (/usr/local/bin/nvcc) cannot compile the CUDA architectures "
        "['70-real']: it has no sm_70 (it builds sm_75 to sm_121)"
    )
    assert str(exc.value).startswith("variant 'sm70': CUDA 13.0.88")


def test_family_targets_need_cuda_12_9() -> None:
    with pytest.raises(BuildError, match=r"family-specific targets need CUDA 12\.9 or later"):
        check_toolkit_architectures(["100f-real"], label="sm100f", toolkit=CUDA_12_8)
    check_toolkit_architectures(["100a-real", "90a"], label="ok", toolkit=CUDA_12_8)
    check_toolkit_architectures(["100f", "121f", "90a", "75"], label="ok", toolkit=CUDA_13)


def test_a_missing_virtual_target_is_named() -> None:
    with pytest.raises(BuildError, match=r"it has no compute_100\b"):
        check_toolkit_architectures(["100-virtual"], label="x", toolkit=CUDA_12_8)


# --- verification after the build -----------------------------------------------------------


def report(archs: str, languages: str = "C;CUDA") -> BuildReport:
    return BuildReport.parse(
        f"languages={languages}\ncuda_architectures={archs}\nCUDA_compiler_version=13.0.88\n"
    )


def test_suffixed_architectures_verify() -> None:
    result = NVIDIA().verified_properties(sm("90_real"), report("90a-real"), label="sm90a")
    assert {p.value for p in result} == {"90_real", "13.0"}
    both = sm("100_real", "100_virtual")
    assert NVIDIA().verified_properties(both, report("100f-real;100f-virtual"), label="b")


def test_a_project_turning_family_code_arch_specific_is_refused() -> None:
    with pytest.raises(BuildError) as exc:
        NVIDIA().verified_properties(sm("100_real"), report("100a-real"), label="sm100f")
    message = str(exc.value)
    assert (
        "ended up as 100a-real: installers would pick the wheel on compute capability 10.3"
        in message
    )


def test_cuda_left_disabled_by_a_dropped_architecture_says_so(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(nvidia, "probe_cuda_toolkit", lambda: CUDA_13)
    with pytest.raises(BuildError) as exc:
        NVIDIA().verified_properties(sm("70_real"), report("70-real", "C"), label="sm70")
    assert "CUDA 13.0.88 (/usr/local/bin/nvcc) cannot compile" in exc.value.message
    assert "so CMake found no working CUDA compiler" in exc.value.message
    monkeypatch.setattr(nvidia, "probe_cuda_toolkit", lambda: None)
    with pytest.raises(BuildError, match="never enabled the CUDA language"):
        NVIDIA().verified_properties(sm("70_real"), report("70-real", "C"), label="sm70")


# --- the audit -------------------------------------------------------------------------------


def gpu(*targets: str) -> BinaryAudit:
    audit = BinaryAudit("lib.so", "x86_64")
    for name in targets:
        code = Code.from_name(name)
        if code.kind == "real":
            audit.sass.add(code.number)
        else:
            audit.ptx[code.number] = "9.0"
        audit.cuda_targets.add(name)
    return audit


@pytest.mark.parametrize(
    ("claims", "targets"),
    [
        (["90_real"], ["sm_90a"]),
        (["100_real", "100_virtual"], ["sm_100f", "compute_100f"]),
        (["100_real", "103_real"], ["sm_100a", "sm_103a"]),
        (["100_real"], ["sm_100a", "sm_100"]),
        (["121_real"], ["sm_121f"]),
    ],
)
def test_audit_accepts_code_that_runs_where_the_wheel_is_picked(
    claims: list[str], targets: list[str]
) -> None:
    assert NVIDIA().audit({"sm_arch": claims}, [gpu(*targets)]) == []


@pytest.mark.parametrize(
    ("claims", "targets", "message"),
    [
        (["100_real"], ["sm_100a"], "compute capability 10.3 devices"),
        (["120_real", "120_virtual"], ["sm_120a", "compute_120a"], "12.1 devices"),
    ],
)
def test_audit_catches_code_that_does_not_run_where_the_wheel_is_picked(
    claims: list[str], targets: list[str], message: str
) -> None:
    findings = NVIDIA().audit({"sm_arch": claims}, [gpu(*targets)])
    assert [s for s, _ in findings] == ["error"]
    assert message in findings[0][1]


def test_audit_names_arch_specific_code() -> None:
    (severity, message), *_ = NVIDIA().audit({"sm_arch": ["100_real"]}, [gpu("sm_100a")])
    assert severity == "error"
    assert message.startswith("its fat binaries hold sm_100a, but with nvidia :: sm_arch")
    assert "sm_100a runs only on compute capability 10.0" in message


# --- reading the suffix from fat binaries ----------------------------------------------------


def entry(kind: int, arch: int, flags: int = 0, payload: bytes = b"") -> bytes:
    """A fat-binary entry as fatbinary 13.0 writes it: 64-byte header, flags at 40."""
    head = struct.pack("<HHIQIIHHIII", kind, 0x101, 64, len(payload), 0, 0, 0, 8, arch, 0, 0)
    return (head + struct.pack("<Q", flags)).ljust(64, b"\0") + payload


def cubin(abi: int, e_flags: int) -> bytes:
    """The 64 bytes of a cubin's ELF header that tell an arch-specific one."""
    ident = b"\x7fELF\x02\x01\x01\x41" + bytes([abi]) + bytes(7)
    return ident + struct.pack("<HHIQQQIHHHHHH", 2, 190, 1, 0, 0, 0, e_flags, 64, 0, 0, 0, 0, 0)


def targets(*entries: bytes) -> BinaryAudit:
    body = b"".join(entries)
    data = struct.pack("<IHHQ", 0xBA55ED50, 1, 16, len(body)) + body
    audit = BinaryAudit("lib.so", "x86_64")
    library = elf([Section(".nv_fatbin", data, flags=2)])
    read_fatbins(open_elf(library), library, audit)
    return audit


def test_fatbin_header_flags_mark_a_and_f() -> None:
    # Flags as fatbinary 13.0 writes them for sm_90, sm_90a, sm_100f, compute_100f.
    audit = targets(
        entry(2, 90, 0x11),
        entry(2, 90, 0x100011),
        entry(2, 100, 0x1200011),
        entry(1, 100, 0x208011),
    )
    assert audit.cuda_targets == {"sm_90", "sm_90a", "sm_100f", "compute_100f"}
    assert audit.sass == {90, 100} and set(audit.ptx) == {100}
    cuda = audit.to_json()["cuda"]
    assert cuda == {"sass": ["sm_90", "sm_90a", "sm_100f"], "ptx": {"compute_100f": "8.0"}}


def test_cubin_e_flags_mark_arch_specific_code() -> None:
    audit = targets(
        entry(2, 90, 0x11, cubin(7, 0x5A0D5A)),  # ptxas 12.9, sm_90a: ABI 7, 0x800
        entry(2, 100, 0x11, cubin(8, 0x0600640A)),  # ptxas 12.9, sm_100a: ABI 8, 0x8
        entry(2, 80, 0x11, cubin(7, 0x500550)),
        entry(2, 103, 0x11, cubin(8, 0x06006702)),
    )
    assert audit.cuda_targets == {"sm_90a", "sm_100a", "sm_80", "sm_103"}


def test_uncompressed_ptx_names_its_target() -> None:
    ptx = b"//\n.version 8.8\n.target sm_90a\n.address_size 64\n"
    audit = targets(entry(1, 90, 0x11, ptx), entry(1, 80, 0x11, b".target sm_80\n"))
    assert audit.cuda_targets == {"compute_90a", "compute_80"}


def test_bare_numbers_read_as_plain_targets() -> None:
    audit = BinaryAudit("lib.so", "x86_64", sass={80, 90}, ptx={90: "8.4"})
    assert audit.to_json()["cuda"] == {"sass": ["sm_80", "sm_90"], "ptx": {"compute_90": "8.4"}}
    assert nvidia.binary_codes(audit) == [
        Code(80, "", "real"),
        Code(90, "", "real"),
        Code(90, "", "virtual"),
    ]
    assert codes_from_cmake_entry("90") == (Code(90, "", "real"), Code(90, "", "virtual"))


def test_the_toolkit_version_comes_from_nvccs_own_words() -> None:
    out = (
        "nvcc: NVIDIA (R) Cuda compiler driver\nCuda compilation tools, release 13.0, "
        "V13.0.88\nBuild cuda_13.0.r13.0/compiler.36424714_0\n"
    )
    assert nvcc_release(out) == "13.0.88"
    assert nvcc_release("Cuda compilation tools, release 12.4\n") == "12.4"
    assert nvcc_release("clang version 18") is None
    assert nvcc_release(None) is None
