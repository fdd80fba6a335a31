"""The bundled GPU catalog: rows validate, names resolve loosely, unknown names explain."""

from __future__ import annotations

import time

import pytest

from vllm_wizard.core import gpu_catalog
from vllm_wizard.core.gpu_catalog import (
    GpuMatch,
    gpu_entry,
    list_gpus,
    load_cloud_instances,
    load_gpu_catalog,
    resolve_gpu,
)
from vllm_wizard.errors import UnknownGpuError, UserInputError
from vllm_wizard.schemas.gpu import GpuSpec
from vllm_wizard.units import GiB, bytes_to_gib

# (query, catalog name): spellings from people, nvidia-smi and rocm-smi.
RESOLVE_CASES = [
    ("H100", "H100 SXM 80GB"),
    ("h100-sxm", "H100 SXM 80GB"),
    ("NVIDIA H100 80GB HBM3", "H100 SXM 80GB"),
    ("H100 PCIe", "H100 PCIe 80GB"),
    ("NVIDIA H100 NVL", "H100 NVL 94GB"),
    ("H200", "H200 SXM 141GB"),
    ("NVIDIA H200 NVL", "H200 NVL 141GB"),
    ("a100 80gb", "A100 SXM 80GB"),
    ("A100 80GB", "A100 SXM 80GB"),
    ("A100 80 GB", "A100 SXM 80GB"),
    ("A100-SXM4-40GB", "A100 SXM 40GB"),
    ("NVIDIA A100-PCIE-40GB", "A100 PCIe 40GB"),
    ("NVIDIA A100 80GB PCIe", "A100 PCIe 80GB"),
    ("A100 40GB", "A100 SXM 40GB"),
    ("Tesla T4", "T4 16GB"),
    ("Tesla V100-SXM2-32GB", "V100 SXM2 32GB"),
    ("NVIDIA A10", "A10 24GB"),
    ("NVIDIA A10G", "A10G 24GB"),
    ("A30", "A30 24GB"),
    ("a40", "A40 48GB"),
    ("L4", "L4 24GB"),
    ("NVIDIA L40", "L40 48GB"),
    ("L40S", "L40S 48GB"),
    ("l40s", "L40S 48GB"),
    ("NVIDIA L20", "L20 48GB"),
    ("H20", "H20 96GB"),
    ("NVIDIA GH200 480GB", "GH200 96GB"),
    ("B200", "B200 180GB"),
    ("NVIDIA A800-SXM4-80GB", "A800 SXM 80GB"),
    ("NVIDIA H800", "H800 SXM 80GB"),
    ("NVIDIA RTX A6000", "RTX A6000 48GB"),
    ("A6000", "RTX A6000 48GB"),
    ("NVIDIA RTX 6000 Ada Generation", "RTX 6000 Ada 48GB"),
    ("NVIDIA RTX PRO 6000 Blackwell Workstation Edition", "RTX PRO 6000 Blackwell 96GB"),
    ("RTX PRO 6000", "RTX PRO 6000 Blackwell 96GB"),
    ("NVIDIA GeForce RTX 3060", "RTX 3060 12GB"),
    ("RTX 3060 12GB", "RTX 3060 12GB"),
    ("rtx 3080", "RTX 3080 10GB"),
    ("NVIDIA GeForce RTX 3090", "RTX 3090 24GB"),
    ("RTX 3090 Ti", "RTX 3090 Ti 24GB"),
    ("rtx4060ti", "RTX 4060 Ti 16GB"),
    ("RTX 4070 Ti", "RTX 4070 Ti 12GB"),
    ("NVIDIA GeForce RTX 4080", "RTX 4080 16GB"),
    ("NVIDIA GeForce RTX 4090", "RTX 4090 24GB"),
    ("rtx4090", "RTX 4090 24GB"),
    ("RTX 4090 24GB", "RTX 4090 24GB"),
    ("NVIDIA GeForce RTX 4090 D", "RTX 4090 D 24GB"),
    ("RTX 5070 Ti", "RTX 5070 Ti 16GB"),
    ("GeForce RTX 5080", "RTX 5080 16GB"),
    ("NVIDIA GeForce RTX 5090", "RTX 5090 32GB"),
    ("MI210", "MI210 64GB"),
    ("AMD Instinct MI250X/MI250", "MI250X GCD 64GB"),
    ("MI300X", "MI300X 192GB"),
    ("AMD Instinct MI300X", "MI300X 192GB"),
    ("mi325x", "MI325X 256GB"),
    ("AMD Instinct MI355X", "MI355X 288GB"),
    ("AMD Instinct MI300X OAM", "MI300X 192GB"),  # rocm-smi's "Card Series"
    ("AMD Instinct MI325X OAM", "MI325X 256GB"),
]

