"""GPU detection: parsers on recorded tool outputs, the fallback chain, the no-GPU path."""

from __future__ import annotations

import shutil
import sys
import types
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import FIXTURES
from vllm_wizard.core import gpu_detect
from vllm_wizard.core.gpu_catalog import gpu_entry, resolve_gpu
from vllm_wizard.core.gpu_detect import (
    NVIDIA_SMI_FIELDS,
    NVIDIA_SMI_FIELDS_OLD_DRIVER,
    STARTUP_CONTEXT_BYTES,
    ToolOutput,
    detect_gpus,
    detected_entries,
    local_hardware,
    parse_cuda_version,
    parse_nvidia_smi_csv,
    parse_nvidia_smi_list,
    parse_nvidia_smi_topology,
    parse_rocm_smi_json,
    split_mig_slices,
    startup_free_memory_check,
)
from vllm_wizard.errors import EnvironmentFailureError, GpuNotDetectedError
from vllm_wizard.units import GiB, MiB

TOOLS = FIXTURES / "gpu_tools"


def _read(name: str) -> str:
    return (TOOLS / name).read_text(encoding="utf-8")


# (fixture, fields, [(name, catalog name, total MiB, free MiB, compute capability)]).
NVIDIA_SMI_CASES = [
    (
        "nvidia-smi-4xh100.csv",
        NVIDIA_SMI_FIELDS,
        [("NVIDIA H100 80GB HBM3", "H100 SXM 80GB", 81079, 81074, "9.0")] * 2
        + [("NVIDIA H100 80GB HBM3", "H100 SXM 80GB", 81079, 40962, "9.0")]
        + [("NVIDIA H100 80GB HBM3", "H100 SXM 80GB", 81079, 81074, "9.0")],
    ),
    (
        "nvidia-smi-old-driver-2x3090.csv",
        NVIDIA_SMI_FIELDS_OLD_DRIVER,
        [
            ("NVIDIA GeForce RTX 3090", "RTX 3090 24GB", 24576, 22813, None),
            ("NVIDIA GeForce RTX 3090", "RTX 3090 24GB", 24576, 24254, None),
        ],
    ),
    (
        "nvidia-smi-odd-lines.csv",
        NVIDIA_SMI_FIELDS,
        [
            ("NVIDIA GeForce RTX 4090", "RTX 4090 24GB", 24564, 22390, "8.9"),
            ("NVIDIA RTX A6000", "RTX A6000 48GB", 49140, 48541, "8.6"),
        ],
    ),
    (
        "nvidia-smi-mig-a100.csv",
        NVIDIA_SMI_FIELDS,
        [
            ("NVIDIA A100-SXM4-40GB", "A100 SXM 40GB", 40960, 40339, "8.0"),
            ("NVIDIA A100-SXM4-40GB", "A100 SXM 40GB", 40960, 40339, "8.0"),
        ],
    ),
]

# (fixture, substring of the one-line error).
NVIDIA_SMI_FAILURES = [
    ("nvidia-smi-no-devices.txt", "the driver sees no NVIDIA GPU"),
    ("nvidia-smi-mismatch.txt", "reboot (or reload the nvidia kernel modules)"),
    ("nvidia-smi-no-driver.txt", "the NVIDIA driver is not loaded"),
    ("nvidia-smi-invalid-field.txt", "printed no GPU rows"),
]

TOPOLOGY_CASES = [
    ("topo-4xh100-nvlink.txt", "nvlink"),
    ("topo-2x5090-phb.txt", "pcie"),
    ("topo-8-pcie-nic.txt", "pcie"),
    ("topo-1-gpu.txt", "unknown"),
    ("nvidia-smi-no-devices.txt", "unknown"),
]


@pytest.mark.parametrize(
    ("fixture", "fields", "expected"), NVIDIA_SMI_CASES, ids=[c[0] for c in NVIDIA_SMI_CASES]
)
def test_parse_nvidia_smi_csv(
    fixture: str, fields: tuple[str, ...], expected: list[tuple[Any, ...]]
) -> None:
    gpus = parse_nvidia_smi_csv(_read(fixture), fields)
    got = [
        (
            g.name,
            g.catalog_name,
            g.memory_bytes / MiB,
            None if g.free_bytes is None else g.free_bytes / MiB,
            g.compute_capability,
        )
        for g in gpus
    ]
    assert got == expected
    assert [g.index for g in gpus] == list(range(len(expected)))


def test_reserved_memory_is_taken_off_so_the_total_is_what_cuda_reports() -> None:
    h100 = parse_nvidia_smi_csv(_read("nvidia-smi-4xh100.csv"))[0]
    # 81559 - 480 MiB; the catalog has 81079.125 MiB from vLLM's logs.
    assert abs(h100.memory_bytes - resolve_gpu("H100 SXM").spec.memory_bytes) < MiB


