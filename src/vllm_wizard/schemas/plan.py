"""The planner's output, shaped as the JSON contract of `plan --json` (schema_version 1).

Names ending in `_gb` are GiB (2**30 bytes); `_gbps` is 10**9 bytes per second.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from vllm_wizard.schemas.model import ModelSource, WeightsSource

SCHEMA_VERSION = 1
OomRisk = Literal["low", "medium", "high"]

_frozen = ConfigDict(extra="forbid", frozen=True)


class ModelReport(BaseModel):
    """The model as the planner read it."""

    model_config = _frozen

    id: str = Field(description="Hub id or local path.")
    source: ModelSource = Field(description="catalog, local, hf_cache or hub.")
    architecture: str = Field(description="Architecture class from config.json.")
    params_total: int = Field(description="All parameters loaded.")
    params_active: int = Field(description="Parameters read per token (MoE: active experts).")
    weights_bytes: int = Field(description="Bytes of weights vLLM loads, all GPUs together.")
    weights_source: WeightsSource = Field(description="How the weights were sized.")
    num_layers: int = Field(description="Decoder layers.")
    hidden_size: int = Field(description="Hidden width.")
    num_attention_heads: int = Field(description="Query heads.")
    num_kv_heads: int = Field(description="KV heads before tensor parallel.")
    head_dim: int = Field(description="Per-head width.")
    kv_bytes_per_token: int = Field(
        description="Whole model's KV bytes per token, before any split."
    )
    max_position_embeddings: int | None = Field(description="Longest supported context.")
    dtype: str = Field(description="dtype vLLM will load the weights in.")
    quantization: str | None = Field(description="vLLM quantization method, null when none.")


class HardwareReport(BaseModel):
    """GPUs and how the model is laid out over them."""

    model_config = _frozen

    gpu_name: str = Field(description="Catalog name, or 'custom' for --vram-gb alone.")
    gpus: int = Field(description="Total GPUs.")
    gpus_per_node: int = Field(description="GPUs per node.")
    vram_per_gpu_gb: float = Field(description="Total memory of one GPU, GiB.")
    memory_bandwidth_gbps: float | None = Field(description="Memory bandwidth per GPU, 10^9 B/s.")
    interconnect: Literal["nvlink", "pcie", "xgmi", "unknown"] = Field(description="GPU link.")
    tensor_parallel_size: int = Field(description="TP size of one replica.")
    pipeline_parallel_size: int = Field(description="PP size of one replica.")
    replicas: int = Field(
        description="Copies of the model the GPUs hold: separate servers, or the data-parallel "
        "ranks of one server when vllm_args has data_parallel_size."
    )


class KvLayoutReport(BaseModel):
    """How vLLM groups this GPU's KV-cache layers into one block pool (VLLM-NOTES 2.3-2.7)."""

    model_config = _frozen

    block_size: int = Field(
        description="KV block size vLLM ends up with, tokens (raised for Mamba hybrids)."
    )
    bytes_per_block: int = Field(description="One block across every group, bytes.")
    blocks_per_request: int = Field(
        description="Blocks one request of max_model_len takes, summed over the groups."
    )
    groups: list[str] = Field(description="Each KV-cache group: layers, kind, blocks per request.")
    sliding_tokens_per_request: int | None = Field(
        default=None,
        description="Most tokens a sliding-window layer holds per request (window plus "
        "in-flight tokens); None without sliding layers or with the hybrid manager off.",
    )
    state_mib_per_request: float | None = Field(
        default=None,
        description="Mamba / linear-attention state of one request on this GPU, MiB (2^20 "
        "bytes), all state layers; None without such layers.",
    )
    hybrid_kv_cache_manager: bool = Field(description="vLLM's hybrid KV cache manager is on.")
    summary: str = Field(description="The layout in plain words.")


class PerGpuReport(BaseModel):
    """vLLM's own view of one GPU (under PP, the worker with the fewest KV blocks)."""

    model_config = _frozen

    vram_gb: float = Field(description="Total memory of the GPU, GiB.")
    target_alloc_gb: float = Field(description="total x gpu_memory_utilization, GiB.")
    weights_gb: float = Field(description="'Model loading took X GiB'.")
    activation_gb: float = Field(description="Activation peak while profiling, GiB.")
    non_torch_gb: float = Field(description="Non-torch memory growth (NCCL, allocator), GiB.")
    cuda_graph_gb: float = Field(description="CUDA graph memory estimate, GiB.")
    kv_cache_capacity_gb: float = Field(description="'Available KV cache memory', GiB.")
    kv_bytes_per_token: int = Field(description="This GPU's share of a token's KV, bytes.")
    kv_layout: KvLayoutReport | None = Field(
        default=None, description="vLLM's KV-cache groups, block size and per-request cost."
    )


