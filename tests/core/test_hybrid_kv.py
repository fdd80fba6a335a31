"""Sliding-window and Mamba hybrids: state sizes from real configs, the grouped per-request
cost in the budget and the workload view, and the two flags that change it."""

from __future__ import annotations

import json
import math

import pytest

from tests.conftest import CONFIGS, engine_settings
from vllm_wizard.core.kv_groups import kv_capacity
from vllm_wizard.core.memory import (
    EngineSettings,
    batches_in_flight,
    kv_bytes_per_token,
    kv_layer_specs,
    kv_layout,
    plan_gpu_budget,
    replica_request_kv_bytes,
)
from vllm_wizard.core.model_metadata import parse_model_config
from vllm_wizard.core.model_source import load_model_metadata
from vllm_wizard.core.planner import plan
from vllm_wizard.schemas.model import ModelMetadata
from vllm_wizard.schemas.request import PlanRequest
from vllm_wizard.units import GiB, MiB


def _meta(folder: str) -> ModelMetadata:
    return load_model_metadata(str(CONFIGS / folder))


def _settings(**kw: object) -> EngineSettings:
    return engine_settings(**{"max_model_len": 32768, **kw})


def test_nemotron_h_reads_mamba2_state_dims() -> None:
    meta = _meta("nvidia--Nemotron-H-56B-Base-8K")
    assert (meta.state_kind, meta.state_layers, meta.kv_layers) == ("mamba2", 54, 10)
    assert (meta.state_heads, meta.state_head_dim, meta.state_size) == (256, 64, 256)
    # No SSM dtype in the config: vLLM's NemotronH hook makes the SSM cache float32.
    assert (meta.state_groups, meta.state_conv_kernel, meta.state_ssm_dtype) == (8, 4, "float32")


@pytest.mark.parametrize(
    ("tp", "groups"),
    [(1, 8), (2, 8), (8, 8), (16, 16)],  # groups replicate to follow the heads past TP 8
)
def test_mamba2_state_per_tp_rank(tp: int, groups: int) -> None:
    meta = _meta("nvidia--Nemotron-H-56B-Base-8K")
    _, states = kv_layer_specs(meta, 2, tp)
    conv = (256 * 64 + 2 * groups * 256) // tp * (4 - 1) * 2  # bf16 conv state
    ssm = 256 // tp * 64 * 256 * 4  # float32 SSM state
    assert states[0].count == 54
    assert states[0].state_bytes == conv + ssm


def test_gated_delta_net_ssm_state_is_float32_where_the_config_says() -> None:
    meta = _meta("Qwen--Qwen3.5-27B")
    assert (meta.state_kind, meta.state_layers, meta.state_ssm_dtype) == (
        "gated_delta_net",
        48,
        "float32",
    )
    _, states = kv_layer_specs(meta, 2, 1)
    conv = (2 * 16 * 128 + 48 * 128) * 3 * 2
    assert states[0].state_bytes == conv + 48 * 128 * 128 * 4
    next_meta = _meta("Qwen--Qwen3-Next-80B-A3B-Thinking")
    assert next_meta.state_ssm_dtype is None  # bf16 like the model


def test_attention_only_models_keep_plain_blocks() -> None:
    meta = _meta("Qwen--Qwen3-8B")
    budget = plan_gpu_budget(meta, 80 * GiB, 16 * GiB, _settings())
    per_token = kv_bytes_per_token(meta, 2)
    assert not budget.kv_layout.hybrid
    assert budget.bytes_per_block == per_token * 16
    assert budget.blocks_per_request == 32768 // 16
    assert budget.kv_tokens == budget.num_blocks * 16


def test_mamba_hybrid_budget_uses_the_grouped_layout() -> None:
    meta = _meta("Qwen--Qwen3-Next-80B-A3B-Thinking")
    settings = _settings(tensor_parallel_size=4)
    budget = plan_gpu_budget(meta, 80 * GiB, 160 * GiB, settings)
    layout = budget.kv_layout
    assert budget.block_size > 16 and budget.block_size % 16 == 0
    blocks, concurrency, tokens = kv_capacity(layout, budget.kv_available_bytes, 32768)
    assert (budget.num_blocks, budget.kv_tokens) == (blocks, tokens)
    # The attention-only view would give far fewer tokens than the 12 attention layers hold.
    naive = budget.kv_available_bytes // kv_bytes_per_token(meta, 2, 4)
    assert budget.kv_tokens < naive
    assert concurrency == pytest.approx(tokens / 32768, rel=1e-3)


def test_sliding_layers_are_window_bounded_and_the_manager_flag_undoes_it() -> None:
    meta = _meta("google--gemma-3-1b-it")
    on = kv_layout(meta, _settings(max_num_batched_tokens=2048))
    off = kv_layout(meta, _settings(max_num_batched_tokens=2048, hybrid_kv_manager=False))
    sliding = [g for g in on.groups if g.kind == "sliding"]
    assert sliding and sliding[0].tokens_held == (math.ceil((511 + 4096) / 16) + 1) * 16
    assert not off.hybrid
    on_cost = on.blocks_per_request * on.bytes_per_block
    off_cost = off.blocks_per_request * off.bytes_per_block
    assert off_cost == 26 * 32768 * 2 * 256 * 2
    assert on_cost < off_cost / 3