def test_mig_mode_is_read_per_gpu() -> None:
    gpus = parse_nvidia_smi_csv(_read("nvidia-smi-mig-a100.csv"))
    assert [g.mig_enabled for g in gpus] == [True, False]


@pytest.mark.parametrize(("fixture", "message"), NVIDIA_SMI_FAILURES)
def test_nvidia_smi_failures_raise_one_line(fixture: str, message: str) -> None:
    with pytest.raises(GpuNotDetectedError) as info:
        parse_nvidia_smi_csv(_read(fixture))
    assert message in str(info.value)
    assert "\n" not in str(info.value)
    assert info.value.exit_code == 1


def test_mig_slices_replace_their_gpu() -> None:
    gpus = parse_nvidia_smi_csv(_read("nvidia-smi-mig-a100.csv"))
    slices = parse_nvidia_smi_list(_read("nvidia-smi-L-mig-a100.txt"))
    assert slices == {
        0: [
            ("3g.20gb", "MIG-c6d4f1ef-42e4-5de4-9883-e1b3ba1d8f45"),
            ("2g.10gb", "MIG-9a8b7c6d-1e2f-5a3b-8c4d-5e6f7a8b9c0d"),
            ("1g.5gb", "MIG-0d9c8b7a-6f5e-5d4c-9b3a-2f1e0d9c8b7a"),
        ]
    }
    devices = split_mig_slices(gpus, slices)
    assert [(d.index, d.mig_profile, d.memory_bytes) for d in devices] == [
        (0, "3g.20gb", 20 * 10**9),
        (1, "2g.10gb", 10 * 10**9),
        (2, "1g.5gb", 5 * 10**9),
        (3, None, 40960 * MiB),
    ]


@pytest.mark.parametrize(("fixture", "expected"), TOPOLOGY_CASES)
def test_parse_nvidia_smi_topology(fixture: str, expected: str) -> None:
    assert parse_nvidia_smi_topology(_read(fixture)) == expected


def test_parse_cuda_version() -> None:
    assert parse_cuda_version(_read("nvidia-smi-version.txt")) == "12.4"
    assert (
        parse_cuda_version(
            "| NVIDIA-SMI 535.161.08   Driver Version: 535.161.08   CUDA Version: 12.2 |"
        )
        == "12.2"
    )
    assert parse_cuda_version(_read("nvidia-smi-no-devices.txt")) is None


def test_parse_rocm_smi_json() -> None:
    mi300x = parse_rocm_smi_json(_read("rocm-smi-2xmi300x.json"))
    assert [(g.name, g.catalog_name, g.compute_capability) for g in mi300x] == [
        ("AMD Instinct MI300X OAM", "MI300X 192GB", "gfx942")
    ] * 2
    assert mi300x[0].memory_bytes == 206141652992
    assert mi300x[1].free_bytes == 206141652992 - 120283246592
    radeon = parse_rocm_smi_json(_read("rocm-smi-7900xt.json"))
    assert [(g.name, g.catalog_name, g.vendor) for g in radeon] == [
        ("Radeon RX 7900 XT", None, "amd")
    ]
    assert radeon[0].memory_bytes == 21458059264


@pytest.mark.parametrize("text", ["", "ERROR: No AMD GPUs found", '{"system": {}}'])
def test_rocm_smi_without_cards_raises(text: str) -> None:
    with pytest.raises(GpuNotDetectedError):
        parse_rocm_smi_json(text)


class FakeTools:
    """Answers commands with recorded outputs; commands not listed are 'not installed'."""

    def __init__(self, outputs: dict[str, tuple[int, str]]) -> None:
        self.outputs = outputs
        self.calls: list[str] = []

    def __call__(self, command: Sequence[str]) -> ToolOutput:
        key = " ".join(command)
        self.calls.append(key)
        for prefix, (code, fixture) in self.outputs.items():
            if key.startswith(prefix):
                return ToolOutput(code, _read(fixture) if fixture else "")
        return ToolOutput(None, "", f"{command[0]} not found")


def _nvidia_tools(csv_fixture: str, topo: str = "topo-4xh100-nvlink.txt") -> FakeTools:
    return FakeTools(
        {
            "nvidia-smi --query-gpu": (0, csv_fixture),
            "nvidia-smi -L": (0, "nvidia-smi-L-mig-a100.txt"),
            "nvidia-smi topo -m": (0, topo),
            "nvidia-smi --version": (0, "nvidia-smi-version.txt"),
        }
    )