class FeasibilityReport(BaseModel):
    """Will it fit: SPEC 4.2.1 totals over one replica plus vLLM's start-up view."""

    model_config = _frozen

    fits: bool = Field(description="will_start and headroom_gb >= --headroom-gb.")
    oom_risk: OomRisk = Field(description="low, medium or high.")
    vram_total_gb: float = Field(description="Memory of the replica's GPUs, GiB.")
    vram_target_alloc_gb: float = Field(description="vram_total_gb x gpu_memory_utilization.")
    weights_gb: float = Field(description="Weights of one replica, GiB.")
    kv_cache_gb: float = Field(
        description="KV one request of max_model_len reserves (blocks per request x bytes per "
        "block, over the replica) x concurrency x fragmentation, GiB."
    )
    overhead_gb: float = Field(description="Activation + non-torch + CUDA graph, GiB.")
    headroom_gb: float = Field(description="Target allocation left after everything, GiB.")
    max_concurrency_at_context: int = Field(description="Sequences of max_model_len that fit.")
    max_context_at_concurrency: int = Field(description="Longest context for the concurrency.")
    kv_cache_capacity_tokens: int = Field(description="'GPU KV cache size: N tokens'.")
    vllm_max_concurrency: float = Field(
        description="'Maximum concurrency for L tokens per request'."
    )
    will_start: bool = Field(description="False when vLLM would fail at start-up for memory.")
    warnings: list[str] = Field(description="Things the user should know or change.")
    remedies: list[str] = Field(
        default_factory=list,
        description="When it does not fit: each remedy in order, with the plan it gives.",
    )
    per_gpu: PerGpuReport = Field(description="vLLM's view of one GPU.")


class PerformanceReport(BaseModel):
    """Approximate performance, as [low, high] ranges with the assumptions behind them."""

    model_config = _frozen

    approximate: Literal[True] = Field(
        default=True, description="Always true: these are estimates."
    )
    decode_toks_per_s_range: tuple[float, float] = Field(
        description="Decode tokens/s of one request while the requested concurrency runs."
    )
    output_toks_per_s_range: tuple[float, float] = Field(
        description="Output tokens/s of all requests together (all replicas), prefill included, "
        "at the requested concurrency capped by max_num_seqs and the KV cache."
    )
    tpot_ms_range: tuple[float, float] = Field(
        description="Time per output token of one request, milliseconds (1000 / decode tok/s)."
    )
    prefill_toks_per_s_range: tuple[float, float] = Field(
        description="Prompt tokens/s one replica prefills."
    )
    ttft_ms_range: tuple[float, float] = Field(
        description="Time to first token, milliseconds: idle server (low) up to queueing behind "
        "half a burst of prompts (high)."
    )
    requests_per_s_range: tuple[float, float] = Field(
        description="Completed requests/s of the workload (output tok/s / generated tokens)."
    )
    e2e_latency_ms_range: tuple[float, float] = Field(
        description="End-to-end latency of one request, milliseconds: TTFT + (gen - 1) x TPOT."
    )
    assumptions: list[str] = Field(description="What the estimate assumes.")


class Artifacts(BaseModel):
    """Generated deployment text."""

    model_config = _frozen

    serve_command: str = Field(description="One-line `vllm serve` command.")


class PlanResult(BaseModel):
    """The whole answer of `plan`."""

    model_config = _frozen

    schema_version: int = Field(default=SCHEMA_VERSION, description="Version of this JSON shape.")
    tool_version: str = Field(description="vllm-wizard version that produced it.")
    vllm_version: str = Field(description="vLLM release the plan targets.")
    model: ModelReport = Field(description="The model as read, whole-model figures.")
    hardware: HardwareReport = Field(description="GPUs and the parallel layout chosen.")
    feasibility: FeasibilityReport = Field(description="Fits or not, and the VRAM budget.")
    vllm_args: dict[str, Any] = Field(description="Recommended vLLM args, keyed by argparse dest.")
    explanations: dict[str, str] = Field(description="One-line reason per recommended arg.")
    performance: PerformanceReport = Field(description="Approximate speed as ranges.")
    artifacts: Artifacts = Field(description="Ready-to-run text such as the serve command.")
    notes: list[str] = Field(description="Assumptions made while reading the model and GPU.")
    corrections_applied: dict[str, float] | None = Field(
        default=None,
        description="Saved corrections this plan applied (memory bytes, speed factors); a "
        "profile records them as recorded_corrections.",
    )
