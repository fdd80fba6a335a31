"""Whether vLLM 0.33 serves a model at all, and whether its config needs custom code.

Checked right after the config is read, before any memory math: a model vLLM refuses
should fail with one line saying why, not get a plan.
"""

from __future__ import annotations

from vllm_wizard.errors import UnsupportedModelError
from vllm_wizard.schemas.model import ModelMetadata

# Architectures vLLM 0.33 no longer (or never) registers, with the reason shown to users.
NOT_SERVED: dict[str, str] = {
    "MllamaForConditionalGeneration": (
        "Llama 3.2 Vision (mllama) was removed from vLLM in 0.10.2 with the V0 engine "
        "(its cross-attention layers have no V1 implementation)"
    ),
    "MixFormerSequentialForCausalLM": (
        "the early MixFormer format of phi is not a vLLM architecture; use the converted "
        "checkpoint (PhiForCausalLM), e.g. microsoft/phi-2 at its current revision"
    ),
}
# Quantization methods vLLM 0.33 dropped from its list.
NOT_SERVED_QUANT: dict[str, str] = {
    "bitsandbytes": (
        "bitsandbytes checkpoints are no longer served by vLLM 0.33 (removed from its "
        "quantization methods); use an AWQ, GPTQ, FP8 or unquantized variant"
    ),
    "gguf": "GGUF is no longer served by vLLM 0.33; use a safetensors checkpoint",
}
# model_type values whose config class ships with transformers or vLLM (and whose
# tokenizer needs no custom code), so a leftover `auto_map` in their config.json does not
# make --trust-remote-code necessary. Kimi K2.5 is left out: its tokenizer is custom code.
NATIVE_CONFIG_TYPES = frozenset(
    {
        "minimax_m2",
        "glm_moe_dsa",
        "gemma4",
        "qwen3_5",
        "qwen3_next",
        "deepseek_v2",
        "deepseek_v3",
        "deepseek_v32",
        "falcon",
        "RefinedWeb",
        "RefinedWebModel",
        "mpt",
        "nemotron_h",
        "phi",
        "phi3",
        "llama",
        "mistral",
        "qwen2",
        "qwen3",
        "gpt_neox",
        "gpt2",
    }
)


def needs_remote_code(has_auto_map: bool, model_type: str) -> bool:
    """True when the config names custom code whose config class neither library ships."""
    return has_auto_map and model_type not in NATIVE_CONFIG_TYPES


def check_servable(meta: ModelMetadata, *, trust_remote_code: bool) -> None:
    """Raise UnsupportedModelError (exit 2) when vLLM 0.33 would refuse this model."""
    reason = NOT_SERVED.get(meta.architecture)
    if reason is None and meta.quantization is not None:
        reason = NOT_SERVED_QUANT.get(meta.quantization)
    if reason is not None:
        raise UnsupportedModelError(
            f"--model '{meta.model_id}' ({meta.architecture}) is not supported: {reason}.",
            field="model",
        )
    if meta.requires_remote_code and not trust_remote_code:
        raise UnsupportedModelError(
            f"--model '{meta.model_id}' ({meta.architecture}, model_type {meta.model_type}) "
            "is not supported without --trust-remote-code: its config names custom code "
            "(auto_map); add --trust-remote-code (vllm-wizard only reads the config, it never "
            "runs that code).",
            field="trust_remote_code",
        )