def test_prefix_caching_off_keeps_one_state_page_per_group() -> None:
    meta = _meta("Qwen--Qwen3-Next-80B-A3B-Thinking")
    on = kv_layout(meta, _settings())
    off = kv_layout(meta, _settings(prefix_caching=False))
    state_groups = sum(1 for g in on.groups if g.kind == "state")
    assert state_groups == 3
    assert on.blocks_per_request - off.blocks_per_request == state_groups


def test_workload_view_uses_the_per_request_cost() -> None:
    request = PlanRequest(
        model=str(CONFIGS / "openai--gpt-oss-20b"),
        gpu="H100",
        max_model_len=65536,
        max_num_batched_tokens=2048,
        concurrency=4,
    )
    result = plan(request)
    f = result.feasibility
    meta = _meta("openai--gpt-oss-20b")
    settings = _settings(max_model_len=65536, max_num_batched_tokens=2048)
    per_request = replica_request_kv_bytes(meta, settings, 65536)
    assert f.kv_cache_gb == pytest.approx(per_request * 4 * 1.15 / GiB, abs=0.01)
    naive = 65536 * kv_bytes_per_token(meta, 2) * 4 * 1.15 / GiB
    assert f.kv_cache_gb < 0.6 * naive
    layout = f.per_gpu.kv_layout
    assert layout is not None and layout.sliding_tokens_per_request == 4240
    assert "Sliding-window layers hold at most 4,240 tokens per request" in layout.summary
    assert "disable-hybrid" not in result.artifacts.serve_command


def test_flags_are_emitted_only_when_set_and_change_the_plan() -> None:
    base = dict(model=str(CONFIGS / "openai--gpt-oss-20b"), gpu="H100", max_model_len=65536)
    default = plan(PlanRequest(**base))  # type: ignore[arg-type]
    off = plan(
        PlanRequest(**base, disable_hybrid_kv_cache_manager=True, enable_prefix_caching=False)  # type: ignore[arg-type]
    )
    assert "--disable-hybrid-kv-cache-manager" in off.artifacts.serve_command
    assert "--disable-prefix-caching" in off.artifacts.serve_command
    assert "prefix-caching" not in default.artifacts.serve_command
    assert off.feasibility.kv_cache_capacity_tokens < default.feasibility.kv_cache_capacity_tokens


def test_report_states_the_mamba_state_per_request() -> None:
    result = plan(
        PlanRequest(
            model=str(CONFIGS / "nvidia--Nemotron-H-56B-Base-8K"),
            gpu="H100",
            gpus=2,
            tensor_parallel_size=2,
            max_model_len=8192,
        )
    )
    layout = result.feasibility.per_gpu.kv_layout
    assert layout is not None
    per_layer = (256 * 64 + 2 * 8 * 256) // 2 * 3 * 2 + 128 * 64 * 256 * 4
    assert layout.state_mib_per_request == round(54 * per_layer / MiB, 2)
    assert f"Mamba state: {layout.state_mib_per_request:g} MiB per request" in layout.summary
    assert layout.block_size > 16
    assert any(layout.summary in note for note in result.notes)


def _gemma4_e2b() -> ModelMetadata:
    """gemma-4-E2B's text shape: 35 layers (every fifth full), the last 20 share earlier KV."""
    text = {
        "model_type": "gemma4_text",
        "hidden_size": 1536,
        "intermediate_size": 6144,
        "num_hidden_layers": 35,
        "num_attention_heads": 8,
        "num_key_value_heads": 1,
        "head_dim": 256,
        "global_head_dim": 512,
        "sliding_window": 512,
        "num_kv_shared_layers": 20,
        "vocab_size": 262144,
        "max_position_embeddings": 131072,
        "layer_types": ["full_attention" if i % 5 == 4 else "sliding_attention" for i in range(35)],
    }
    config = {
        "architectures": ["Gemma4ForConditionalGeneration"],
        "model_type": "gemma4",
        "dtype": "bfloat16",
        "tie_word_embeddings": True,
        "text_config": text,
    }
    return parse_model_config(config, model_id="google/gemma-4-E2B", source="local")


def test_gemma4_shared_kv_layers_hold_no_cache() -> None:
    meta = _gemma4_e2b()
    assert (meta.kv_layers, meta.sliding_window_layers) == (15, 12)


