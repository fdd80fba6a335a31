"""Read a Hugging Face `config.json` into ModelMetadata, across families' key spellings.

Parameter counts are computed from the architecture (embeddings, attention, MLP or
experts, norms) unless safetensors headers or an index give the exact figure.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, fields, replace
from typing import Any

from pydantic import ValidationError

from vllm_wizard.core.support import needs_remote_code
from vllm_wizard.errors import (
    MissingConfigFieldError,
    UnsupportedModelError,
    UserInputError,
    WizardError,
)
from vllm_wizard.schemas.model import ModelMetadata, ModelSource, WeightsSource

Config = Mapping[str, Any]

# Spellings families use for the same fact, in the order vLLM's config code tries them.
LAYER_KEYS = ("num_hidden_layers", "num_layers", "n_layer", "n_layers")
HIDDEN_KEYS = ("hidden_size", "n_embd", "d_model", "dim")
HEAD_KEYS = ("num_attention_heads", "n_head", "n_heads", "num_heads")
KV_HEAD_KEYS = ("num_key_value_heads", "n_head_kv", "num_kv_heads", "multi_query_group_num")
FFN_KEYS = ("intermediate_size", "ffn_hidden_size", "n_inner", "ffn_dim")
VOCAB_KEYS = ("vocab_size", "padded_vocab_size")
CONTEXT_KEYS = (
    "max_position_embeddings",
    "n_positions",
    "max_seq_len",
    "seq_length",
    "model_max_length",
    "max_sequence_length",
    "n_ctx",
)

# vLLM's context length when config.json names none (_get_and_verify_max_len).
DEFAULT_MAX_LEN = 2048

# Families whose config class ties lm_head to the embedding when the key is absent.
TIED_BY_DEFAULT = {
    "gemma",
    "gemma2",
    "gemma3",
    "gemma3_text",
    "gpt2",
    "falcon",
    "RefinedWeb",
    "RefinedWebModel",
    "mpt",
}
# Families with a non-gated (two-matrix) MLP.
PLAIN_MLP = {
    "gpt2",
    "falcon",
    "RefinedWeb",
    "RefinedWebModel",
    "mpt",
    "gpt_neox",
    "gptj",
    "phi",
    "starcoder2",
    "bloom",
}
# Families with bias on the Q, K and V projections that the config does not mention.
QKV_BIAS = {"qwen2", "qwen2_moe", "qwen2_vl", "qwen2_5_vl", "qwen", "chatglm"}

KNOWN_QUANT_METHODS = {
    "gptq": "gptq",
    "awq": "awq",
    "fp8": "fp8",
    "mxfp4": "mxfp4",
    "bitsandbytes": "bitsandbytes",
    "compressed-tensors": "compressed-tensors",
    "compressed_tensors": "compressed-tensors",
    "modelopt": "modelopt",
    "fbgemm_fp8": "fbgemm_fp8",
    "experts_int8": "experts_int8",
    "quark": "quark",
    "torchao": "torchao",
    "gguf": "gguf",
}
# Bits per parameter of quantized linear layers, scales included (group size 128).
QUANT_LINEAR_BITS = {
    "gptq": 4.25,
    "awq": 4.25,
    "bitsandbytes": 4.5,
    "fp8": 8.0,
    "fbgemm_fp8": 8.0,
    "modelopt": 8.0,
    "modelopt_fp4": 4.5,
    "mxfp4": 4.25,
    "compressed-tensors": 8.0,
    "experts_int8": 8.0,
}
DTYPE_NAMES = {
    "bfloat16": "bfloat16",
    "bf16": "bfloat16",
    "float16": "float16",
    "fp16": "float16",
    "half": "float16",
    "float32": "float32",
    "fp32": "float32",
    "float": "float32",
}


@dataclass(frozen=True)
class SafetensorsSummary:
    """What weight files say: total stored bytes and, when headers were read, params."""

    total_bytes: int
    params_total: int | None
    source: WeightsSource


@dataclass(frozen=True)
class _Shape:
    layers: int
    hidden: int
    heads: int
    kv_heads: int
    head_dim: int
    ffn: int
    vocab: int


def parse_model_config(
    config: Config,
    *,
    model_id: str,
    source: ModelSource,
    safetensors: SafetensorsSummary | None = None,
    params_b: float | None = None,
    extra_files: Mapping[str, Config] | None = None,
) -> ModelMetadata:
    """Normalise one config.json (plus sidecar files) into ModelMetadata.

    A field of the wrong type or an impossible value raises UserInputError, never a bare
    TypeError: configs come from anywhere.
    """
    try:
        return _parse_model_config(
            config,
            model_id=model_id,
            source=source,
            safetensors=safetensors,
            params_b=params_b,
            extra_files=extra_files,
        )
    except WizardError:
        raise
    except (TypeError, ValueError, KeyError, AttributeError, ArithmeticError) as exc:
        raise UserInputError(
            f"config.json of {model_id} has a field of the wrong type or an impossible value "
            f"({_short_reason(exc)}); compare it with the model's original config.json.",
            field="model",
        ) from None


def _short_reason(exc: Exception) -> str:
    """One line saying what went wrong, without pydantic's multi-line report."""
    if isinstance(exc, ValidationError):
        first = exc.errors()[0]
        where = ".".join(str(part) for part in first["loc"])
        return f"{where}: {first['msg']}"
    return f"{type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}"


