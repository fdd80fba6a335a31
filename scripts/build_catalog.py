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
    "baichuan-inc__Baichuan2-13B-Chat": (
        "baichuan-inc/Baichuan2-13B-Chat",
        ["baichuan-inc/Baichuan2-13B-Base"],
    ),
    "openai-community__gpt2-xl": ("openai-community/gpt2-xl", ["gpt2-xl"]),
    "togethercomputer__RedPajama-INCITE-7B-Base": ("togethercomputer/RedPajama-INCITE-7B-Base", []),
    "openai__gpt-oss-20b": ("openai/gpt-oss-20b", []),
    "openai__gpt-oss-120b": ("openai/gpt-oss-120b", []),
}


def build(configs: Path) -> list[dict[str, object]]:
    """One catalog row per entry: ids, the source folder, and the parsed metadata."""
    rows: list[dict[str, object]] = []
    for folder, (model_id, aliases) in ENTRIES.items():
        meta = load_model_metadata(str(configs / folder))
        facts = meta.model_dump(exclude={"model_id", "source"})
        rows.append({"id": model_id, "aliases": aliases, "from": folder, "metadata": facts})
    return rows


def main() -> None:
    configs = Path(sys.argv[1] if len(sys.argv) > 1 else "../shared/model-configs")
    rows = build(configs)
    OUT.write_text(json.dumps({"schema_version": 1, "models": rows}, indent=1) + "\n", "utf-8")
    print(f"wrote {len(rows)} models to {OUT}")


if __name__ == "__main__":
    main()
