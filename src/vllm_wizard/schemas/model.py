"""What the planner needs to know about a model, normalised across config families."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

ModelSource = Literal["catalog", "local", "hf_cache", "hub"]
WeightsSource = Literal["safetensors", "index", "hub_metadata", "config", "params_b"]
AttentionKind = Literal["gqa", "mla"]
StateKind = Literal["mamba2", "gated_delta_net"]


class ModelMetadata(BaseModel):
    """Normalised facts of one model, read from its config.json and weight files.

    Counts are plain integers; `weights_bytes` is bytes. Per-token KV is not stored here
    because it depends on the KV cache dtype and the parallel layout (see core.memory).
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    model_id: str = Field(description="Hub id or local path the user gave.")
    source: ModelSource = Field(description="Where the config came from.")
    architecture: str = Field(description="First entry of config.json 'architectures'.")
    model_type: str = Field(description="config.json 'model_type' (of the text model).")
    num_layers: int = Field(gt=0, description="Decoder layers of the text model.")
    hidden_size: int = Field(gt=0, description="Hidden (model) width.")
    num_attention_heads: int = Field(gt=0, description="Query heads per layer.")
    num_kv_heads: int = Field(gt=0, description="Key/value heads per layer (before TP).")
    head_dim: int = Field(
        gt=0, description="Per-head width of K (and V), from config or hidden/heads."
    )
    intermediate_size: int = Field(ge=0, description="Dense MLP width (0 when every layer is MoE).")
    vocab_size: int = Field(gt=0, description="Vocabulary size (rows of the embedding).")
    max_position_embeddings: int | None = Field(
        default=None, gt=0, description="Longest context the model supports, as vLLM derives it."
    )
    torch_dtype: str = Field(
        description="Checkpoint dtype as vLLM names it: bfloat16, float16, float32."
    )
    quantization: str | None = Field(
        default=None,
        description="vLLM quantization method of the checkpoint, None when unquantized.",
    )
    tie_word_embeddings: bool = Field(default=False, description="lm_head shares the embedding.")

    attention: AttentionKind = Field(default="gqa", description="gqa (incl. MHA/MQA) or mla.")
    kv_layers: int = Field(gt=0, description="Layers that keep a KV cache (attention layers).")
    mla_kv_dim: int | None = Field(
        default=None,
        gt=0,
        description="MLA: kv_lora_rank + qk_rope_head_dim values per token per layer.",
    )
    index_head_dim: int | None = Field(
        default=None,
        gt=0,
        description="Sparse-attention indexer key width (DeepSeek V3.2, GLM-5): an extra "
        "fp8 cache of index_head_dim + index_head_dim / 128 x 4 bytes per token per layer.",
    )
    sliding_window: int | None = Field(
        default=None, gt=0, description="Sliding-window size in tokens."
    )
    sliding_window_layers: int = Field(
        default=0, ge=0, description="How many of kv_layers attend only within the sliding window."
    )
    full_attention_head_dim: int | None = Field(
        default=None,
        gt=0,
        description="Head size of the full-attention layers where it differs (Gemma 4).",
    )
    full_attention_kv_heads: int | None = Field(
        default=None,
        gt=0,
        description="KV heads of the full-attention layers where they differ (Gemma 4).",
    )

    state_kind: StateKind | None = Field(
        default=None,
        description="Mamba2 (Nemotron-H) or Gated DeltaNet (Qwen3-Next / Qwen3.5) layers that "
        "keep a fixed state per request instead of a per-token KV cache.",
    )
    state_layers: int = Field(
        default=0, ge=0, description="How many layers keep a Mamba / linear-attention state."
    )
    state_heads: int = Field(
        default=0, ge=0, description="State heads: mamba_num_heads or linear_num_value_heads."
    )
    state_head_dim: int = Field(
        default=0,
        ge=0,
        description="Width of one state head: mamba_head_dim or linear_value_head_dim.",
    )
    state_size: int = Field(
        default=0, ge=0, description="SSM state width: ssm_state_size or linear_key_head_dim."
    )
    state_groups: int = Field(
        default=0, ge=0, description="B/C groups (n_groups) or linear_num_key_heads."
    )
    state_conv_kernel: int = Field(
        default=0, ge=0, description="Causal-convolution kernel width (conv_kernel)."
    )
    state_ssm_dtype: str | None = Field(
        default=None,
        description="dtype of the SSM state when the config pins it (float32); None: model dtype.",
    )

    num_experts: int = Field(
        default=0, ge=0, description="Routed experts per MoE layer (0: dense)."
    )
    moe_intermediate_size: int = Field(
        default=0, ge=0, description="MLP width of one routed expert (0: dense)."
    )
    quant_group_size: int | None = Field(
        default=None,
        gt=0,
        description="Input channels per quantization group (GPTQ/AWQ group_size); None if none.",
    )
    num_experts_per_token: int = Field(
        default=0, ge=0, description="Routed experts each token uses."
    )

    params_total: int = Field(
        gt=0, description="All parameters vLLM loads (vision tower included)."
    )
    params_active: int = Field(
        gt=0, description="Parameters one token reads (MoE: active experts only)."
    )
    weights_bytes: int | None = Field(
        default=None,
        gt=0,
        description="Exact bytes of the stored checkpoint when known (quantized formats use it).",
    )
    weights_source: WeightsSource = Field(
        description="How params_total / weights_bytes were obtained."
    )
    requires_remote_code: bool = Field(
        default=False,
        description="The config names custom code (auto_map) that vLLM does not ship.",
    )
    notes: list[str] = Field(default_factory=list, description="Assumptions made while reading.")