def test_detect_with_nvidia_smi() -> None:
    inventory = detect_gpus(_nvidia_tools("nvidia-smi-4xh100.csv"), use_nvml=False)
    assert inventory.source == "nvidia-smi"
    assert len(inventory.gpus) == 4
    assert (inventory.driver_version, inventory.cuda_version) == ("550.54.15", "12.4")
    assert inventory.interconnect == "nvlink"


def _old_driver_tools() -> FakeTools:
    """A driver that rejects compute_cap: the first query fails, the short one answers."""
    return FakeTools(
        {
            f"nvidia-smi --query-gpu={','.join(NVIDIA_SMI_FIELDS)} ": (
                6,
                "nvidia-smi-invalid-field.txt",
            ),
            "nvidia-smi --query-gpu": (0, "nvidia-smi-old-driver-2x3090.csv"),
            "nvidia-smi topo -m": (0, "topo-2x5090-phb.txt"),
            "nvidia-smi --version": (2, ""),
        }
    )


def test_detect_retries_old_driver_with_fewer_fields() -> None:
    inventory = detect_gpus(_old_driver_tools(), use_nvml=False)
    assert [g.name for g in inventory.gpus] == ["NVIDIA GeForce RTX 3090"] * 2
    assert inventory.interconnect == "pcie"
    assert inventory.cuda_version is None
    assert any("Old driver" in note for note in inventory.notes)


def test_detect_splits_mig_slices() -> None:
    inventory = detect_gpus(_nvidia_tools("nvidia-smi-mig-a100.csv"), use_nvml=False)
    assert [g.mig_profile for g in inventory.gpus] == ["3g.20gb", "2g.10gb", "1g.5gb", None]
    assert any("MIG is enabled on GPU 0" in note for note in inventory.notes)


def test_detect_falls_back_to_rocm_smi() -> None:
    tools = FakeTools({"rocm-smi": (0, "rocm-smi-2xmi300x.json")})
    inventory = detect_gpus(tools, use_nvml=False)
    assert inventory.source == "rocm-smi"
    assert [g.catalog_name for g in inventory.gpus] == ["MI300X 192GB"] * 2


def test_driver_mismatch_is_reported_with_the_fix() -> None:
    tools = FakeTools({"nvidia-smi": (18, "nvidia-smi-mismatch.txt")})
    with pytest.raises(GpuNotDetectedError) as info:
        detect_gpus(tools, use_nvml=False)
    message = str(info.value)
    assert "Driver/library version mismatch" in message
    assert "rocm-smi" in message and "--vram-gb" in message
    assert "\n" not in message


def test_no_gpu_on_a_machine_without_tools(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))
    monkeypatch.setitem(sys.modules, "pynvml", None)  # import fails as if not installed
    with pytest.raises(GpuNotDetectedError) as info:
        detect_gpus()
    assert str(info.value) == (
        "No GPU detected (nvidia-ml-py is not installed; nvidia-smi is not on PATH; rocm-smi "
        "is not on PATH). Pass --gpu NAME (see `vllm-wizard gpus`) or --vram-gb to plan "
        "without detection."
    )
    assert isinstance(info.value, EnvironmentFailureError)


@pytest.mark.skipif(
    any(shutil.which(tool) for tool in ("nvidia-smi", "rocm-smi")),
    reason="this machine has GPU tools; the check is for machines without a GPU",
)
def test_this_machine_without_gpu_fails_cleanly() -> None:
    with pytest.raises(GpuNotDetectedError) as info:
        detect_gpus()
    assert "No GPU detected" in str(info.value)
    assert "\n" not in str(info.value)


def _fake_pynvml(names: list[str], nvlink: bool) -> types.ModuleType:
    """A stand-in for nvidia-ml-py's module with the calls detection makes."""
    module = types.ModuleType("pynvml")

    class NVMLError(Exception):
        pass

    memory = types.SimpleNamespace(total=81559 * MiB, free=81074 * MiB, used=5 * MiB)
    module.NVMLError = NVMLError  # type: ignore[attr-defined]
    module.NVML_NVLINK_MAX_LINKS = 18  # type: ignore[attr-defined]
    module.nvmlInit = lambda: None  # type: ignore[attr-defined]
    module.nvmlShutdown = lambda: None  # type: ignore[attr-defined]
    module.nvmlDeviceGetCount = lambda: len(names)  # type: ignore[attr-defined]
    module.nvmlDeviceGetHandleByIndex = lambda i: i  # type: ignore[attr-defined]
    module.nvmlDeviceGetName = lambda h: names[h].encode()  # type: ignore[attr-defined]
    module.nvmlDeviceGetMemoryInfo = lambda h: memory  # type: ignore[attr-defined]
    module.nvmlDeviceGetCudaComputeCapability = lambda h: (9, 0)  # type: ignore[attr-defined]
    module.nvmlDeviceGetUUID = lambda h: f"GPU-{h}"  # type: ignore[attr-defined]
    module.nvmlSystemGetDriverVersion = lambda: "550.54.15"  # type: ignore[attr-defined]
    module.nvmlSystemGetCudaDriverVersion_v2 = lambda: 12040  # type: ignore[attr-defined]
    module.nvmlDeviceGetNvLinkState = lambda h, link: int(nvlink)  # type: ignore[attr-defined]
    return module


