"""Dtype and quantization names: the SPEC's spellings, vLLM's spellings, and their widths."""

from __future__ import annotations

from vllm_wizard.errors import InvalidParameterError

# User spelling -> vLLM --dtype value.
_DTYPE_ALIASES: dict[str, str] = {
    "auto": "auto",
    "bf16": "bfloat16",
    "bfloat16": "bfloat16",
    "fp16": "float16",
    "float16": "float16",
    "half": "float16",
    "fp32": "float32",
    "float32": "float32",
    "float": "float32",
}

_DTYPE_BYTES: dict[str, float] = {"bfloat16": 2, "float16": 2, "float32": 4}

# User spelling -> vLLM --kv-cache-dtype value.
_KV_DTYPE_ALIASES: dict[str, str] = {
    "auto": "auto",
    "fp16": "float16",
    "float16": "float16",
    "half": "float16",
    "bf16": "bfloat16",
    "bfloat16": "bfloat16",
    "fp8": "fp8",
    "fp8_e4m3": "fp8_e4m3",
    "fp8_e4m3fn": "fp8_e4m3",
    "fp8_e5m2": "fp8_e5m2",
}

# Bytes per cached element for vLLM's KV dtypes (packed formats include their scales).
_KV_DTYPE_BYTES: dict[str, float] = {
    "float16": 2,
    "bfloat16": 2,
    "fp8": 1,
    "fp8_e4m3": 1,
    "fp8_e5m2": 1,
    "fp8_inc": 1,
    "fp8_ds_mla": 1,
    "fp8_per_token_head": 1,
    "int8_per_token_head": 1,
    "int4_per_token_head": 0.5,
    "nvfp4": 0.5625,
    "nvfp4_4over6": 0.5625,
}

# User spelling -> vLLM --quantization value.
_QUANT_ALIASES: dict[str, str | None] = {
    "none": None,
    "awq": "awq",
    "gptq": "gptq",
    "fp8": "fp8",
    "int8": "int8_per_channel_weight_only",
}


def normalize_dtype(value: str) -> str:
    """Map a --dtype spelling (bf16, fp16, fp32, auto or vLLM's names) to vLLM's name."""
    key = value.strip().lower()
    if key not in _DTYPE_ALIASES:
        raise InvalidParameterError(
            f"--dtype '{value}' is not a dtype; use one of auto, bf16, fp16, fp32.", field="dtype"
        )
    return _DTYPE_ALIASES[key]


def dtype_bytes(vllm_dtype: str) -> float:
    """Bytes per element of a resolved vLLM weight dtype (bfloat16, float16, float32)."""
    return _DTYPE_BYTES[vllm_dtype]


def normalize_kv_cache_dtype(value: str, allowed: frozenset[str]) -> str:
    """Map a --kv-cache-dtype spelling to vLLM's name; `allowed` is vLLM's list."""
    key = value.strip().lower()
    name = _KV_DTYPE_ALIASES.get(key, key)
    if name not in allowed:
        raise InvalidParameterError(
            f"--kv-cache-dtype '{value}' is not a KV cache dtype vLLM knows; "
            "use auto, fp16, bf16, fp8, fp8_e4m3fn or fp8_e5m2.",
            field="kv_cache_dtype",
        )
    return name


def kv_dtype_bytes(kv_cache_dtype: str, model_dtype: str) -> float:
    """Bytes per cached K or V element; 'auto' follows the model dtype."""
    if kv_cache_dtype == "auto":
        return dtype_bytes(model_dtype)
    return _KV_DTYPE_BYTES.get(kv_cache_dtype, 1.0)


def normalize_quantization(value: str | None, allowed: frozenset[str]) -> str | None:
    """Map a --quantization spelling to vLLM's method name (None for none)."""
    if value is None:
        return None
    key = value.strip().lower()
    if key in _QUANT_ALIASES:
        return _QUANT_ALIASES[key]
    if key not in allowed:
        raise InvalidParameterError(
            f"--quantization '{value}' is not a method vLLM 0.33 knows; use none, awq, gptq, "
            "int8, fp8, or one of vLLM's names (e.g. compressed-tensors, mxfp4, modelopt).",
            field="quantization",
        )
    return key


# Methods vLLM applies to an unquantized checkpoint while loading it.
_ONLINE_QUANTIZATION = frozenset(
    {"fp8", "ptpc_fp8", "experts_int8", "int8_per_channel_weight_only", "fp8_per_block"}
)

# Kernel variants vLLM accepts in place of the checkpoint's own method.
_QUANT_FAMILY = {"awq_marlin": "awq", "gptq_marlin": "gptq", "gptq_marlin_24": "gptq"}


def check_quantization_against_checkpoint(requested: str | None, checkpoint: str | None) -> None:
    """Refuse a --quantization that the checkpoint cannot be loaded with, as vLLM would.

    An unquantized checkpoint takes only the methods vLLM applies while loading (fp8 and
    friends); a quantized one takes its own method or a kernel variant of it.
    """
    if requested is None:
        return
    if checkpoint is None:
        if requested in _ONLINE_QUANTIZATION:
            return
        raise InvalidParameterError(
            f"--quantization {requested}: the checkpoint is not quantized, and vLLM cannot "
            f"quantize to {requested} while loading; use a checkpoint already quantized with "
            f"{requested}, --quantization fp8, or drop the flag.",
            field="quantization",
        )
    family = _QUANT_FAMILY.get(requested, requested)
    if family != _QUANT_FAMILY.get(checkpoint, checkpoint):
        raise InvalidParameterError(
            f"--quantization {requested} contradicts the checkpoint, which is quantized with "
            f"{checkpoint}; vLLM refuses the mismatch. Drop --quantization (vLLM reads the "
            "method from the checkpoint) or pick a checkpoint quantized with "
            f"{requested}.",
            field="quantization",
        )


def weight_bytes_per_param(quantization: str) -> float:
    """Approximate stored bytes per quantized linear-layer parameter, scales included."""
    method = quantization.lower()
    if method in {"awq", "gptq", "awq_marlin", "gptq_marlin", "auto_awq", "auto_gptq", "moe_wna16"}:
        return 0.5 * 1.1
    if method in {"mxfp4", "gpt_oss_mxfp4"}:
        return 0.5 + 1 / 32
    if method in {"modelopt_fp4", "nvfp4_per_token"}:
        return 0.5 + 1 / 16
    return 1.0
