"""Opt-in check: our KV grouping and capacity against vLLM 0.33's own functions.

Needs vLLM 0.33.0 installed (no GPU):

    PYTHONPATH=src /path/to/vllm-venv/bin/python scripts/crosscheck_kv_groups.py

For every catalog model with sliding-window or Mamba / linear-attention layers (and a few
plain ones) and a grid of settings (TP, max_model_len, max_num_batched_tokens, hybrid
manager, prefix caching), it builds vLLM's per-layer KV-cache specs on one GPU (state
shapes from vLLM's MambaStateShapeCalculator, so our state sizes are checked too), runs
vLLM's `get_kv_cache_groups`, `get_kv_cache_config_from_groups` and
`get_kv_cache_capacity` on the same available memory, and compares num_blocks, tokens and
concurrency with `core.kv_groups`. The attention block size is ours (vLLM derives it in
its platform hook from the model's backends); the Qwen3.6 start-up test pins that rule.
Prints one line per case and exits 1 on any mismatch.
"""

from __future__ import annotations

import itertools
import sys
from types import SimpleNamespace as NS
from typing import Any

import torch
from vllm.config import CacheConfig
from vllm.model_executor.layers.mamba.mamba_utils import MambaStateShapeCalculator as Shapes
from vllm.v1.core.kv_cache_planning import get_kv_cache_config_from_groups, get_kv_cache_groups
from vllm.v1.core.kv_cache_utils import get_kv_cache_capacity
from vllm.v1.kv_cache_interface import FullAttentionSpec, MambaSpec, SlidingWindowSpec

from vllm_wizard.core.catalog import catalog_ids, catalog_metadata
from vllm_wizard.core.kv_groups import kv_capacity
from vllm_wizard.core.memory import EngineSettings, kv_layer_specs, kv_layout
from vllm_wizard.schemas.model import ModelMetadata
from vllm_wizard.units import GiB

PLAIN = ("meta-llama/Llama-3.1-8B", "Qwen/Qwen3-32B")
AVAILABLE = (3 * GiB, 17 * GiB + 12345)
DTYPES = {"float32": torch.float32, "bfloat16": torch.bfloat16, "float16": torch.float16}


def _vllm_config(settings: EngineSettings, layout_block: int) -> Any:
    cache = CacheConfig(block_size=layout_block)
    object.__setattr__(cache, "kv_cache_layout", "LBHNC")
    cache.mamba_cache_mode = "align" if settings.prefix_caching else "none"
    tokens = settings.max_num_batched_tokens
    return NS(
        scheduler_config=NS(
            disable_hybrid_kv_cache_manager=not settings.hybrid_kv_manager,
            max_num_batched_tokens=tokens,
        ),
        model_config=NS(max_model_len=settings.max_model_len),
        cache_config=cache,
        parallel_config=NS(pipeline_parallel_size=1, decode_context_parallel_size=1),
        max_in_flight_tokens=2 * tokens,
        max_concurrent_batches=2,
        speculative_config=None,
        kv_transfer_config=None,
        attention_config=NS(hisparse_config=None),
    )


def _state_spec(
    meta: ModelMetadata, tp: int, block: int, padded: int, checkpoint: int
) -> MambaSpec:
    model = DTYPES[meta.torch_dtype]
    ssm = DTYPES[meta.state_ssm_dtype or meta.torch_dtype]
    if meta.state_kind == "mamba2":
        shapes = Shapes.mamba2_state_shape(
            tp,
            meta.state_heads * meta.state_head_dim,
            meta.state_groups,
            meta.state_heads,
            meta.state_head_dim,
            meta.state_size,
            meta.state_conv_kernel,
        )
    else:
        shapes = Shapes.gated_delta_net_state_shape(
            tp,
            meta.state_groups,
            meta.state_heads,
            meta.state_size,
            meta.state_head_dim,
            meta.state_conv_kernel,
        )
    return MambaSpec(
        block_size=block,
        shapes=tuple(tuple(s) for s in shapes),
        dtypes=(model, ssm),
        page_size_padded=padded,
        num_prefill_checkpoint_blocks=checkpoint,
    )