def _parse_model_config(
    config: Config,
    *,
    model_id: str,
    source: ModelSource,
    safetensors: SafetensorsSummary | None,
    params_b: float | None,
    extra_files: Mapping[str, Config] | None,
) -> ModelMetadata:
    outer = config
    text = _text_config(config)
    notes: list[str] = []
    model_type = str(text.get("model_type") or outer.get("model_type") or "unknown")
    architecture = _architecture(outer, text)

    shape = _read_shape(text, model_type, notes)
    attention, mla_kv_dim = _attention_kind(text)
    kv_layers = _kv_layers(text, shape.layers)
    window, window_layers = _sliding_window(text, kv_layers)
    experts, experts_per_token = _experts(text)
    quantization = _quantization(outer, text, extra_files or {})
    qcfg = _quant_config(outer, text, extra_files or {})
    tied = _tied(outer, text, model_type)

    parts = parameter_breakdown(text, shape, model_type, tied)
    vision = vision_params(outer)
    if vision:
        parts = replace(parts, vision=vision)
    elif architecture.endswith("ForConditionalGeneration"):
        notes.append("No vision_config in config.json: the vision tower is not counted.")
    total, active = parts.total, parts.active
    mtp = _mtp_params(text, shape, model_type, tied)
    weights_bytes: int | None = None
    weights_source: WeightsSource = "config"
    if safetensors is not None:
        weights_source = safetensors.source
        weights_bytes = safetensors.total_bytes
        stored: int | None = safetensors.params_total
        if stored is None and quantization is None:
            stored = int(safetensors.total_bytes / _dtype_bytes(_torch_dtype(outer, text)))
        if stored is not None:
            skipped = _not_loaded(stored, total, shape, tied, mtp, notes)
            if skipped and weights_bytes is not None:
                weights_bytes -= int(weights_bytes * skipped / stored)
            stored -= skipped
        exact = quantization is None or safetensors.params_total is not None
        if stored is not None and exact:
            active, total = _scale(active, stored, total), stored
    if params_b is not None:
        stated = int(params_b * 1e9)
        active, total = _scale(active, stated, total), stated
        weights_source = "params_b"
        weights_bytes = None if quantization is None else weights_bytes
        notes.append(f"Parameter count taken from --params-b {params_b:g}.")
    if quantization is not None and weights_bytes is None:
        scaled = _scale_parts(parts, total)
        weights_bytes = estimate_quantized_bytes(scaled, quantization, qcfg)
        notes.append(
            f"{quantization} checkpoint: weight bytes estimated at "
            f"{quantized_bits(quantization, qcfg):g} bits per quantized parameter."
        )
    if quantization == "bitsandbytes":
        notes.append(
            "bitsandbytes checkpoints are not served by vLLM 0.33 (removed from its "
            "quantization methods); use an AWQ, GPTQ or FP8 variant."
        )
    num_kv_heads, head_dim = shape.kv_heads, shape.head_dim
    if attention == "mla" and mla_kv_dim is not None:
        num_kv_heads, head_dim = 1, mla_kv_dim  # vLLM: one latent "head", not split by TP.

    return ModelMetadata(
        model_id=model_id,
        source=source,
        architecture=architecture,
        model_type=model_type,
        num_layers=shape.layers,
        hidden_size=shape.hidden,
        num_attention_heads=shape.heads,
        num_kv_heads=num_kv_heads,
        head_dim=head_dim,
        intermediate_size=shape.ffn,
        vocab_size=shape.vocab,
        max_position_embeddings=_context_length(text, outer, notes),
        torch_dtype=_torch_dtype(outer, text),
        quantization=quantization,
        tie_word_embeddings=tied,
        attention=attention,
        kv_layers=kv_layers,
        mla_kv_dim=mla_kv_dim,
        index_head_dim=_index_head_dim(text),
        sliding_window=window,
        sliding_window_layers=window_layers,
        full_attention_head_dim=_full_attention_int(text, "global_head_dim"),
        full_attention_kv_heads=_full_attention_int(text, "num_global_key_value_heads"),
        **_state_fields(text, shape.layers, kv_layers),
        num_experts=experts,
        num_experts_per_token=experts_per_token,
        moe_intermediate_size=(_moe_width(text) or shape.ffn) if experts else 0,
        quant_group_size=_quant_group_size(outer, text, extra_files or {})
        if quantization
        else None,
        params_total=total,
        params_active=min(active, total),
        weights_bytes=weights_bytes,
        weights_source=weights_source,
        requires_remote_code=needs_remote_code(
            "auto_map" in outer, str(outer.get("model_type") or model_type)
        ),
        notes=notes,
    )


