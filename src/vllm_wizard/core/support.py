"""Whether vLLM 0.33 serves a model at all, and whether its config needs custom code.

Checked right after the config is read, before any memory math: a model vLLM refuses
should fail with one line saying why, not get a plan.
"""

from __future__ import annotations

from vllm_wizard.errors import UnsupportedModelError
from vllm_wizard.schemas.model import ModelMetadata

# Architectures vLLM 0.33 never registered, with the reason shown to users.
NOT_SERVED: dict[str, str] = {
    "MixFormerSequentialForCausalLM": (
        "the early MixFormer format of phi is not a vLLM architecture; use the converted "
        "checkpoint (PhiForCausalLM), e.g. microsoft/phi-2 at its current revision"
    ),
}
# Architectures vLLM dropped, with the last release that served them (vLLM 0.33's own
# list of previously supported models).
REMOVED_IN: dict[str, str] = {
    "MllamaForConditionalGeneration": "0.10.2",
    "DonutForConditionalGeneration": "0.10.2",
    "MotifForCausalLM": "0.10.2",
    "Phi4FlashForCausalLM": "0.10.2",
    "Phi3SmallForCausalLM": "0.9.2",
    "Phi4MultimodalForCausalLM": "0.12.0",
    "JAISLMHeadModel": "0.22.0",
    "QWenLMHeadModel": "0.23.0",
    "QwenVLForConditionalGeneration": "0.23.0",
    "InternLMForCausalLM": "0.23.0",
    "InternLM2VEForCausalLM": "0.23.0",
    "XverseForCausalLM": "0.23.0",
    "Dots1ForCausalLM": "0.23.0",
    "BambaForCausalLM": "0.23.0",
    "MiniMaxForCausalLM": "0.23.0",
    "MiniMaxText01ForCausalLM": "0.23.0",
    "MiniMaxM1ForCausalLM": "0.23.0",
    "MiniMaxVL01ForConditionalGeneration": "0.23.0",
    "BaiChuanForCausalLM": "0.23.0",
    "BaichuanForCausalLM": "0.23.0",
    "Tarsier2ForConditionalGeneration": "0.23.0",
    "AquilaModel": "0.24.0",
    "AquilaForCausalLM": "0.24.0",
    "Grok1ModelForCausalLM": "0.24.0",
    "Grok1ForCausalLM": "0.24.0",
    "TarsierForConditionalGeneration": "0.24.0",
    "MantisForConditionalGeneration": "0.24.0",
    "AyaVisionForConditionalGeneration": "0.24.0",
    "TeleChatForCausalLM": "0.25.0",
    "PersimmonForCausalLM": "0.25.0",
    "FuyuForCausalLM": "0.25.0",
    "Plamo2ForCausalLM": "0.26.0",
    "OuroForCausalLM": "0.26.0",
    "ArcticForCausalLM": "0.28.0",
    "ChameleonForConditionalGeneration": "0.28.0",
    "Fairseq2LlamaForCausalLM": "0.28.0",
    "HCXVisionForCausalLM": "0.28.0",
    "MPTForCausalLM": "0.28.0",
    "MptForCausalLM": "0.28.0",
    "RWForCausalLM": "0.28.0",
    "StableLMEpochForCausalLM": "0.28.0",
}
# What to use instead, where there is a served equivalent.
INSTEAD: dict[str, str] = {
    "RWForCausalLM": (
        "the current config.json of Falcon repositories names FalconForCausalLM, which vLLM "
        "serves; download it again"
    ),
    "QWenLMHeadModel": "use a Qwen2.5 or Qwen3 model",
    "MllamaForConditionalGeneration": "use Llama 4 or a Qwen2.5-VL model for images",
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
# make --trust-remote-code necessary. ChatGLM and Kimi K2.5 are left out: vLLM reads their
# configs, but their tokenizers are custom code.
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
    reason = NOT_SERVED.get(meta.architecture) or _removed_reason(meta.architecture)
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


def _removed_reason(architecture: str) -> str | None:
    """'served until vLLM X, removed since' plus what to use instead, or None."""
    last = REMOVED_IN.get(architecture)
    if last is None:
        return None
    reason = f"vLLM served {architecture} until {last} and has removed it"
    instead = INSTEAD.get(architecture)
    return f"{reason}; {instead}" if instead else reason
