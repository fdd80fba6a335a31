"""The normalised facts each golden file records, computed the way `plan` reads a folder.

Shared by tests/core/test_model_configs.py and scripts/regen_golden.py, so the files and
the check can never drift apart. KV bytes per token are per GPU with a 16-bit KV cache
(vLLM's `--kv-cache-dtype auto` on bf16/fp16 checkpoints).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from vllm_wizard.core import dtypes
from vllm_wizard.core.memory import kv_bytes_per_token, model_weights_bytes
from vllm_wizard.core.model_source import load_model_metadata
from vllm_wizard.core.recommend import resolve_weight_dtype
from vllm_wizard.core.support import check_servable
from vllm_wizard.errors import UnsupportedModelError

GOLDEN = Path(__file__).parent / "golden"
TP_SIZES = (1, 2, 4, 8)
KV_DTYPE_BYTES = 2


def golden_facts(folder: Path) -> dict[str, Any]:
    """Metadata summary of one fixture config folder, with vLLM 0.33's verdict on it."""
    meta = load_model_metadata(str(folder))
    facts: dict[str, Any] = {
        "architecture": meta.architecture,
        "model_type": meta.model_type,
        "params_total": meta.params_total,
        "params_active": meta.params_active,
        "weights_bytes": meta.weights_bytes,
        "weights_bytes_loaded_on_h100": _loaded_bytes(meta),
        "weights_source": meta.weights_source,
        "quantization": meta.quantization,
        "attention": meta.attention,
        "head_dim": meta.head_dim,
        "num_kv_heads": meta.num_kv_heads,
        "num_layers": meta.num_layers,
        "kv_layers": meta.kv_layers,
        "sliding_window": meta.sliding_window,
        "sliding_window_layers": meta.sliding_window_layers,
        "kv_bytes_per_token_per_gpu": {
            f"tp{tp}": kv_bytes_per_token(meta, KV_DTYPE_BYTES, tp) for tp in TP_SIZES
        },
        "requires_trust_remote_code": meta.requires_remote_code,
        "vllm_0_33": "serves",
    }
    try:
        check_servable(meta, trust_remote_code=True)
    except UnsupportedModelError as exc:
        facts["vllm_0_33"] = f"not supported: {exc.message.split('is not supported: ', 1)[1]}"
    return facts


def _loaded_bytes(meta: Any) -> int:
    """All weights as vLLM loads them with --dtype auto on an sm90 GPU, over every GPU."""
    dtype = resolve_weight_dtype("auto", meta.torch_dtype, "9.0")
    per_param = dtypes.weight_bytes_per_param(meta.quantization) if meta.quantization else None
    return model_weights_bytes(meta, dtypes.dtype_bytes(dtype), meta.quantization, per_param)


def golden_path(folder: Path) -> Path:
    """tests/golden/<folder name>.json."""
    return GOLDEN / f"{folder.name}.json"
