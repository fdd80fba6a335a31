"""Rebuild src/vllm_wizard/core/data/models.json from the real configs in shared/model-configs.

Each entry is parsed with the same code the tool uses for a local folder, so the catalog
holds exactly what `plan --model <folder>` would compute; exact parameter counts come from
the weight index where the source folder has one. Run from the repository root:

    python scripts/build_catalog.py [path/to/model-configs]
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

from vllm_wizard.core.model_source import load_model_metadata
from vllm_wizard.core.support import check_servable

OUT = Path("src/vllm_wizard/core/data/models.json")

# folder in model-configs -> (canonical Hub id, other ids that share the architecture)
ENTRIES: dict[str, tuple[str, list[str]]] = {
    "meta-llama__Meta-Llama-3.1-8B": (
        "meta-llama/Llama-3.1-8B",
        [
            "meta-llama/Llama-3.1-8B-Instruct",
            "meta-llama/Meta-Llama-3.1-8B",
            "meta-llama/Meta-Llama-3.1-8B-Instruct",
        ],
    ),
    "meta-llama__Meta-Llama-3.1-70B": (
        "meta-llama/Llama-3.1-70B",
        [
            "meta-llama/Llama-3.1-70B-Instruct",
            "meta-llama/Meta-Llama-3.1-70B",
            "meta-llama/Meta-Llama-3.1-70B-Instruct",
        ],
    ),
    "meta-llama__Llama-3.3-70B-Instruct": ("meta-llama/Llama-3.3-70B-Instruct", []),
    "meta-llama__Meta-Llama-3.1-405B": (
        "meta-llama/Llama-3.1-405B",
        [
            "meta-llama/Llama-3.1-405B-Instruct",
            "meta-llama/Meta-Llama-3.1-405B",
            "meta-llama/Meta-Llama-3.1-405B-Instruct",
        ],
    ),
    "meta-llama__Llama-3.2-1B-Instruct": (
        "meta-llama/Llama-3.2-1B-Instruct",
        ["meta-llama/Llama-3.2-1B"],
    ),
    "meta-llama__Llama-2-7b-chat-hf": (
        "meta-llama/Llama-2-7b-chat-hf",
        ["meta-llama/Llama-2-7b-hf"],
    ),
    "mistralai__Mistral-7B-Instruct-v0.3": (
        "mistralai/Mistral-7B-Instruct-v0.3",
        ["mistralai/Mistral-7B-v0.3"],
    ),
    "mistralai__Mixtral-8x7B-v0.1": (
        "mistralai/Mixtral-8x7B-v0.1",
        ["mistralai/Mixtral-8x7B-Instruct-v0.1"],
    ),
    "mistralai__Devstral-Small-2507": ("mistralai/Devstral-Small-2507", []),
    "Qwen__Qwen2.5-3B": ("Qwen/Qwen2.5-3B", ["Qwen/Qwen2.5-3B-Instruct"]),
    "Qwen__Qwen2.5-7B": ("Qwen/Qwen2.5-7B", []),
    "Qwen__Qwen2.5-7B-Instruct": ("Qwen/Qwen2.5-7B-Instruct", []),
    "Qwen__Qwen2.5-32B": ("Qwen/Qwen2.5-32B", []),
    "Qwen__Qwen2.5-32B-Instruct": ("Qwen/Qwen2.5-32B-Instruct", []),
    "Qwen__Qwen3-0.6B": ("Qwen/Qwen3-0.6B", ["Qwen/Qwen3-0.6B-Base"]),
    "Qwen__Qwen3-8B": ("Qwen/Qwen3-8B", ["Qwen/Qwen3-8B-Base"]),
    "Qwen__Qwen3-14B": ("Qwen/Qwen3-14B", ["Qwen/Qwen3-14B-Base"]),
    "Qwen__Qwen3-32B": ("Qwen/Qwen3-32B", []),
    "Qwen__Qwen3-32B-FP8": ("Qwen/Qwen3-32B-FP8", []),
    "Qwen__Qwen3-30B-A3B": ("Qwen/Qwen3-30B-A3B", ["Qwen/Qwen3-30B-A3B-Base"]),
    "Qwen__Qwen3-235B-A22B": ("Qwen/Qwen3-235B-A22B", []),
    "deepseek-ai__DeepSeek-V3": ("deepseek-ai/DeepSeek-V3", ["deepseek-ai/DeepSeek-V3-0324"]),
    "deepseek-ai__DeepSeek-R1": ("deepseek-ai/DeepSeek-R1", ["deepseek-ai/DeepSeek-R1-0528"]),
    "deepseek-ai__DeepSeek-V2-Lite-Chat": (
        "deepseek-ai/DeepSeek-V2-Lite-Chat",
        ["deepseek-ai/DeepSeek-V2-Lite"],
    ),
    "google__gemma-2b-it": ("google/gemma-2b-it", ["google/gemma-2b"]),
    "microsoft__phi-4": ("microsoft/phi-4", []),
    "01-ai__Yi-1.5-6B_slerp-merge": ("01-ai/Yi-1.5-6B", ["01-ai/Yi-1.5-6B-Chat"]),
    "THUDM__chatglm2-6b": ("THUDM/chatglm2-6b", []),
    "THUDM__chatglm3-6b": ("THUDM/chatglm3-6b", []),
    "openai-community__gpt2-xl": ("openai-community/gpt2-xl", ["gpt2-xl"]),
    "togethercomputer__RedPajama-INCITE-7B-Base": ("togethercomputer/RedPajama-INCITE-7B-Base", []),
    "openai__gpt-oss-20b": ("openai/gpt-oss-20b", []),
    "openai__gpt-oss-120b": ("openai/gpt-oss-120b", []),
    "MiniMaxAI__MiniMax-M2.5": ("MiniMaxAI/MiniMax-M2.5", []),
    "Qwen__Qwen2.5-VL-7B-Instruct": ("Qwen/Qwen2.5-VL-7B-Instruct", []),
    "Qwen__Qwen3-Next-80B-A3B-Thinking": (
        "Qwen/Qwen3-Next-80B-A3B-Thinking",
        ["Qwen/Qwen3-Next-80B-A3B-Instruct"],
    ),
    "Qwen__Qwen3.5-27B": ("Qwen/Qwen3.5-27B", []),
    "TheBloke__Llama-2-13B-chat-GPTQ": ("TheBloke/Llama-2-13B-chat-GPTQ", []),
    "deepseek-ai__DeepSeek-V3.2": ("deepseek-ai/DeepSeek-V3.2", []),
    "google__gemma-3-1b-it": ("google/gemma-3-1b-it", ["google/gemma-3-1b-pt"]),
    "google__gemma-4-26B-A4B": ("google/gemma-4-26B-A4B", []),
    "meta-llama__Llama-4-Scout-17B-16E-Instruct": (
        "meta-llama/Llama-4-Scout-17B-16E-Instruct",
        ["meta-llama/Llama-4-Scout-17B-16E"],
    ),
    "microsoft__Phi-3-mini-128k-instruct_rev-su": ("microsoft/Phi-3-mini-128k-instruct", []),
    "moonshotai__Kimi-K2.5": ("moonshotai/Kimi-K2.5", []),
    "nvidia__Gemma-4-31B-IT-NVFP4": ("nvidia/Gemma-4-31B-IT-NVFP4", []),
    "nvidia__Llama-3.1-70B-Instruct-FP8": ("nvidia/Llama-3.1-70B-Instruct-FP8", []),
    "nvidia__Llama-3_3-Nemotron-Super-49B-v1": ("nvidia/Llama-3_3-Nemotron-Super-49B-v1", []),
    "nvidia__NVIDIA-Nemotron-3-Super-120B-A12B-FP8": (
        "nvidia/NVIDIA-Nemotron-3-Super-120B-A12B-FP8",
        [],
    ),
    "nvidia__Nemotron-H-56B-Base-8K": ("nvidia/Nemotron-H-56B-Base-8K", []),
    "tiiuae__falcon-7b-instruct": ("tiiuae/falcon-7b-instruct", ["tiiuae/falcon-7b"]),
    "zai-org__GLM-5": ("zai-org/GLM-5", []),
}
# Folders left out, and why: vLLM 0.33 does not serve them, or they duplicate an entry.
LEFT_OUT: dict[str, str] = {
    "meta-llama__Llama-3.2-90B-Vision-Instruct": "mllama: removed after vLLM 0.10.2",
    "microsoft__phi-2_mixformer-format": "MixFormer format: not a vLLM architecture",
    "reubzdubz__Molmo7B_D_NF4Quant": "bitsandbytes: not served by vLLM 0.33",
    "Qwen__Qwen3-32B-FP8-Static-PerTensor_modelopt": "a local label, not a public Hub id",
    "tiiuae__falcon-7b-instruct_RW-legacy": "RWForCausalLM: removed after vLLM 0.28.0",
    "tiiuae__falcon-40b": "RWForCausalLM: removed after vLLM 0.28.0 (old config)",
    "Qwen__Qwen-72B": "QWenLMHeadModel: removed after vLLM 0.23.0",
    "baichuan-inc__Baichuan2-13B-Chat": "BaichuanForCausalLM: removed after vLLM 0.23.0",
    "mosaicml__mpt-7b-instruct": "MPTForCausalLM: removed after vLLM 0.28.0",
}
# Model-card totals for configs a vendor trimmed (Scout's copy lacks its vision_config),
# so the formula would miss whole towers.
CARD_PARAMS_B: dict[str, float] = {
    "meta-llama__Llama-4-Scout-17B-16E-Instruct": 109.0,
}


def build(configs: Path) -> list[dict[str, object]]:
    """One catalog row per entry: ids, the source folder, and the parsed metadata."""
    rows: list[dict[str, object]] = []
    for folder, (model_id, aliases) in ENTRIES.items():
        meta = load_model_metadata(str(configs / folder), params_b=CARD_PARAMS_B.get(folder))
        check_servable(meta, trust_remote_code=True)
        facts = meta.model_dump(exclude={"model_id", "source"})
        rows.append({"id": model_id, "aliases": aliases, "from": folder, "metadata": facts})
    return rows


def main() -> None:
    configs = Path(sys.argv[1] if len(sys.argv) > 1 else "../shared/model-configs")
    missing = {p.name for p in configs.iterdir() if p.is_dir()} - set(ENTRIES) - set(LEFT_OUT)
    if missing:
        raise SystemExit(f"no catalog entry or LEFT_OUT reason for: {sorted(missing)}")
    rows = build(configs)
    OUT.write_text(json.dumps({"schema_version": 1, "models": rows}, indent=1) + "\n", "utf-8")
    print(f"wrote {len(rows)} models to {OUT}")


if __name__ == "__main__":
    main()