# (query, catalog name taken, substring of the note).
AMBIGUOUS_CASES = [
    ("A100", "A100 SXM 80GB", "Say 'A100 PCIe 80GB', 'A100 SXM 40GB' or 'A100 PCIe 40GB'"),
    ("a100 80gb", "A100 SXM 80GB", "Say 'A100 PCIe 80GB' for the other."),
    ("A100 40GB", "A100 SXM 40GB", "Say 'A100 PCIe 40GB' for the other."),
    ("H100", "H100 SXM 80GB", "'H100 PCIe 80GB' or 'H100 NVL 94GB'"),
    ("V100", "V100 SXM2 16GB", "Say 'V100 SXM2 32GB' for the other."),
]

# (query, substring of the error message).
UNKNOWN_CASES = [
    ("H1000", "'H100 SXM 80GB'"),
    ("RTX 9090", "'RTX 4090 24GB'"),
    ("A100 48GB", "'A100"),
    ("Radeon 7900 XTX", "--vram-gb"),
    ("NVIDIA", "is empty once vendor words are removed"),
    ("", "--vram-gb"),
]

# (catalog name, GiB the CUDA runtime reports), each from a vLLM start-up log or a
# PyTorch out-of-memory message.
CUDA_TOTAL_GIB_CASES = [
    ("H100 SXM 80GB", 79.18),  # vLLM logs, /work/shared/reference vmc-042..051
    ("A100 SXM 80GB", 79.15),  # PyTorch OOM messages on A100-SXM4-80GB
    ("A100 SXM 40GB", 39.38),  # vLLM log, reference vmc-013
    ("RTX 3090 24GB", 23.58),  # vLLM log, reference vmc-001
    ("RTX 4080 16GB", 15.99),  # vLLM log under WSL2, reference vmc-055
    ("A10 24GB", 22.07),  # vLLM log, reference vmc-066
    ("RTX 4090 24GB", 23.64),  # PyTorch OOM messages on Linux
    ("L4 24GB", 22.03),  # PyTorch OOM messages
    ("RTX 6000 Ada 48GB", 44.43),  # PyTorch OOM message (nvidia-smi 46068 MiB)
]

REQUIRED_FAMILIES = [
    "V100", "T4", "A10", "A10G", "A30", "A40", "A100", "L4", "L40", "L40S", "H100", "H200",
    "H20", "GH200", "B200", "RTX A6000", "RTX 6000 Ada", "RTX PRO 6000", "RTX 3060", "RTX 3080",
    "RTX 3090", "RTX 3090 Ti", "RTX 4060 Ti", "RTX 4070 Ti", "RTX 4080", "RTX 4090", "RTX 5080",
    "RTX 5090", "MI210", "MI250X", "MI300X", "MI325X", "MI355X", "A800", "H800", "L20",
    "RTX 4090 D", "RTX 5070 Ti",
]  # fmt: skip


def test_catalog_has_at_least_40_valid_rows() -> None:
    catalog = load_gpu_catalog()
    assert len(catalog) >= 40
    for spec in catalog:
        assert isinstance(spec, GpuSpec)
        assert GpuSpec.model_validate(spec.model_dump()) == spec


