"""One GPU model as the catalog describes it."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

Interconnect = Literal["nvlink", "pcie", "xgmi", "unknown"]
Vendor = Literal["nvidia", "amd"]


class GpuSpec(BaseModel):
    """Datasheet facts of one GPU model. Memory is bytes as the CUDA/ROCm runtime reports it."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str = Field(description="Canonical name, e.g. 'H100 SXM 80GB'.")
    aliases: list[str] = Field(default_factory=list, description="Other spellings people type.")
    vendor: Vendor = Field(description="nvidia or amd.")
    memory_bytes: int = Field(gt=0, description="Total device memory as cudaMemGetInfo reports it.")
    memory_bandwidth_gbps: float = Field(gt=0, description="Memory bandwidth, 10^9 bytes/s.")
    bf16_tflops_dense: float = Field(gt=0, description="Dense BF16 (or FP16) tensor TFLOP/s.")
    fp8_tflops_dense: float | None = Field(default=None, gt=0, description="Dense FP8 TFLOP/s.")
    int8_tops_dense: float | None = Field(default=None, gt=0, description="Dense INT8 TOP/s.")
    compute_capability: str = Field(description="'8.0' style for NVIDIA, gfx name for AMD.")
    fp8_support: bool = Field(description="Hardware FP8 tensor cores (NVIDIA 8.9+, AMD gfx942+).")
    interconnect: Interconnect = Field(description="GPU-to-GPU link of the usual board.")
    interconnect_gbps: float | None = Field(
        default=None, gt=0, description="NVLink/xGMI bandwidth per GPU, 10^9 bytes/s."
    )
    form_factor: str = Field(description="SXM, PCIe, OAM, NVL, superchip...")
    consumer: bool = Field(
        default=False, description="GeForce/workstation card (display attached)."
    )
    price_usd_per_hour: float | None = Field(
        default=None, gt=0, description="Approximate on-demand price per GPU-hour, USD."
    )
    price_as_of: str | None = Field(default=None, description="Date the price was read (YYYY-MM).")
    source: str = Field(description="URL of the public page the figures come from.")


DetectionSource = Literal["nvml", "nvidia-smi", "rocm-smi"]


class DetectedGpu(BaseModel):
    """One GPU (or MIG slice) as the local driver reports it."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    index: int = Field(ge=0, description="Device index as the driver numbers it.")
    name: str = Field(description="Name as the driver reports it, e.g. 'NVIDIA H100 80GB HBM3'.")
    vendor: Vendor = Field(description="nvidia or amd.")
    memory_bytes: int = Field(gt=0, description="Total device memory the driver reports.")
    free_bytes: int | None = Field(
        default=None, ge=0, description="Memory free now (other processes hold the rest)."
    )
    compute_capability: str | None = Field(
        default=None, description="'8.0' style for NVIDIA, gfx name for AMD; None if unreported."
    )
    uuid: str | None = Field(default=None, description="Device UUID (GPU-... or MIG-...).")
    mig_enabled: bool = Field(default=False, description="MIG mode is on for this GPU.")
    mig_profile: str | None = Field(
        default=None, description="MIG profile such as '3g.40gb' when this is a MIG slice."
    )
    catalog_name: str | None = Field(
        default=None, description="Catalog row the name resolved to; None when unknown."
    )


class GpuInventory(BaseModel):
    """Every GPU found on this machine, with the driver facts they share."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    gpus: list[DetectedGpu] = Field(min_length=1, description="Detected devices, in index order.")
    driver_version: str | None = Field(default=None, description="Kernel driver version.")
    cuda_version: str | None = Field(
        default=None, description="Highest CUDA version the driver supports (ROCm version on AMD)."
    )
    interconnect: Interconnect = Field(
        description="Link between the GPUs: nvlink only when every pair has one."
    )
    source: DetectionSource = Field(description="What reported the GPUs.")
    notes: list[str] = Field(
        default_factory=list, description="Things the detection had to guess or could not read."
    )


class CloudInstance(BaseModel):
    """A cloud instance type and the GPUs in it."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str = Field(description="Instance type as the cloud spells it, e.g. 'p5.48xlarge'.")
    cloud: Literal["aws", "gcp", "azure"] = Field(description="Cloud that sells it.")
    gpu: str = Field(description="Catalog name of its GPU model.")
    count: int = Field(ge=1, le=64, description="GPUs in one instance.")
    source: str = Field(description="URL of the cloud's page listing the instance type.")