def _vllm_specs(meta: ModelMetadata, settings: EngineSettings, block: int) -> dict[str, Any]:
    """One vLLM spec per layer, with our per-token bytes as int8 'heads'."""
    tp = settings.tensor_parallel_size
    attention, states = kv_layer_specs(
        meta, settings.kv_dtype_bytes, tp, 1, settings.vllm_version, settings.gdn_flashinfer_prefill
    )
    specs: dict[str, Any] = {}
    for a in attention:
        for i in range(a.count):
            common = dict(block_size=block, num_kv_heads=1, head_size=a.bytes_per_token // 2)
            if a.kind == "sliding" and a.window:
                spec = SlidingWindowSpec(**common, dtype=torch.int8, sliding_window=a.window)
            else:
                spec = FullAttentionSpec(**common, dtype=torch.int8)
            specs[f"{a.kind}.{a.bytes_per_token}.{i}"] = spec
    padded = block * min((a.bytes_per_token for a in attention), default=0)
    for s in states:
        state = _state_spec(meta, tp, block, max(padded, s.state_bytes), s.checkpoint_blocks)
        if state.state_content_size_bytes != s.state_bytes:
            raise AssertionError(
                f"state bytes {s.state_bytes} != vLLM {state.state_content_size_bytes}"
            )
        for i in range(s.count):
            specs[f"state.{i}"] = state
    return specs


def _cases() -> list[tuple[str, ModelMetadata]]:
    out = []
    for model_id in catalog_ids():
        meta = catalog_metadata(model_id)
        if meta is None or meta.attention != "gqa":
            continue
        if meta.sliding_window_layers or meta.state_kind or model_id in PLAIN:
            out.append((model_id, meta))
    return out


def main() -> int:
    bad = 0
    for model_id, meta in _cases():
        for tp in (1, 2, 4):
            if meta.num_kv_heads % tp and meta.num_kv_heads > tp:
                continue
            for length, tokens in ((8192, 2048), (32768, 8192), (131072, 16384)):
                managers = (True,) if meta.state_kind else (True, False)
                for manager in managers:
                    gdn = (False, True) if meta.state_kind == "gated_delta_net" else (False,)
                    for prefix, hopper in itertools.product(
                        (True, False) if meta.state_kind else (True,), gdn
                    ):
                        settings = EngineSettings(
                            max_model_len=length,
                            max_num_seqs=256,
                            max_num_batched_tokens=tokens,
                            block_size=16,
                            enforce_eager=False,
                            gpu_memory_utilization=0.9,
                            weight_dtype_bytes=2,
                            kv_dtype_bytes=2,
                            tensor_parallel_size=tp,
                            hybrid_kv_manager=manager,
                            prefix_caching=prefix,
                            gdn_flashinfer_prefill=hopper,
                        )
                        layout = kv_layout(meta, settings)
                        config = _vllm_config(settings, layout.block_size)
                        groups = get_kv_cache_groups(
                            config, _vllm_specs(meta, settings, layout.block_size)
                        )
                        for available in AVAILABLE:
                            kv_config = get_kv_cache_config_from_groups(config, groups, available)
                            v_tokens, v_conc = get_kv_cache_capacity(config, kv_config)
                            ours = kv_capacity(layout, available, length)
                            same = (
                                ours[0] == kv_config.num_blocks
                                and ours[2] == v_tokens
                                and abs(ours[1] - v_conc) < 1e-9
                            )
                            bad += not same
                            print(
                                f"{'ok ' if same else 'BAD'} {model_id:45} tp={tp} len={length:6} "
                                f"mnbt={tokens:5} hma={int(manager)} pc={int(prefix)} sm90={int(hopper)} "
                                f"block={layout.block_size:4} ours={ours[0]}/{ours[2]}/{ours[1]:.2f} "
                                f"vllm={kv_config.num_blocks}/{v_tokens}/{v_conc:.2f}"
                            )
    print(f"{bad} mismatches")
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
