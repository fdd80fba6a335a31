"""TP validity, engine-arg defaults, and the serve command against vLLM's argument table."""

from __future__ import annotations

import shlex

import pytest

from tests.conftest import llama_meta
from vllm_wizard.core.dtypes import (
    normalize_dtype,
    normalize_kv_cache_dtype,
    normalize_quantization,
)
from vllm_wizard.core.recommend import (
    check_tp,
    is_valid_tp,
    recommend_max_num_batched_tokens,
    resolve_weight_dtype,
    tp_problem,
    tp_summary,
    valid_tp_sizes,
)
from vllm_wizard.core.render import render_serve_command
from vllm_wizard.core.vllm_flags import load_flag_table
from vllm_wizard.errors import InvalidLayoutError, InvalidParameterError
from vllm_wizard.schemas.request import PlanRequest
from vllm_wizard.units import GiB


def test_valid_tp_for_gqa_32q_8kv() -> None:
    assert valid_tp_sizes(llama_meta(), 32) == [1, 2, 4, 8, 16, 32]


def test_tp_that_does_not_divide_heads_is_invalid() -> None:
    meta = llama_meta(num_attention_heads=28, num_kv_heads=4, head_dim=128)
    assert not is_valid_tp(meta, 8)
    assert valid_tp_sizes(meta, 8) == [1, 2, 4]
    with pytest.raises(InvalidLayoutError, match="use one of 1, 2, 4"):
        check_tp(meta, 8)


def test_mla_only_needs_heads_to_divide() -> None:
    meta = llama_meta(attention="mla", mla_kv_dim=576, num_attention_heads=16, num_kv_heads=16)
    assert valid_tp_sizes(meta, 16) == [1, 2, 4, 8, 16]


@pytest.mark.parametrize(
    ("mode", "expected"), [("balanced", 16384), ("throughput", 32768), ("latency", 8192)]
)
def test_batched_tokens_ceiling_by_mode(mode: str, expected: int) -> None:
    req = PlanRequest(
        model="x", prompt_tokens=2000, gen_tokens=500, concurrency=64, batching_mode=mode
    )  # type: ignore[arg-type]
    assert recommend_max_num_batched_tokens(req, 64, 80 * GiB) == expected


def test_batched_tokens_never_below_max_num_seqs() -> None:
    req = PlanRequest(model="x", prompt_tokens=1, gen_tokens=1, concurrency=4096)
    assert recommend_max_num_batched_tokens(req, 4096, 80 * GiB) >= 4096


@pytest.mark.parametrize(
    ("requested", "checkpoint", "cc", "expected"),
    [
        ("auto", "bfloat16", "8.0", "bfloat16"),
        ("auto", "float32", "9.0", "bfloat16"),
        ("auto", "bfloat16", "7.5", "float16"),
        ("float16", "bfloat16", "9.0", "float16"),
    ],
)
def test_weight_dtype_resolution(requested: str, checkpoint: str, cc: str, expected: str) -> None:
    assert resolve_weight_dtype(requested, checkpoint, cc) == expected


@pytest.mark.parametrize(
    ("given", "vllm"),
    [
        ("bf16", "bfloat16"),
        ("fp16", "float16"),
        ("fp32", "float32"),
        ("auto", "auto"),
        ("half", "float16"),
    ],
)
def test_spec_dtype_spellings_map_to_vllm(given: str, vllm: str) -> None:
    assert normalize_dtype(given) == vllm


def test_kv_and_quant_spellings_map_to_vllm() -> None:
    table = load_flag_table()
    assert normalize_kv_cache_dtype("fp8_e4m3fn", table.kv_cache_dtypes) == "fp8_e4m3"
    assert normalize_quantization("none", table.quantization_methods) is None
    assert normalize_quantization("int8", table.quantization_methods) in table.quantization_methods
    with pytest.raises(InvalidParameterError, match="--kv-cache-dtype 'fp7'"):
        normalize_kv_cache_dtype("fp7", table.kv_cache_dtypes)
    with pytest.raises(InvalidParameterError, match="--dtype 'int3'"):
        normalize_dtype("int3")


def test_serve_command_uses_only_real_flags_with_valid_values() -> None:
    table = load_flag_table()
    args = {
        "model": "meta-llama/Llama-3.1-8B-Instruct",
        "tensor_parallel_size": 2,
        "dtype": "bfloat16",
        "gpu_memory_utilization": 0.9,
        "max_model_len": 8192,
        "kv_cache_dtype": "fp8_e4m3",
        "enforce_eager": True,
        "trust_remote_code": False,
    }
    cmd = render_serve_command(args, table)
    tokens = shlex.split(cmd)
    assert tokens[:3] == ["vllm", "serve", "meta-llama/Llama-3.1-8B-Instruct"]
    known = {f for flag in table.flags.values() for f in (flag.flag, flag.negative_flag) if f}
    assert all(t in known for t in tokens[3:] if t.startswith("--"))
    assert "--dtype bfloat16" in cmd and "--enforce-eager" in cmd
    assert "--no-trust-remote-code" in cmd
    assert table.flags["dtype"].choices is not None and "bfloat16" in table.flags["dtype"].choices


def test_unknown_dest_is_rejected() -> None:
    with pytest.raises(KeyError):
        render_serve_command({"model": "m", "swap_space": 4})


def test_grouped_quantization_limits_tp_to_whole_groups() -> None:
    # Llama-2-13B GPTQ: 40 heads, MLP 13824 = 108 groups of 128; TP 8 leaves 13.5 groups.
    meta = llama_meta(
        num_attention_heads=40,
        num_kv_heads=40,
        hidden_size=5120,
        intermediate_size=13824,
        quantization="gptq",
        quant_group_size=128,
    )
    assert valid_tp_sizes(meta, 8) == [1, 2, 4]
    assert "1728 columns per GPU" in (tp_problem(meta, 8) or "")
    unquantized = llama_meta(num_attention_heads=40, num_kv_heads=40, intermediate_size=13824)
    assert valid_tp_sizes(unquantized, 8) == [1, 2, 4, 5, 8]
    with pytest.raises(InvalidLayoutError, match="quantization groups; use one of 1, 2, 4"):
        check_tp(meta, 8)


def test_tp_summary_names_each_failing_size() -> None:
    text = tp_summary(llama_meta(), 8)
    assert text.startswith("valid TP sizes up to 8: 1, 2, 4, 8 (")
    assert "3 does not divide the 32 attention heads" in text
    assert "KV heads" not in text
