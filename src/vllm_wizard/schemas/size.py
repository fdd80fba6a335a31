"""`size`: the search request and its ranked answer, shaped as the JSON of `size --json`.

Names ending in `_gb` are GiB (2**30 bytes); `_ms` milliseconds; `_toks_per_s` tokens per
second; `usd_*` US dollars.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from vllm_wizard.schemas.request import DEFAULT_VLLM_VERSION

SIZE_SCHEMA_VERSION = 1
WeightPrecision = Literal["checkpoint", "fp8", "4bit"]


class SizeRequest(BaseModel):
    """What `size` searches for: a model, one target, optional limits and a GPU shortlist."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    model: str = Field(description="Hugging Face id, local folder or config.json path.")
    revision: str | None = Field(default=None, description="Hub revision.")
    params_b: float | None = Field(
        default=None, gt=0, description="Parameter count in billions, when the config lacks it."
    )
    concurrency: int | None = Field(
        default=None, ge=1, le=1_000_000, description="Target: simultaneous sequences in total."
    )
    target_rps: float | None = Field(
        default=None, gt=0, description="Target: requests per second (of prompt + gen tokens)."
    )
    target_output_tps: float | None = Field(
        default=None, gt=0, description="Target: output tokens per second, all replicas."
    )
    prompt_tokens: int = Field(default=1024, ge=1, le=10_000_000, description="Prompt length.")
    gen_tokens: int = Field(default=256, ge=1, le=10_000_000, description="Generated length.")
    max_model_len: int | None = Field(
        default=None,
        gt=0,
        description="Context to plan for [default: prompt + gen, rounded up to 256].",
    )
    max_ttft_ms: float | None = Field(
        default=None, gt=0, description="Limit: time to first token, ms (high end of the range)."
    )
    max_tpot_ms: float | None = Field(
        default=None, gt=0, description="Limit: time per output token, ms (high end)."
    )
    gpus: list[str] = Field(
        default_factory=list, description="GPU shortlist [default: every priced catalog GPU]."
    )
    prices: dict[str, float] = Field(
        default_factory=dict, description="USD per GPU-hour by GPU name, overriding the catalog."
    )
    max_nodes: int = Field(default=4, ge=1, le=64, description="Most nodes one replica may span.")
    max_gpus: int = Field(default=256, ge=1, le=65536, description="Most GPUs in all.")
    gpu_memory_utilization: float = Field(
        default=0.90, ge=0.05, le=0.99, description="Fraction of each GPU's memory vLLM may use."
    )
    headroom_gb: float = Field(
        default=1.0, ge=0, le=1024, description="Minimum spare GiB per replica."
    )
    fragmentation_factor: float = Field(
        default=1.15, ge=1.0, le=3.0, description="Safety factor on the workload's KV cache."
    )
    vllm_version: str = Field(default=DEFAULT_VLLM_VERSION, description="vLLM release.")
    top: int = Field(default=10, ge=1, le=10_000, description="How many options to return.")


class SizeOption(BaseModel):
    """One hardware + layout answer: per-replica layout, replicas, speed and cost."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    rank: int = Field(description="1-based position, best first.")
    gpu_name: str = Field(description="Catalog GPU name.")
    gpus_per_node: int = Field(description="GPUs in one node of a replica.")
    nodes: int = Field(description="Nodes one replica spans.")
    tensor_parallel_size: int = Field(description="TP size of one replica.")
    pipeline_parallel_size: int = Field(description="PP size of one replica.")
    replicas: int = Field(description="Data-parallel copies that together reach the target.")
    gpus_total: int = Field(description="tensor x pipeline x replicas.")
    weight_precision: WeightPrecision = Field(description="checkpoint, fp8 or 4bit.")
    quantization: str | None = Field(description="vLLM --quantization, null for the checkpoint.")
    needs_quantized_checkpoint: bool = Field(
        description="True when vLLM cannot quantize on load (4-bit AWQ/GPTQ)."
    )
    kv_cache_dtype: str = Field(description="vLLM --kv-cache-dtype.")
    concurrency_per_replica: int = Field(description="Sequences each replica runs at once.")
    max_model_len: int = Field(description="Context each replica is planned for.")
    fits: bool = Field(description="The layout fits in memory with the headroom asked for.")
    headroom_gb: float = Field(description="Spare GiB of one replica at its concurrency.")
    output_toks_per_s: float = Field(description="Low end of the output tok/s range x replicas.")
    ttft_ms: float = Field(description="High end of the TTFT range, ms.")
    tpot_ms: float = Field(description="High end of the time-per-output-token range, ms.")
    usd_per_hour: float | None = Field(description="GPU price x GPUs; null when unpriced.")
    usd_per_million_output_tokens: float | None = Field(
        description="usd_per_hour / output tokens per hour x 10^6, at output_toks_per_s."
    )
    pareto: bool = Field(
        description="No other option is both cheaper per output token and faster per token."
    )
    plan_args: dict[str, Any] = Field(
        description="`plan` options that reproduce one replica (run `replicas` of them)."
    )
    notes: list[str] = Field(default_factory=list, description="What to know about it.")


class SizeSearchStats(BaseModel):
    """How much of the space the search looked at, and why the rest was dropped."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    gpu_types: int = Field(description="GPU types searched.")
    layouts: int = Field(description="GPU x node shape x TP/PP x precision x KV dtype combos.")
    pruned_by_weights: int = Field(description="Dropped before budgeting: weights do not fit.")
    budgeted: int = Field(description="Combos whose memory budget was computed.")
    kept: int = Field(description="Combos that fit, meet the limits and reach the target.")


class SizeResult(BaseModel):
    """The whole answer of `size`: ranked options and what they assume."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    schema_version: int = Field(default=SIZE_SCHEMA_VERSION, description="Version of the shape.")
    model: str = Field(description="Model id as given.")
    target: dict[str, float] = Field(description="The target searched for, by flag name.")
    options: list[SizeOption] = Field(description="Top options, best first.")
    pareto_ranks: list[int] = Field(
        description="Ranks of every Pareto option, including those below the top shown."
    )
    search: SizeSearchStats = Field(description="Size of the search.")
    assumptions: list[str] = Field(description="What the estimates assume.")
    notes: list[str] = Field(description="GPUs skipped and other things to know.")