def test_names_are_unique() -> None:
    names = [spec.name for spec in load_gpu_catalog()]
    assert len(names) == len(set(names))


def test_no_two_rows_share_a_spelling() -> None:
    owner: dict[str, str] = {}
    for entry in gpu_catalog._catalog_index():
        for form in entry.forms:
            assert owner.setdefault(form.key, entry.spec.name) == entry.spec.name, form.key


@pytest.mark.parametrize("family", REQUIRED_FAMILIES)
def test_required_family_is_present(family: str) -> None:
    assert isinstance(resolve_gpu(family), GpuMatch)


@pytest.mark.parametrize(("query", "expected"), RESOLVE_CASES, ids=[c[0] for c in RESOLVE_CASES])
def test_resolve_gpu(query: str, expected: str) -> None:
    assert resolve_gpu(query).spec.name == expected


@pytest.mark.parametrize("spec", load_gpu_catalog(), ids=lambda spec: spec.name)
def test_every_name_and_alias_resolves_to_its_row_without_note(spec: GpuSpec) -> None:
    for spelling in (spec.name, *spec.aliases):
        match = resolve_gpu(spelling)
        assert (match.spec.name, match.note) == (spec.name, None), spelling


@pytest.mark.parametrize(
    ("query", "expected", "note_part"), AMBIGUOUS_CASES, ids=[c[0] for c in AMBIGUOUS_CASES]
)
def test_ambiguous_name_takes_common_variant_with_note(
    query: str, expected: str, note_part: str
) -> None:
    match = resolve_gpu(query)
    assert match.spec.name == expected
    assert match.note is not None
    assert f"{query!r} is ambiguous; took {expected}, the common variant." in match.note
    assert note_part in match.note


def test_missing_form_factor_variant_falls_back_with_note() -> None:
    match = resolve_gpu("Tesla V100-PCIE-16GB")
    assert match.spec.name == "V100 SXM2 16GB"
    assert match.note is not None
    assert "no pcie variant" in match.note


@pytest.mark.parametrize(
    ("query", "message_part"), UNKNOWN_CASES, ids=[c[0] for c in UNKNOWN_CASES]
)
def test_unknown_gpu_raises_with_suggestions(query: str, message_part: str) -> None:
    with pytest.raises(UnknownGpuError) as info:
        resolve_gpu(query)
    message = str(info.value)
    assert message_part in message
    assert "--vram-gb" in message
    assert "\n" not in message
    assert info.value.field == "gpu"
    assert isinstance(info.value, UserInputError)
    assert isinstance(info.value, LookupError)


def test_unknown_gpu_lists_three_closest_names() -> None:
    with pytest.raises(UnknownGpuError) as info:
        resolve_gpu("H1000")
    closest = str(info.value).split("closest: ")[1].split(")")[0]
    names = [name.strip("' ") for name in closest.split(",")]
    assert len(names) == 3
    catalog_names = {spec.name for spec in load_gpu_catalog()}
    assert set(names) <= catalog_names


def test_h100_memory_is_the_cuda_reported_total() -> None:
    assert resolve_gpu("H100 SXM").spec.memory_bytes == 85_017_624_576


@pytest.mark.parametrize(
    ("name", "gib"), CUDA_TOTAL_GIB_CASES, ids=[c[0] for c in CUDA_TOTAL_GIB_CASES]
)
def test_memory_matches_cuda_reported_total(name: str, gib: float) -> None:
    assert bytes_to_gib(resolve_gpu(name).spec.memory_bytes) == gib


