"""Cross-check per-GPU KV bytes per token against vLLM's own ModelConfig, at TP 1, 2, 4, 8.

Not part of the product or of `pytest`: it needs vllm (0.33.0) installed in a separate
environment. For each fixture config vLLM's ModelConfig gives the head size, the KV heads
per rank (`get_num_kv_heads`) and the attention layers (`get_num_layers_by_block_type`);
the 16-bit KV bytes per token on one GPU follow as vLLM's specs size them (VLLM-NOTES 2.1,
2.2: K and V per head for full attention, one latent vector for MLA). The DeepSeek V3.2
indexer's extra keys are added on the wizard's side only, so they are reported apart.
Run from the repository root and commit what it prints:

    python scripts/crosscheck_vllm.py [NAME-PART ...] > benchmarks/crosscheck_vllm.txt

ModelConfig answers one head size for the whole model, so models whose layers differ in
shape (Gemma 4's full-attention layers) differ here by construction; vLLM's per-layer specs
(Gemma4DecoderLayer reads per_layer_config) are what the wizard follows for them.
"""

from __future__ import annotations

import logging
import sys
from pathlib import Path
from types import SimpleNamespace
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "src"))

import vllm
from vllm.config import ModelConfig

from vllm_wizard.core.memory import kv_bytes_per_token
from vllm_wizard.core.model_source import load_model_metadata

CONFIGS = Path(__file__).resolve().parent.parent / "tests" / "fixtures" / "configs"
TP_SIZES = (1, 2, 4, 8)


def vllm_kv_bytes(config: Any, tp: int) -> int:
    """16-bit KV bytes per token on one rank, from vLLM's own shape answers."""
    parallel = SimpleNamespace(
        tensor_parallel_size=tp,
        pipeline_parallel_size=1,
        rank=0,
        decode_context_parallel_size=1,
        prefill_context_parallel_size=1,
    )
    layers = config.get_num_layers_by_block_type(parallel, "attention")
    kinds = getattr(config.hf_text_config, "layers_block_type", None)
    if layers == 0 and kinds:  # Nemotron-H names its attention blocks "full_attention"
        layers = sum(kind == "full_attention" for kind in kinds)
    head = config.get_head_size()
    if config.is_deepseek_mla:
        return int(layers * head * 2)
    return int(layers * 2 * config.get_num_kv_heads(parallel) * head * 2)


def main() -> None:
    logging.disable(logging.WARNING)
    print(f"vllm {vllm.__version__}; 16-bit KV bytes per token per GPU, wizard vs vLLM")
    print(f"{'model':48} {'attention':>9} " + " ".join(f"{'tp' + str(t):>19}" for t in TP_SIZES))
    only = sys.argv[1:]
    for folder in sorted(p for p in CONFIGS.iterdir() if p.is_dir()):
        if only and not any(part in folder.name for part in only):
            continue
        meta = load_model_metadata(str(folder))
        try:
            config = ModelConfig(model=str(folder), tokenizer=str(folder), skip_tokenizer_init=True)
            theirs = [vllm_kv_bytes(config, tp) for tp in TP_SIZES]
        except Exception as exc:
            reason = str(exc).strip().splitlines()[0][:80] if str(exc).strip() else ""
            print(f"{folder.name:48} skipped: {type(exc).__name__} {reason}")
            continue
        ours = [kv_bytes_per_token(meta, 2, tp) for tp in TP_SIZES]
        extra = ""
        if meta.index_head_dim is not None:
            indexer = meta.kv_layers * (meta.index_head_dim + meta.index_head_dim // 128 * 4)
            ours = [o - indexer for o in ours]
            extra = f"  (wizard adds {indexer} B of indexer keys, not in vLLM's MLA spec)"
        cells = " ".join(
            f"{o:>9}/{t:<9}" if o == t else f"{o:>9}!{t:<9}"
            for o, t in zip(ours, theirs, strict=True)
        )
        verdict = "same" if ours == theirs else "DIFFERENT"
        print(f"{folder.name:48} {meta.attention:>9} {cells} {verdict}{extra}")
        sys.stdout.flush()


if __name__ == "__main__":
    main()
