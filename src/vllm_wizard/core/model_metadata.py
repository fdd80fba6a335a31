"""Read a Hugging Face `config.json` into ModelMetadata, across families' key spellings.

Parameter counts are computed from the architecture (embeddings, attention, MLP or
experts, norms) unless safetensors headers or an index give the exact figure.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from pydantic import ValidationError

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
    tied = _tied(outer, text, model_type)

    total, active = count_parameters(text, shape, model_type, tied)
    weights_bytes: int | None = None
    weights_source: WeightsSource = "config"
    if safetensors is not None:
        weights_source = safetensors.source
        weights_bytes = safetensors.total_bytes
        if safetensors.params_total is not None and quantization is None:
            active = _scale(active, safetensors.params_total, total)
            total = safetensors.params_total
        elif quantization is None:
            bytes_per_param = _dtype_bytes(_torch_dtype(outer, text))
            stored = int(safetensors.total_bytes / bytes_per_param)
            active, total = _scale(active, stored, total), stored
    if params_b is not None:
        stated = int(params_b * 1e9)
        active, total = _scale(active, stated, total), stated
        weights_source = "params_b"
        weights_bytes = None if quantization is None else weights_bytes
        notes.append(f"Parameter count taken from --params-b {params_b:g}.")
    if quantization is not None and weights_bytes is None:
        weights_bytes = estimate_quantized_bytes(total, shape, tied, quantization)
        notes.append(
            f"{quantization} checkpoint: weight bytes estimated at "
            f"{QUANT_LINEAR_BITS.get(quantization, 8.0):g} bits per linear parameter."
        )

    return ModelMetadata(
        model_id=model_id,
        source=source,
        architecture=architecture,
        model_type=model_type,
        num_layers=shape.layers,
        hidden_size=shape.hidden,
        num_attention_heads=shape.heads,
        num_kv_heads=shape.kv_heads,
        head_dim=shape.head_dim,
        intermediate_size=shape.ffn,
        vocab_size=shape.vocab,
        max_position_embeddings=_context_length(text, outer),
        torch_dtype=_torch_dtype(outer, text),
        quantization=quantization,
        tie_word_embeddings=tied,
        attention=attention,
        kv_layers=kv_layers,
        mla_kv_dim=mla_kv_dim,
        sliding_window=window,
        sliding_window_layers=window_layers,
        num_experts=experts,
        num_experts_per_token=experts_per_token,
        params_total=total,
        params_active=min(active, total),
        weights_bytes=weights_bytes,
        weights_source=weights_source,
        requires_remote_code="auto_map" in outer,
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
    layer_types = text.get("layer_types")
    if isinstance(layer_types, list) and layer_types:
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


def _sliding_window(text: Config, kv_layers: int) -> tuple[int | None, int]:
    window = text.get("sliding_window")
    if not isinstance(window, int) or window <= 0 or text.get("use_sliding_window") is False:
        return None, 0
    layer_types = text.get("layer_types")
    if isinstance(layer_types, list) and layer_types:
        return window, sum(1 for t in layer_types if "sliding" in str(t))
    pattern = text.get("sliding_window_pattern")
    if isinstance(pattern, int) and pattern > 1:
        return window, kv_layers - kv_layers // pattern
    return window, kv_layers


def _experts(text: Config) -> tuple[int, int]:
    count = _first(
        text, ("num_local_experts", "num_experts", "n_routed_experts", "moe_num_experts")
    )
    per_token = _first(text, ("num_experts_per_tok", "experts_per_token", "moe_top_k", "top_k"))
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


def _context_length(text: Config, outer: Config) -> int | None:
    value = _first(text, CONTEXT_KEYS) or _first(outer, CONTEXT_KEYS)
    if isinstance(value, (int, float)) and 0 < value < 1e12:
        return int(value)
    return None


def _quantization(outer: Config, text: Config, extra: Mapping[str, Config]) -> str | None:
    """The checkpoint's quantization method as vLLM names it, or None."""
    qcfg = outer.get("quantization_config") or text.get("quantization_config")
    if not isinstance(qcfg, Mapping):
        qcfg = extra.get("hf_quant_config.json", {}).get("quantization") or {}
    if not qcfg and "quantize_config.json" in extra:
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


def count_parameters(text: Config, shape: _Shape, model_type: str, tied: bool) -> tuple[int, int]:
    """(total, active-per-token) parameters of the text model from its architecture."""
    embed = shape.vocab * shape.hidden
    lm_head = 0 if tied else embed
    attn = _attention_params(text, shape, model_type)
    dense_mlp = _mlp_params(shape.hidden, shape.ffn, model_type)
    norms = 2 * shape.hidden

    experts, per_token = _experts(text)
    moe_layers = _moe_layer_count(text, shape.layers) if experts else 0
    dense_layers = shape.layers - moe_layers
    moe_width = int(
        _first(text, ("moe_intermediate_size", "expert_intermediate_size")) or shape.ffn
    )
    expert = _mlp_params(shape.hidden, moe_width, model_type)
    shared = _shared_expert_params(text, shape.hidden, moe_width, model_type)
    router = shape.hidden * experts

    layer_common = attn + norms
    total = (
        embed
        + lm_head
        + shape.hidden
        + shape.layers * layer_common
        + dense_layers * dense_mlp
        + moe_layers * (experts * expert + shared + router)
    )
    active = total - moe_layers * (experts - per_token) * expert
    return total, active


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
    n_shared = text.get("n_shared_experts")
    if isinstance(n_shared, int) and n_shared > 0:
        return _mlp_params(hidden, moe_width * n_shared, model_type)
    return 0


def estimate_quantized_bytes(params_total: int, shape: _Shape, tied: bool, method: str) -> int:
    """Stored bytes of a quantized checkpoint: linear layers quantized, embeddings in 16 bits."""
    embeddings = shape.vocab * shape.hidden * (1 if tied else 2)
    linear = max(0, params_total - embeddings)
    bits = QUANT_LINEAR_BITS.get(method, 8.0)
    return int(linear * bits / 8 + embeddings * 2)


def _scale(value: int, new_total: int, old_total: int) -> int:
    return max(1, round(value * new_total / old_total)) if old_total else value