@pytest.mark.parametrize(("nvlink", "expected"), [(True, "nvlink"), (False, "pcie")])
def test_detect_with_nvml(monkeypatch: pytest.MonkeyPatch, nvlink: bool, expected: str) -> None:
    fake = _fake_pynvml(["NVIDIA H100 80GB HBM3"] * 2, nvlink)
    monkeypatch.setitem(sys.modules, "pynvml", fake)
    inventory = detect_gpus(FakeTools({}))
    assert inventory.source == "nvml"
    assert (inventory.driver_version, inventory.cuda_version) == ("550.54.15", "12.4")
    assert inventory.interconnect == expected
    assert [g.catalog_name for g in inventory.gpus] == ["H100 SXM 80GB"] * 2


def test_nvml_failure_falls_back_to_nvidia_smi(monkeypatch: pytest.MonkeyPatch) -> None:
    fake = _fake_pynvml([], nvlink=False)

    def fail() -> None:
        raise fake.NVMLError("NVML Shared Library Not Found")

    fake.nvmlInit = fail  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "pynvml", fake)
    inventory = detect_gpus(_nvidia_tools("nvidia-smi-4xh100.csv"))
    assert inventory.source == "nvidia-smi"


def test_detected_entries_have_the_catalog_keys_plus_driver_facts() -> None:
    inventory = detect_gpus(_nvidia_tools("nvidia-smi-4xh100.csv"), use_nvml=False)
    entries = detected_entries(inventory)
    catalog_keys = set(gpu_entry(resolve_gpu("H100").spec))
    for entry in entries:
        assert catalog_keys | {"free_memory_gib", "driver_version", "cuda_version"} <= set(entry)
    assert entries[2]["free_memory_gib"] == 40.0
    assert entries[0]["memory_gib"] == 79.18
    assert entries[0]["bf16_tflops_dense"] == 989.0
    unknown = detected_entries(
        detect_gpus(FakeTools({"rocm-smi": (0, "rocm-smi-7900xt.json")}), use_nvml=False)
    )
    assert catalog_keys <= set(unknown[0])
    assert unknown[0]["bf16_tflops_dense"] is None
    assert unknown[0]["compute_capability"] == "gfx1100"


def test_local_hardware_counts_one_model_and_takes_the_least_free() -> None:
    inventory = detect_gpus(_nvidia_tools("nvidia-smi-4xh100.csv"), use_nvml=False)
    local = local_hardware(inventory)
    assert local.spec is not None and local.spec.name == "H100 SXM 80GB"
    assert (local.count, local.interconnect) == (4, "nvlink")
    assert local.free_bytes == 40962 * MiB
    mixed = local_hardware(detect_gpus(_nvidia_tools("nvidia-smi-odd-lines.csv"), use_nvml=False))
    assert mixed.count == 1
    assert any("Other detected GPU models were left out" in n for n in mixed.notes)


def test_local_hardware_on_mig_plans_on_the_slice() -> None:
    local = local_hardware(detect_gpus(_nvidia_tools("nvidia-smi-mig-a100.csv"), use_nvml=False))
    assert (local.count, local.memory_bytes) == (1, 20 * 10**9)


@pytest.mark.parametrize(
    ("free_gib", "utilization", "starts", "fitting"),
    [
        (79.0, 0.90, True, 0.99),  # idle H100: 0.90 x 79.18 = 71.3 GiB needed
        (60.0, 0.90, False, 0.75),  # another process holds ~19 GiB
        (41.0, 0.50, True, 0.51),
        (0.25, 0.90, False, 0.0),
    ],
)
def test_startup_free_memory_check(
    free_gib: float, utilization: float, starts: bool, fitting: float
) -> None:
    total = resolve_gpu("H100").spec.memory_bytes
    assert startup_free_memory_check(int(free_gib * GiB), total, utilization) == (
        starts,
        fitting,
    )


def test_startup_check_counts_the_cuda_context() -> None:
    total = 80 * GiB
    needed = int(0.9 * total)
    assert startup_free_memory_check(needed + STARTUP_CONTEXT_BYTES, total, 0.9)[0]
    assert not startup_free_memory_check(needed, total, 0.9)[0]


def test_run_tool_reports_missing_command(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))
    result = gpu_detect.run_tool(["nvidia-smi", "-L"])
    assert result.returncode is None
    assert "not found" in result.text