def _text_config(config: Config) -> Config:
    """The language model's part: nested `text_config` / `llm_config` when present."""
    for key in ("text_config", "llm_config", "language_config"):
        nested = config.get(key)
        if isinstance(nested, Mapping) and any(k in nested for k in HIDDEN_KEYS):
            return nested
    return config


def _architecture(outer: Config, text: Config) -> str:
    for cfg in (outer, text):
        archs = cfg.get("architectures")
        if isinstance(archs, list) and archs:
            return str(archs[0])
    return str(outer.get("model_type") or "unknown")


def _first(cfg: Config, keys: tuple[str, ...]) -> Any:
    for key in keys:
        value = cfg.get(key)
        if value is not None:
            return value
    return None


def _required_int(cfg: Config, keys: tuple[str, ...], what: str) -> int:
    value = _first(cfg, keys)
    if value is None:
        raise MissingConfigFieldError(
            f"config.json has no {what} (looked for {', '.join(keys)}); add one of these keys "
            "or pass a complete config.json.",
            field=keys[0],
        )
    if isinstance(value, bool) or not isinstance(value, (int, float)) or value <= 0:
        raise MissingConfigFieldError(
            f"config.json {what} is {value!r}; expected a positive integer.", field=keys[0]
        )
    return int(value)


def _read_shape(text: Config, model_type: str, notes: list[str]) -> _Shape:
    layers = _required_int(text, LAYER_KEYS, "layer count")
    hidden = _required_int(text, HIDDEN_KEYS, "hidden size")
    heads = _required_int(text, HEAD_KEYS, "attention head count")
    kv_heads = _kv_heads(text, heads, notes)
    head_dim = _head_dim(text, hidden, heads)
    vocab = _required_int(text, VOCAB_KEYS, "vocabulary size")
    ffn = _ffn_width(text, hidden, model_type)
    if heads % kv_heads:
        raise UnsupportedModelError(
            f"config.json has {heads} attention heads and {kv_heads} KV heads, which do not "
            "divide; check num_key_value_heads.",
            field="num_key_value_heads",
        )
    return _Shape(layers, hidden, heads, kv_heads, head_dim, ffn, vocab)


def _kv_heads(text: Config, heads: int, notes: list[str]) -> int:
    if text.get("multi_query") is True and text.get("n_head_kv") is None:
        return 1
    value = _first(text, KV_HEAD_KEYS)
    blocks = text.get("block_configs")
    if value is None and isinstance(blocks, list):
        groups = [
            int(b["attention"]["n_heads_in_group"])
            for b in blocks
            if isinstance(b.get("attention"), Mapping) and b["attention"].get("n_heads_in_group")
        ]
        if groups:
            return heads // min(groups)
    if value is None:
        attn = text.get("attn_config")
        if isinstance(attn, Mapping) and attn.get("kv_n_heads"):
            return int(attn["kv_n_heads"])
        notes.append("No KV-head count in config.json: multi-head attention assumed.")
        return heads
    return int(value)


def _head_dim(text: Config, hidden: int, heads: int) -> int:
    value = _first(text, ("head_dim", "attention_head_dim", "kv_channels"))
    if isinstance(value, int) and value > 0:
        return value
    return hidden // heads


def _ffn_width(text: Config, hidden: int, model_type: str) -> int:
    value = _first(text, FFN_KEYS)
    if value is None and text.get("expansion_ratio"):
        return int(hidden * float(text["expansion_ratio"]))
    if value is None:
        return 4 * hidden
    width = int(value)
    if model_type == "qwen":
        width //= 2  # Qwen1 stores twice the per-projection width.
    return width


def _attention_kind(text: Config) -> tuple[Any, int | None]:
    rank = text.get("kv_lora_rank")
    if isinstance(rank, int) and rank > 0:
        return "mla", rank + int(text.get("qk_rope_head_dim") or 0)
    return "gqa", None