@pytest.mark.parametrize("spec", load_gpu_catalog(), ids=lambda spec: spec.name)
def test_row_is_plausible(spec: GpuSpec) -> None:
    nominal_gb = int(spec.name.rsplit(" ", 1)[1].removesuffix("GB"))
    # The runtime reports a little less than the nominal size (GB or GiB).
    assert 0.9 * nominal_gb * GiB < spec.memory_bytes <= nominal_gb * GiB
    assert spec.fp8_support == (spec.fp8_tflops_dense is not None)
    if spec.fp8_tflops_dense is not None:
        assert spec.fp8_tflops_dense >= spec.bf16_tflops_dense
    if spec.vendor == "nvidia":
        major, minor = (int(part) for part in spec.compute_capability.split("."))
        assert spec.fp8_support == ((major, minor) >= (8, 9))
    else:
        assert spec.compute_capability.startswith("gfx")
        assert spec.fp8_support == (spec.compute_capability in {"gfx942", "gfx950"})
    assert (spec.price_usd_per_hour is None) == (spec.price_as_of is None)
    assert spec.source.startswith("https://")


def test_list_gpus_without_query_returns_everything() -> None:
    assert list_gpus(None) == list(load_gpu_catalog())
    assert list_gpus("  ") == list(load_gpu_catalog())


def test_list_gpus_filters_by_substring() -> None:
    assert [spec.name for spec in list_gpus("h100")] == [
        "H100 SXM 80GB",
        "H100 PCIe 80GB",
        "H100 NVL 94GB",
    ]
    assert {spec.vendor for spec in list_gpus("mi3")} == {"amd"}
    assert "RTX 4090 D 24GB" in [spec.name for spec in list_gpus("rtx4090")]
    assert list_gpus("no such gpu") == []


def test_load_is_cached_and_fast() -> None:
    load_gpu_catalog.cache_clear()
    gpu_catalog._catalog_index.cache_clear()
    start = time.perf_counter()
    catalog = load_gpu_catalog()
    resolve_gpu("A100")
    assert time.perf_counter() - start < 0.5
    assert load_gpu_catalog() is catalog


# (instance type as typed, catalog GPU, count), from the clouds' instance-type pages.
INSTANCE_CASES = [
    ("p5.48xlarge", "H100 SXM 80GB", 8),
    ("p4d.24xlarge", "A100 SXM 40GB", 8),
    ("p4de.24xlarge", "A100 SXM 80GB", 8),
    ("g5.12xlarge", "A10G 24GB", 4),
    ("g6e.xlarge", "L40S 48GB", 1),
    ("a2-ultragpu-8g", "A100 SXM 80GB", 8),
    ("a2-highgpu-1g", "A100 SXM 40GB", 1),
    ("a3-highgpu-8g", "H100 SXM 80GB", 8),
    ("g2-standard-96", "L4 24GB", 8),
    ("Standard_ND96isr_H100_v5", "H100 SXM 80GB", 8),
    ("standard_nd96amsr_a100_v4", "A100 SXM 80GB", 8),
    ("Standard_ND96isr_MI300X_v5", "MI300X 192GB", 8),
]


@pytest.mark.parametrize(
    ("query", "gpu", "count"), INSTANCE_CASES, ids=[c[0] for c in INSTANCE_CASES]
)
def test_cloud_instance_resolves_to_gpu_and_count(query: str, gpu: str, count: int) -> None:
    match = resolve_gpu(query)
    assert (match.spec.name, match.count) == (gpu, count)
    assert match.note is not None and f"has {count}x {gpu}" in match.note


def test_cloud_instances_are_unique_and_cover_three_clouds() -> None:
    instances = load_cloud_instances()
    names = [instance.name.lower() for instance in instances]
    assert len(names) == len(set(names))
    assert {instance.cloud for instance in instances} == {"aws", "gcp", "azure"}


def test_gpu_names_are_not_taken_for_instances() -> None:
    assert resolve_gpu("H100").count is None


def test_gpu_entry_adds_memory_gib() -> None:
    entry = gpu_entry(resolve_gpu("H100").spec)
    assert entry["memory_gib"] == 79.18
    assert entry["name"] == "H100 SXM 80GB"
