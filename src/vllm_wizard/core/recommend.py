"""Recommendation logic: valid parallel layouts and the engine arguments to emit."""

from __future__ import annotations

import math

from vllm_wizard.errors import InvalidLayoutError, InvalidParameterError
from vllm_wizard.schemas.model import ModelMetadata
from vllm_wizard.schemas.request import PlanRequest
from vllm_wizard.units import GiB

MIN_BATCHED_TOKENS = 2048
SMALL_GPU_BATCHED_TOKENS = 8192
LARGE_GPU_BATCHED_TOKENS = 16384
LARGE_GPU_BYTES = 48 * GiB


def tp_problem(meta: ModelMetadata, tp: int) -> str | None:
    """Why vLLM cannot shard the model over `tp` GPUs, or None when it can.

    TP must divide the attention heads; the KV heads must divide TP or TP them (fewer KV
    heads than GPUs are replicated); MLA keeps one latent cache, so only the attention
    heads matter. A grouped quantized checkpoint needs each row-parallel input (attention
    output, MLP and expert down projections) to stay a whole number of groups per GPU.
    """
    if meta.num_attention_heads % tp:
        return f"does not divide the {meta.num_attention_heads} attention heads"
    if meta.attention != "mla" and meta.num_kv_heads % tp and tp % meta.num_kv_heads:
        return f"neither divides nor is a multiple of the {meta.num_kv_heads} KV heads"
    group = meta.quant_group_size
    if group is None:
        return None
    widths = {
        "attention output": meta.num_attention_heads * meta.head_dim,
        "MLP": meta.intermediate_size,
        "expert MLP": meta.moe_intermediate_size,
    }
    for name, width in widths.items():
        if width and (width % tp or (width // tp) % group):
            return (
                f"splits the {name} width {width} into {width / tp:g} columns per GPU, "
                f"not a whole number of {group}-column quantization groups"
            )
    return None


def is_valid_tp(meta: ModelMetadata, tp: int) -> bool:
    """vLLM can shard the model over `tp` GPUs (see tp_problem)."""
    return tp_problem(meta, tp) is None


def valid_tp_sizes(meta: ModelMetadata, max_tp: int) -> list[int]:
    """Every valid TP size from 1 to `max_tp`, ascending."""
    return [tp for tp in range(1, max_tp + 1) if is_valid_tp(meta, tp)]


def tp_summary(meta: ModelMetadata, max_tp: int) -> str:
    """One line: the valid TP sizes up to `max_tp` and why each other size fails."""
    valid = valid_tp_sizes(meta, max_tp)
    failing = [f"{t} {why}" for t in range(2, max_tp + 1) if (why := tp_problem(meta, t))]
    text = f"valid TP sizes up to {max_tp}: {', '.join(map(str, valid)) or 'none'}"
    return text + (f" ({'; '.join(failing)})" if failing else "")


def check_tp(meta: ModelMetadata, tp: int) -> None:
    """Raise InvalidLayoutError naming the reason and the valid sizes when `tp` cannot shard."""
    why = tp_problem(meta, tp)
    if why is None:
        return
    valid = ", ".join(str(t) for t in valid_tp_sizes(meta, 64))
    raise InvalidLayoutError(
        f"--tensor-parallel-size {tp} cannot shard {meta.model_id}: {tp} {why}; "
        f"use one of {valid}.",
        field="tensor_parallel_size",
    )


def recommend_max_num_seqs(request: PlanRequest) -> int:
    """max_num_seqs: the requested concurrency, a quarter more in throughput mode."""
    if request.max_num_seqs is not None:
        return request.max_num_seqs
    if request.batching_mode == "throughput":
        return math.ceil(request.concurrency * 1.25)
    return request.concurrency


def recommend_max_num_batched_tokens(
    request: PlanRequest, max_num_seqs: int, vram_bytes: int, max_model_len: int | None = None
) -> int:
    """Tokens per scheduler step: the workload's tokens, within a ceiling set by GPU size.

    Larger steps raise prefill throughput and the activation peak; latency mode keeps
    steps small so decodes are not stalled behind long prefills. Never above
    max_num_seqs x max_model_len, which vLLM warns about.
    """
    if request.max_num_batched_tokens is not None:
        return request.max_num_batched_tokens
    ceiling = (
        LARGE_GPU_BATCHED_TOKENS if vram_bytes >= LARGE_GPU_BYTES else SMALL_GPU_BATCHED_TOKENS
    )
    if request.batching_mode == "throughput":
        ceiling *= 2
    elif request.batching_mode == "latency":
        ceiling = SMALL_GPU_BATCHED_TOKENS
    wanted = (request.prompt_tokens + request.gen_tokens) * request.concurrency
    chosen = max(min(wanted, ceiling), MIN_BATCHED_TOKENS, max_num_seqs)
    if max_model_len is not None:
        chosen = min(chosen, max_num_seqs * max_model_len)
    return chosen


# Model types vLLM 0.33 refuses to run in float16 (`_FLOAT16_NOT_SUPPORTED_MODELS`).
NO_FLOAT16_MODEL_TYPES = frozenset({"gemma2", "gemma3", "gemma3_text", "glm4"})


def resolve_weight_dtype(
    requested: str, checkpoint_dtype: str, compute_capability: str | None, model_type: str = ""
) -> str:
    """The dtype vLLM loads weights in, as vLLM 0.33 resolves `--dtype`.

    'auto' follows the checkpoint (float32 becomes bfloat16). GPUs before compute
    capability 8.0 have no bfloat16: vLLM falls back to float16, or to float32 for the model
    types it refuses in float16. An explicit dtype the GPU or model cannot take raises
    InvalidParameterError, as vLLM refuses to start.
    """
    no_fp16 = model_type in NO_FLOAT16_MODEL_TYPES
    if requested != "auto":
        _check_requested_dtype(requested, compute_capability, model_type)
        return requested
    dtype = "bfloat16" if checkpoint_dtype == "float32" else checkpoint_dtype
    if dtype == "bfloat16" and _lacks_bf16(compute_capability):
        dtype = "float32" if no_fp16 else "float16"
    if dtype == "float16" and no_fp16:
        dtype = "float32" if _lacks_bf16(compute_capability) else "bfloat16"
    return dtype


def _check_requested_dtype(requested: str, compute_capability: str | None, model_type: str) -> None:
    if requested == "float16" and model_type in NO_FLOAT16_MODEL_TYPES:
        raise InvalidParameterError(
            f"--dtype float16: vLLM 0.33 refuses float16 for model type {model_type} "
            "(numerical instability); use --dtype bfloat16, float32 or auto.",
            field="dtype",
        )
    if requested == "bfloat16" and _lacks_bf16(compute_capability):
        fallback = "float32" if model_type in NO_FLOAT16_MODEL_TYPES else "float16"
        raise InvalidParameterError(
            f"--dtype bfloat16: this GPU (compute capability {compute_capability}) has no "
            f"bfloat16 and vLLM refuses to start; use --dtype {fallback} or auto.",
            field="dtype",
        )


# Lowest compute capability (x10) each quantization method runs on in vLLM 0.33
# (`get_min_capability`, VLLM-NOTES section 3); awq and gptq resolve to auto_awq / auto_gptq.
MIN_CAPABILITY: dict[str, int] = {
    "fp8": 75,
    "awq": 75,
    "auto_awq": 75,
    "gptq": 60,
    "auto_gptq": 60,
    "compressed-tensors": 70,
    "quark": 70,
    "moe_wna16": 70,
    "modelopt": 80,
    "modelopt_fp4": 75,
    "modelopt_mxfp8": 80,
    "modelopt_mixed": 75,
    "mxfp4": 80,
    "experts_int8": 80,
    "fbgemm_fp8": 80,
    "torchao": 75,
    "online": 75,
    "inc": 60,
    "fp_quant": 100,
}
# vLLM 0.33 picks an attention backend that stores fp8 KV from SM 8.0 up (FlashInfer on
# Ampere/Ada, FlashAttention 3 on Hopper); VLLM-NOTES section 4.1.
FP8_KV_MIN_CAPABILITY = 80


def capability_x10(compute_capability: str | None) -> int | None:
    """'8.9' -> 89; None for AMD gfx names or unknown GPUs."""
    if not compute_capability or compute_capability.startswith("gfx"):
        return None
    try:
        return round(float(compute_capability) * 10)
    except ValueError:
        return None


def quantization_problem(method: str, compute_capability: str | None) -> str | None:
    """Why `method` cannot run on a GPU of this compute capability, or None."""
    cc = capability_x10(compute_capability)
    need = MIN_CAPABILITY.get(method)
    if cc is None or need is None or cc >= need:
        return None
    return (
        f"quantization {method} needs compute capability {need / 10:g} or newer in vLLM, "
        f"and this GPU is {compute_capability}"
    )


def supports_fp8_kv(compute_capability: str | None) -> bool:
    """An fp8 KV cache has an attention backend on this GPU (AMD: assumed yes)."""
    cc = capability_x10(compute_capability)
    return cc is None or cc >= FP8_KV_MIN_CAPABILITY


def _lacks_bf16(compute_capability: str | None) -> bool:
    if not compute_capability or compute_capability.startswith("gfx"):
        return False
    try:
        return float(compute_capability) < 8.0
    except ValueError:
        return False
