"""The planner's input: model, hardware, workload and policy, as one validated object.

Field descriptions double as the CLI's --help text, so each is written for users.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

BatchingMode = Literal["throughput", "latency", "balanced"]
InterconnectChoice = Literal["nvlink", "pcie", "xgmi", "unknown"]

DEFAULT_VLLM_VERSION = "0.33.0"


class PlanRequest(BaseModel):
    """Everything `plan` needs. `None` means "derive it" unless a field says otherwise."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    # Model
    model: str = Field(
        description="Hugging Face id, local folder with config.json, or a config.json path."
    )
    revision: str | None = Field(default=None, description="Hub revision (branch, tag or commit).")
    trust_remote_code: bool = Field(
        default=False, description="Allow configs of custom architectures (never runs model code)."
    )
    tokenizer: str | None = Field(default=None, description="Tokenizer override passed to vLLM.")
    dtype: str = Field(
        default="auto", description="Weights dtype: auto, bf16, fp16, fp32 (or vLLM's names)."
    )
    quantization: str | None = Field(
        default=None, description="Quantization: none, awq, gptq, int8, fp8 (or any vLLM method)."
    )
    kv_cache_dtype: str = Field(
        default="auto", description="KV cache dtype: auto, fp16, bf16, fp8, fp8_e4m3fn, fp8_e5m2."
    )
    max_model_len: int | None = Field(
        default=None, gt=0, description="Context length to plan for [default: derived from memory]."
    )
    allow_long_max_model_len: bool = Field(
        default=False,
        description="Allow --max-model-len above the model's limit (sets VLLM_ALLOW_LONG_MAX_MODEL_LEN=1).",
    )
    params_b: float | None = Field(
        default=None,
        gt=0,
        description="Parameter count in billions, when the config cannot give it.",
    )

    # Hardware
    gpu: str | None = Field(
        default=None,
        description="GPU model ('A100 80GB', 'H100', 'RTX 4090'), a cloud instance type "
        "('p5.48xlarge'), or 'auto' to detect this machine's GPUs.",
    )
    gpus: int = Field(default=1, ge=1, le=4096, description="Total number of GPUs.")
    gpus_per_node: int | None = Field(
        default=None, ge=1, le=64, description="GPUs in one node [default: min(gpus, 8)]."
    )
    vram_gb: float | None = Field(
        default=None,
        gt=0,
        le=4096,
        description="Total memory per GPU in GiB; overrides the catalog.",
    )
    interconnect: InterconnectChoice | None = Field(
        default=None,
        description="GPU link: nvlink, pcie, xgmi, unknown [default: from the catalog].",
    )
    tensor_parallel_size: int | None = Field(
        default=None, ge=1, le=64, description="Tensor parallel size [default: auto]."
    )
    pipeline_parallel_size: int | None = Field(
        default=None,
        ge=1,
        le=64,
        description="Pipeline parallel size [default: 1, more across nodes].",
    )

    # Workload
    prompt_tokens: int = Field(
        default=1024, ge=1, le=10_000_000, description="Typical prompt length."
    )
    gen_tokens: int = Field(
        default=256, ge=1, le=10_000_000, description="Typical generated length."
    )
    concurrency: int = Field(default=1, ge=1, le=1_000_000, description="Simultaneous sequences.")
    target_latency_ms: float | None = Field(
        default=None, gt=0, description="Target time per output token in ms (optional)."
    )
    streaming: bool = Field(default=True, description="Clients stream tokens.")
    batching_mode: BatchingMode = Field(
        default="balanced", description="throughput, latency or balanced."
    )

    # Policy
    gpu_memory_utilization: float | None = Field(
        default=None,
        gt=0,
        le=1,
        description="Fraction of each GPU's memory vLLM may use; 0.50 to 0.98 is the advised "
        "range [default: 0.90; 0.88 on consumer cards, which may drive a display].",
    )
    overhead_gb: float | None = Field(
        default=None,
        ge=0,
        le=1024,
        description="Per-GPU runtime overhead in GiB; replaces the activation+non-torch+graph estimate.",
    )
    fragmentation_factor: float = Field(
        default=1.15, ge=1.0, le=3.0, description="Safety factor on the workload's KV cache."
    )
    headroom_gb: float = Field(
        default=1.0, ge=0, le=1024, description="Minimum spare GiB per replica."
    )

    # vLLM overrides
    vllm_version: str = Field(default=DEFAULT_VLLM_VERSION, description="vLLM release to plan for.")
    max_num_seqs: int | None = Field(
        default=None, ge=1, le=65536, description="Override max_num_seqs."
    )
    max_num_batched_tokens: int | None = Field(
        default=None, ge=1, le=10_000_000, description="Override max_num_batched_tokens."
    )
    block_size: int | None = Field(
        default=None, ge=1, le=4096, description="KV block size in tokens."
    )
    enforce_eager: bool | None = Field(
        default=None, description="Disable CUDA graphs (saves memory)."
    )
    disable_hybrid_kv_cache_manager: bool = Field(
        default=False,
        description="Turn off vLLM's hybrid KV cache manager: sliding-window layers then "
        "reserve blocks for every token, like full attention.",
    )
    enable_prefix_caching: bool | None = Field(
        default=None,
        description="Prefix caching (vLLM default: on). Off keeps one Mamba state per request "
        "instead of two.",
    )
    use_corrections: bool = Field(
        default=True,
        description="Apply corrections saved by `check-log --save` (memory) and `benchmark --save` "
        "(speed) for this GPU, model and release.",
    )
    recorded_corrections: dict[str, float] | None = Field(
        default=None,
        description="Corrections a profile recorded (activation_bytes, non_torch_bytes, "
        "cuda_graph_bytes; ttft, tpot, output_throughput factors). Used instead of the saved "
        "store, so replaying a profile gives the same plan on any machine.",
    )
