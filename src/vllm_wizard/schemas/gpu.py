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