def test_gemma4_e2b_matches_the_vllm_0_21_start_up() -> None:
    # vmc-057: L4, vLLM 0.21.0, max_model_len 8192, default 2048 batched tokens; vLLM
    # printed 9.92 GiB available, 1,062,157 tokens and 129.66x.
    settings = _settings(max_model_len=8192, max_num_batched_tokens=2048, vllm_version="0.21.0")
    layout = kv_layout(_gemma4_e2b(), settings)
    assert layout.block_size == 16 and layout.group_size == 3 and len(layout.groups) == 5
    _, concurrency, tokens = kv_capacity(layout, int(9.92 * GiB), 8192)
    assert concurrency == pytest.approx(129.66, rel=0.002)
    assert tokens == pytest.approx(1_062_157, rel=0.002)


def test_vllm_0_33_counts_two_batches_in_flight_for_sliding_layers() -> None:
    def held(version: str) -> set[int | None]:
        settings = _settings(max_model_len=8192, max_num_batched_tokens=2048, vllm_version=version)
        return {
            g.tokens_held for g in kv_layout(_gemma4_e2b(), settings).groups if g.kind == "sliding"
        }

    # Sliding pages are half the full ones, so their blocks hold 32 tokens.
    assert held("0.21.0") == {(math.ceil((511 + 2048) / 32) + 1) * 32}
    assert held("0.33.0") == {(math.ceil((511 + 2 * 2048) / 32) + 1) * 32}


def test_qwen36_moe_from_its_config_matches_the_rtx5090_start_up() -> None:
    # vmc-031: Qwen3.6-35B-A3B (40 layers, every fourth full attention), fp8 KV, vLLM 0.24,
    # max_model_len 131072, 8192 batched tokens; vLLM printed 5.98 GiB, 567,978 tokens, 4.33x.
    # The text shape is the Qwen3.5-27B config's family with this model's sizes.
    text = json.loads((CONFIGS / "Qwen--Qwen3.5-27B" / "config.json").read_text())["text_config"]
    text.update(
        num_hidden_layers=40,
        layer_types=[("full" if i % 4 == 3 else "linear") + "_attention" for i in range(40)],
        num_key_value_heads=2,
        linear_num_value_heads=32,
        hidden_size=2048,
        num_attention_heads=16,
    )
    meta = parse_model_config(
        {"architectures": ["Qwen3_5MoeForConditionalGeneration"], "text_config": text},
        model_id="qwen3.6-35b-a3b",
        source="local",
    )
    settings = _settings(
        max_model_len=131072, max_num_batched_tokens=8192, kv_dtype_bytes=1, vllm_version="0.24.0"
    )
    layout = kv_layout(meta, settings)
    assert layout.block_size == 2096
    _, concurrency, tokens = kv_capacity(layout, int(5.98 * GiB), 131072)
    assert round(concurrency, 2) == 4.33
    assert tokens == pytest.approx(567_978, rel=0.005)


def test_vllm_0_33_mamba2_keeps_a_prefill_checkpoint_page() -> None:
    meta = _meta("nvidia--Nemotron-H-56B-Base-8K")
    new = kv_layout(meta, _settings(max_model_len=8192, tensor_parallel_size=4))
    old = kv_layout(
        meta, _settings(max_model_len=8192, tensor_parallel_size=4, vllm_version="0.24.0")
    )
    assert {g.blocks_per_request for g in new.groups if g.kind == "state"} == {3}
    assert {g.blocks_per_request for g in old.groups if g.kind == "state"} == {2}
    off = kv_layout(
        meta, _settings(max_model_len=8192, tensor_parallel_size=4, prefix_caching=False)
    )
    assert {g.blocks_per_request for g in off.groups if g.kind == "state"} == {1}


@pytest.mark.parametrize(("gpu", "pages", "align"), [("H100", 3, 64), ("A100 80GB", 2, 16)])
def test_gated_delta_net_on_hopper_keeps_a_checkpoint_on_a_64_token_grid(
    gpu: str, pages: int, align: int
) -> None:
    result = plan(
        PlanRequest(
            model=str(CONFIGS / "Qwen--Qwen3-Next-80B-A3B-Thinking"),
            gpu=gpu,
            gpus=4,
            tensor_parallel_size=4,
            max_model_len=32768,
        )
    )
    layout = result.feasibility.per_gpu.kv_layout
    assert layout is not None
    assert layout.block_size % align == 0 and layout.block_size > 16
    assert "Mamba/linear-attention layers" in layout.groups[1]
    assert layout.groups[1].endswith(f"{pages} blocks per request")
    assert f"held {pages}x" in layout.summary


def test_pipeline_stages_each_keep_a_batch_in_flight() -> None:
    assert [batches_in_flight("0.33.0", pp) for pp in (1, 2, 4)] == [2, 2, 4]
    assert batches_in_flight("0.21.0", 4) == 1
    meta = _meta("openai--gpt-oss-120b")
    four = kv_layout(
        meta,
        _settings(max_model_len=131072, max_num_batched_tokens=2048, pipeline_parallel_size=4),
    )
    assert {g.tokens_held for g in four.groups if g.kind == "sliding"} == {
        (math.ceil((127 + 4 * 2048) / 16) + 1) * 16
    }