def _kv_layers(text: Config, layers: int) -> int:
    """Layers that keep a KV cache; linear-attention, Mamba and no-op layers do not."""
    layer_types = _own_kv_layer_types(text)
    if layer_types:
        attn = [t for t in layer_types if "attention" in str(t) and "linear" not in str(t)]
        return max(1, len(attn))
    pattern = text.get("hybrid_override_pattern")
    if isinstance(pattern, str) and pattern:
        return max(1, pattern.count("*"))
    interval = text.get("full_attention_interval")
    if isinstance(interval, int) and interval > 1:
        return max(1, layers // interval)
    blocks = text.get("block_configs")
    if isinstance(blocks, list) and blocks:
        kept = [b for b in blocks if not (b.get("attention") or {}).get("no_op")]
        return max(1, len(kept))
    return layers


def _own_kv_layer_types(text: Config) -> list[Any]:
    """layer_types of the layers that own a KV cache: Gemma 4's last num_kv_shared_layers
    reuse an earlier layer's cache and hold none."""
    layer_types = text.get("layer_types")
    if not isinstance(layer_types, list):
        return []
    shared = text.get("num_kv_shared_layers")
    if isinstance(shared, int) and 0 < shared < len(layer_types):
        return layer_types[: len(layer_types) - shared]
    return layer_types


def _sliding_window(text: Config, kv_layers: int) -> tuple[int | None, int]:
    window = text.get("sliding_window")
    if not isinstance(window, int) or window <= 0 or text.get("use_sliding_window") is False:
        return None, 0
    layer_types = _own_kv_layer_types(text)
    if layer_types:
        return window, sum(1 for t in layer_types if "sliding" in str(t))
    pattern = text.get("sliding_window_pattern")
    if isinstance(pattern, int) and pattern > 1:
        return window, kv_layers - kv_layers // pattern
    return window, kv_layers


def _state_fields(text: Config, layers: int, kv_layers: int) -> dict[str, Any]:
    """Mamba2 / Gated DeltaNet state dimensions (VLLM-NOTES 2.4); empty for attention-only."""
    if isinstance(text.get("linear_num_value_heads"), int):
        kind = "gated_delta_net"
        dims = (
            text["linear_num_value_heads"],
            text.get("linear_value_head_dim"),
            text.get("linear_key_head_dim"),
            text.get("linear_num_key_heads"),
            text.get("linear_conv_kernel_dim"),
        )
    elif isinstance(text.get("mamba_num_heads"), int):
        kind = "mamba2"
        dims = (
            text["mamba_num_heads"],
            text.get("mamba_head_dim"),
            text.get("ssm_state_size"),
            text.get("n_groups") or 1,
            text.get("conv_kernel"),
        )
    else:
        return {}
    count = _state_layer_count(text, layers, kv_layers)
    if count <= 0 or not all(isinstance(d, int) and d > 0 for d in dims):
        return {}
    ssm_dtype = _first(text, ("mamba_ssm_dtype", "mamba_ssm_cache_dtype"))
    if ssm_dtype is None and text.get("model_type") == "nemotron_h":
        ssm_dtype = "float32"  # vLLM's NemotronH config hook defaults the SSM cache to fp32
    return {
        "state_kind": kind,
        "state_layers": count,
        "state_heads": dims[0],
        "state_head_dim": dims[1],
        "state_size": dims[2],
        "state_groups": dims[3],
        "state_conv_kernel": dims[4],
        "state_ssm_dtype": DTYPE_NAMES.get(str(ssm_dtype).lower()) if ssm_dtype else None,
    }


def _state_layer_count(text: Config, layers: int, kv_layers: int) -> int:
    """Layers holding a Mamba / linear-attention state: 'M' in the hybrid pattern, else the rest."""
    pattern = text.get("hybrid_override_pattern")
    if isinstance(pattern, str) and pattern:
        return pattern.count("M")
    layer_types = text.get("layer_types")
    if isinstance(layer_types, list) and layer_types:
        return sum(1 for t in layer_types if "linear" in str(t) or "mamba" in str(t))
    return layers - kv_layers


def _full_attention_int(text: Config, key: str) -> int | None:
    """A full-attention-only shape value (Gemma 4's global_* keys), when layer_types split."""
    value = text.get(key)
    if not isinstance(value, int) or value <= 0 or not isinstance(text.get("layer_types"), list):
        return None
    return value


def _experts(text: Config) -> tuple[int, int]:
    count = _first(
        text, ("num_local_experts", "num_experts", "n_routed_experts", "moe_num_experts")
    )
    per_token = _first(
        text,
        (
            "num_experts_per_tok",
            "experts_per_token",
            "top_k_experts",
            "moe_top_k",
            "top_k",
        ),
    )
    if not isinstance(count, int) or count <= 1:
        return 0, 0
    return count, int(per_token) if isinstance(per_token, int) else 1


def _tied(outer: Config, text: Config, model_type: str) -> bool:
    for cfg in (text, outer):
        value = cfg.get("tie_word_embeddings")
        if isinstance(value, bool):
            return value
    return model_type in TIED_BY_DEFAULT


def _torch_dtype(outer: Config, text: Config) -> str:
    value = _first(outer, ("torch_dtype", "dtype")) or _first(text, ("torch_dtype", "dtype"))
    return DTYPE_NAMES.get(str(value).lower(), "bfloat16") if value else "bfloat16"


def _dtype_bytes(dtype: str) -> int:
    return 4 if dtype == "float32" else 2


def _context_length(text: Config, outer: Config, notes: list[str]) -> int | None:
    value = _first(text, CONTEXT_KEYS) or _first(outer, CONTEXT_KEYS)
    if isinstance(value, (int, float)) and 0 < value < 1e12:
        return int(value)
    notes.append(f"config.json states no context length: vLLM assumes {DEFAULT_MAX_LEN} tokens.")
    return DEFAULT_MAX_LEN


def _index_head_dim(text: Config) -> int | None:
    """Width of the sparse-attention indexer's key cache (DeepSeek V3.2, GLM-5), if any."""
    value = text.get("index_head_dim")
    if isinstance(value, int) and value > 0 and isinstance(text.get("index_topk"), int):
        return value
    return None


def _mtp_params(text: Config, shape: _Shape, model_type: str, tied: bool) -> int:
    """Multi-token-prediction layers a checkpoint stores but vLLM skips unless speculating."""
    count = _first(text, ("num_nextn_predict_layers", "mtp_num_hidden_layers"))
    if not isinstance(count, int) or count <= 0:
        return 0
    per_layer = parameter_breakdown(text, shape, model_type, tied)
    layer = (per_layer.total - per_layer.embeddings) // shape.layers
    return count * (layer + 2 * shape.hidden * shape.hidden + 3 * shape.hidden)


def _not_loaded(
    stored: int, computed: int, shape: _Shape, tied: bool, mtp: int, notes: list[str]
) -> int:
    """Stored parameters vLLM does not load: MTP layers, a second copy of a tied embedding."""
    extra = stored - computed
    embed = shape.vocab * shape.hidden
    if tied and abs(extra - embed) < 0.02 * embed:
        notes.append("The weight index stores the tied embedding twice; counted once.")
        return embed
    if mtp and abs(extra - mtp) < 0.25 * mtp:
        notes.append("Multi-token-prediction layers in the checkpoint are not loaded by default.")
        return extra
    return 0


def _scale_parts(parts: ParamBreakdown, total: int) -> ParamBreakdown:
    """The breakdown scaled so its total matches an exact count."""
    if parts.total == total or parts.total == 0:
        return parts
    ratio = total / parts.total
    return ParamBreakdown(*(int(getattr(parts, f.name) * ratio) for f in fields(ParamBreakdown)))


def _quant_config(outer: Config, text: Config, extra: Mapping[str, Config]) -> Config:
    """The quantization settings mapping, wherever the checkpoint keeps it."""
    for cfg in (outer, text):
        for key in ("quantization_config", "compression_config"):
            value = cfg.get(key)
            if isinstance(value, Mapping):
                return value
    sidecar = extra.get("hf_quant_config.json", {}).get("quantization")
    if isinstance(sidecar, Mapping):
        return sidecar
    return extra.get("quantize_config.json", {})


def _quantization(outer: Config, text: Config, extra: Mapping[str, Config]) -> str | None:
    """The checkpoint's quantization method as vLLM names it, or None."""
    qcfg = _quant_config(outer, text, extra)
    if "quantize_config.json" in extra and not qcfg.get("quant_method"):
        return "gptq"
    method = str(qcfg.get("quant_method") or "").lower()
    algo = str(qcfg.get("quant_algo") or "").upper()
    producer = (
        str((qcfg.get("producer") or {}).get("name", "")).lower()
        if isinstance(qcfg.get("producer"), Mapping)
        else str(qcfg.get("producer") or "").lower()
    )
    if method in ("modelopt", "") and ("NVFP4" in algo or "FP4" in algo):
        return "modelopt_fp4"
    if method == "modelopt" or (not method and (algo or producer == "modelopt")):
        return "modelopt"
    if not method:
        return None
    return KNOWN_QUANT_METHODS.get(method, method)


def _quant_group_size(outer: Config, text: Config, extra: Mapping[str, Config]) -> int | None:
    """group_size of a grouped (GPTQ/AWQ-style) checkpoint; None when per-channel or unknown."""
    qcfg = outer.get("quantization_config") or text.get("quantization_config")
    if not isinstance(qcfg, Mapping):
        qcfg = extra.get("quantize_config.json") or {}
    value = qcfg.get("group_size", qcfg.get("q_group_size"))
    return value if isinstance(value, int) and value > 0 else None


def _moe_width(text: Config) -> int:
    value = _first(text, ("moe_intermediate_size", "expert_intermediate_size"))
    return int(value) if isinstance(value, (int, float)) and value > 0 else 0


@dataclass(frozen=True)
class ParamBreakdown:
    """Parameters by kind; `quantizable` is what a low-bit format stores packed."""

    embeddings: int
    attention: int
    dense_mlp: int
    routed_experts: int
    routed_active: int
    shared_experts: int
    other: int
    vision: int = 0

    @property
    def total(self) -> int:
        return (
            self.embeddings
            + self.attention
            + self.dense_mlp
            + self.routed_experts
            + self.shared_experts
            + self.other
            + self.vision
        )

    @property
    def active(self) -> int:
        return self.total - self.routed_experts + self.routed_active


def count_parameters(text: Config, shape: _Shape, model_type: str, tied: bool) -> tuple[int, int]:
    """(total, active-per-token) parameters of the text model from its architecture."""
    parts = parameter_breakdown(text, shape, model_type, tied)
    return parts.total, parts.active


def parameter_breakdown(text: Config, shape: _Shape, model_type: str, tied: bool) -> ParamBreakdown:
    """Parameters of the text model by kind, following the family's layer layout."""
    embed = shape.vocab * shape.hidden * (1 if tied else 2)
    if isinstance(text.get("block_configs"), list):
        return _nas_breakdown(text, shape, embed)
    if isinstance(text.get("hybrid_override_pattern"), str):
        return _hybrid_pattern_breakdown(text, shape, model_type, embed)

    attn = _attention_params(text, shape, model_type)
    attn_total = _all_attention_params(text, shape, model_type, attn)
    dense_mlp = _mlp_params(shape.hidden, shape.ffn, model_type)
    norms = 2 * shape.hidden

    experts, per_token = _experts(text)
    moe_layers = _moe_layer_count(text, shape.layers) if experts else 0
    dense_layers = shape.layers - moe_layers
    if text.get("enable_moe_block") is True:
        dense_layers = shape.layers  # Gemma 4: a dense MLP beside the experts in every layer.
    moe_width = int(
        _first(text, ("moe_intermediate_size", "expert_intermediate_size")) or shape.ffn
    )
    if model_type == "llama4_text":
        dense_mlp = _mlp_params(
            shape.hidden, int(text.get("intermediate_size_mlp") or shape.ffn), model_type
        )
    expert = _mlp_params(shape.hidden, moe_width, model_type)
    shared = _shared_expert_params(text, shape.hidden, moe_width, model_type)
    router = shape.hidden * experts
    return ParamBreakdown(
        embeddings=embed,
        attention=attn_total,
        dense_mlp=dense_layers * dense_mlp,
        routed_experts=moe_layers * experts * expert,
        routed_active=moe_layers * per_token * expert,
        shared_experts=moe_layers * shared,
        other=shape.hidden + shape.layers * norms + moe_layers * router,
    )


def _all_attention_params(text: Config, shape: _Shape, model_type: str, full: int) -> int:
    """Attention mixers over all layers: full attention, or linear attention where hybrid."""
    global_dim = text.get("global_head_dim")
    if isinstance(global_dim, int) and isinstance(text.get("layer_types"), list):
        full_layers = sum(1 for t in text["layer_types"] if t == "full_attention")
        kv = int(text.get("num_global_key_value_heads") or shape.kv_heads)
        q_out = shape.heads * global_dim
        kv_mats = 1 if text.get("attention_k_eq_v") else 2  # Gemma 4: K doubles as V.
        per_global = 2 * shape.hidden * q_out + kv_mats * shape.hidden * kv * global_dim
        return (shape.layers - full_layers) * full + full_layers * per_global
    linear_layers = shape.layers - _kv_layers(text, shape.layers)
    if linear_layers <= 0 or not text.get("linear_num_value_heads"):
        return shape.layers * full
    if text.get("attn_output_gate") is True or text.get("model_type") == "qwen3_next":
        full += shape.hidden * shape.heads * shape.head_dim  # Gated query projection.
    return (shape.layers - linear_layers) * full + linear_layers * _gated_delta_params(text, shape)


def _gated_delta_params(text: Config, shape: _Shape) -> int:
    """One Gated-DeltaNet layer (Qwen3-Next, Qwen3.5): projections, conv, gates, norm."""
    k_heads = int(text.get("linear_num_key_heads") or 0)
    v_heads = int(text.get("linear_num_value_heads") or 0)
    k_dim = int(text.get("linear_key_head_dim") or 0)
    v_dim = int(text.get("linear_value_head_dim") or 0)
    kernel = int(text.get("linear_conv_kernel_dim") or 4)
    key, value = k_heads * k_dim, v_heads * v_dim
    in_proj = shape.hidden * (2 * key + 2 * value + 2 * v_heads)
    conv = (2 * key + value) * kernel
    return in_proj + conv + 2 * v_heads + v_dim + value * shape.hidden


def _nas_breakdown(text: Config, shape: _Shape, embed: int) -> ParamBreakdown:
    """Nemotron-NAS (DeciLM): each layer's attention and FFN come from its block_configs."""
    h = shape.hidden
    attention = mlp = norms = 0
    for block in text["block_configs"]:
        attn = block.get("attention") or {}
        ffn = block.get("ffn") or {}
        if attn.get("replace_with_linear"):
            attention += h * h
        elif not attn.get("no_op"):
            kv = shape.heads // int(attn.get("n_heads_in_group") or 1)
            attention += 2 * h * shape.heads * shape.head_dim + 2 * h * kv * shape.head_dim
            norms += h
        if ffn.get("replace_with_linear"):
            mlp += h * h
        elif not ffn.get("no_op"):
            mlp += 3 * h * _nas_ffn_width(float(ffn.get("ffn_mult") or 0), h)
            norms += h
    return ParamBreakdown(embed, attention, mlp, 0, 0, 0, norms + h)


def _nas_ffn_width(ffn_mult: float, hidden: int) -> int:
    """DeciLM's FFN width: 2/3 x ffn_mult x hidden, rounded up to a multiple of 256."""
    width = int(2 * ffn_mult * hidden / 3)
    return -(-width // 256) * 256


def _hybrid_pattern_breakdown(
    text: Config, shape: _Shape, model_type: str, embed: int
) -> ParamBreakdown:
    """Nemotron-H: one mixer per layer, `M` Mamba2, `*` attention, `-` MLP, `E` MoE."""
    h = shape.hidden
    pattern = str(text["hybrid_override_pattern"])
    counts = {kind: pattern.count(kind) for kind in "M*-E"}
    attn = _attention_params(text, shape, model_type)
    mlp = 2 * h * shape.ffn  # relu2: up and down only.
    experts, per_token = _experts(text)
    moe_width = int(text.get("moe_intermediate_size") or shape.ffn)
    latent = int(text.get("moe_latent_size") or 0)
    expert_in = latent or h
    expert = 2 * expert_in * moe_width
    shared_width = int(text.get("moe_shared_expert_intermediate_size") or 0)
    per_moe_other = h * experts + experts + (2 * h * latent if latent else 0)
    return ParamBreakdown(
        embeddings=embed,
        attention=counts["*"] * attn + counts["M"] * _mamba2_params(text, h),
        dense_mlp=counts["-"] * mlp,
        routed_experts=counts["E"] * experts * expert,
        routed_active=counts["E"] * per_token * expert,
        shared_experts=counts["E"] * 2 * h * shared_width,
        other=h + len(pattern) * h + counts["E"] * per_moe_other,
    )


def _mamba2_params(text: Config, hidden: int) -> int:
    """One Mamba2 mixer: in_proj (z, x, B, C, dt), conv1d, A/D/dt_bias, gated norm, out_proj."""
    heads = int(text.get("mamba_num_heads") or 0)
    head_dim = int(text.get("mamba_head_dim") or 0)
    inner = heads * head_dim or int(text.get("expand") or 2) * hidden
    groups = int(text.get("n_groups") or 1)
    state = int(text.get("ssm_state_size") or 128)
    kernel = int(text.get("conv_kernel") or 4)
    conv_dim = inner + 2 * groups * state
    in_proj = hidden * (inner + conv_dim + heads)
    conv = conv_dim * kernel + (conv_dim if text.get("use_conv_bias", True) else 0)
    return in_proj + conv + 3 * heads + inner + inner * hidden


def _attention_params(text: Config, shape: _Shape, model_type: str) -> int:
    h = shape.hidden
    if isinstance(text.get("kv_lora_rank"), int):
        return _mla_params(text, shape)
    q_out = shape.heads * shape.head_dim
    kv_out = shape.kv_heads * shape.head_dim
    params = h * q_out + 2 * h * kv_out + q_out * h
    if model_type in QKV_BIAS or text.get("attention_bias") is True or text.get("bias") is True:
        params += q_out + 2 * kv_out
    return params


def _mla_params(text: Config, shape: _Shape) -> int:
    h, heads = shape.hidden, shape.heads
    rope = int(text.get("qk_rope_head_dim") or 0)
    nope = int(text.get("qk_nope_head_dim") or 0)
    v_dim = int(text.get("v_head_dim") or nope)
    kv_rank = int(text["kv_lora_rank"])
    q_rank = text.get("q_lora_rank")
    if isinstance(q_rank, int) and q_rank > 0:
        q = h * q_rank + q_rank + q_rank * heads * (nope + rope)
    else:
        q = h * heads * (nope + rope)
    kv = h * (kv_rank + rope) + kv_rank + kv_rank * heads * (nope + v_dim)
    return q + kv + heads * v_dim * h


def _mlp_params(hidden: int, width: int, model_type: str) -> int:
    matrices = 2 if model_type in PLAIN_MLP else 3
    return matrices * hidden * width


def _moe_layer_count(text: Config, layers: int) -> int:
    first_dense = int(text.get("first_k_dense_replace") or 0)
    step = int(text.get("decoder_sparse_step") or text.get("interleave_moe_layer_step") or 1)
    dense_only = text.get("mlp_only_layers") or []
    moe = [
        i for i in range(first_dense, layers) if (i + 1) % max(step, 1) == 0 and i not in dense_only
    ]
    return len(moe)


def _shared_expert_params(text: Config, hidden: int, moe_width: int, model_type: str) -> int:
    shared_width = text.get("shared_expert_intermediate_size")
    if isinstance(shared_width, int) and shared_width > 0:
        return _mlp_params(hidden, shared_width, model_type) + hidden
    if model_type == "llama4_text":
        return _mlp_params(hidden, moe_width, model_type)
    n_shared = text.get("n_shared_experts")
    if isinstance(n_shared, int) and n_shared > 0:
        return _mlp_params(hidden, moe_width * n_shared, model_type)
    return 0


def estimate_quantized_bytes(parts: ParamBreakdown, method: str, qcfg: Config) -> int:
    """Stored bytes of a quantized checkpoint.

    Packed low-bit weights (with their per-group scales) for the layers the format
    quantizes; embeddings, lm_head, norms, routers, vision and skipped modules at 16 bits.
    """
    skipped = " ".join(
        str(x) for x in (qcfg.get("ignore") or qcfg.get("modules_to_not_convert") or [])
    )
    quantized = parts.routed_experts
    if method != "mxfp4":  # gpt-oss: only the experts are MXFP4.
        if "attn" not in skipped:
            quantized += parts.attention
        if "shared_expert" not in skipped:
            quantized += parts.shared_experts
        if "mlp" not in skipped:
            quantized += parts.dense_mlp
    bits = quantized_bits(method, qcfg)
    return int(quantized * bits / 8 + (parts.total - quantized) * 2)


def quantized_bits(method: str, qcfg: Config) -> float:
    """Bits per quantized parameter, scales and zeros included."""
    groups = qcfg.get("config_groups")
    if isinstance(groups, Mapping) and groups:
        group = next(iter(groups.values()))
        weights = group.get("weights") if isinstance(group, Mapping) else None
        if isinstance(weights, Mapping) and isinstance(weights.get("num_bits"), int):
            size = weights.get("group_size")
            scale_bits = 8 if weights.get("type") == "float" else 16  # fp4 formats: fp8 scales
            scale = scale_bits / size if isinstance(size, int) and size > 0 else 0.0
            zero = 0.0 if weights.get("symmetric", True) else weights["num_bits"] / (size or 1)
            return float(weights["num_bits"]) + scale + zero
    bits = qcfg.get("bits")
    size = qcfg.get("group_size")
    if isinstance(bits, int) and method in ("gptq", "awq"):
        per_group = 16 + bits if isinstance(size, int) and size > 0 else 0
        return bits + (per_group / size if isinstance(size, int) and size > 0 else 0.0)
    return QUANT_LINEAR_BITS.get(method, 8.0)


def vision_params(outer: Config) -> int:
    """Parameters of a multimodal model's vision tower and projector (0 when text-only)."""
    vision = outer.get("vision_config")
    if not isinstance(vision, Mapping):
        return 0
    depth = _first(vision, ("depth", "num_hidden_layers", "vt_num_hidden_layers"))
    width = _first(vision, ("hidden_size", "vt_hidden_size", "embed_dim", "mm_hidden_size"))
    ffn = _first(vision, ("intermediate_size", "vt_intermediate_size"))
    if not isinstance(depth, int) or not isinstance(width, int):
        return 0
    depth += int(vision.get("num_global_layers") or 0)
    ffn = int(ffn) if isinstance(ffn, int) else 4 * width
    gated = str(vision.get("hidden_act", "")) == "silu"
    layer = 4 * width * width + (3 if gated else 2) * width * ffn + 4 * width + 2 * ffn
    patch = int(vision.get("patch_size") or 14)
    channels = int(_first(vision, ("in_chans", "in_channels", "num_channels")) or 3)
    temporal = int(vision.get("temporal_patch_size") or 1)
    patch_embed = channels * temporal * patch * patch * width
    out = _first(vision, ("out_hidden_size", "text_hidden_size"))
    projector = 0
    if isinstance(out, int):
        merged = width * int(vision.get("spatial_merge_size") or 2) ** 2
        projector = merged * merged + merged * out
    elif isinstance(vision.get("vision_output_dim"), int):
        text = _text_config(outer)
        projector = int(vision["vision_output_dim"]) * int(_first(text, HIDDEN_KEYS) or 0)
    return depth * layer + patch_embed + projector


def _scale(value: int, new_total: int, old_total: int) -> int:
    return max(1, round(value * new_total / old_total)) if old_total else value
