"""KV and budget arithmetic on small, hand-checkable examples (VLLM-NOTES section 8)."""

from __future__ import annotations

import math

import pytest

from tests.conftest import engine_settings, llama_meta
from vllm_wizard.core.memory import (
    EngineSettings,
    cudagraph_capture_sizes,
    kv_bytes_per_token,
    max_sequences_at_context,
    model_weights_bytes,
    plan_gpu_budget,
    replica_kv_bytes_per_token,
    weights_bytes_per_gpu,
)
from vllm_wizard.units import GiB


def _settings(**kw: object) -> EngineSettings:
    return engine_settings(**kw)


@pytest.mark.parametrize(
    ("tp", "expected"),
    [(1, 131_072), (2, 65_536), (4, 32_768), (8, 16_384), (16, 16_384)],
    ids=lambda v: str(v),
)
def test_llama_8b_kv_per_token_per_gpu(tp: int, expected: int) -> None:
    # 32 layers x 2 x max(1, 8 // tp) x 128 x 2 bytes; heads replicate past TP 8.
    assert kv_bytes_per_token(llama_meta(), 2, tp) == expected


def test_fp8_kv_halves_the_bytes() -> None:
    assert kv_bytes_per_token(llama_meta(), 1, 1) == 65_536


def test_mla_kv_is_not_split_by_tp() -> None:
    meta = llama_meta(
        attention="mla",
        mla_kv_dim=576,
        num_layers=61,
        kv_layers=61,
        num_attention_heads=128,
        num_kv_heads=128,
    )
    assert kv_bytes_per_token(meta, 2, 1) == 70_272
    assert kv_bytes_per_token(meta, 2, 8) == 70_272


def test_replica_kv_counts_replicated_heads() -> None:
    meta = llama_meta()
    assert replica_kv_bytes_per_token(meta, 2, 2, 1) == 131_072
    assert replica_kv_bytes_per_token(meta, 2, 16, 1) == 16 * 16_384


def test_pipeline_stage_with_most_layers_sets_kv() -> None:
    # 32 layers over 3 stages: the largest stage has 11.
    assert kv_bytes_per_token(llama_meta(), 2, 1, 3) == 11 * 2 * 8 * 128 * 2


def test_unquantized_weights_are_params_times_dtype() -> None:
    weights = model_weights_bytes(llama_meta(), 2, None, None)
    assert weights == 2 * 8_030_261_248
    assert abs(weights / GiB - 14.96) < 0.01


def test_quantized_checkpoint_loads_at_its_stored_size() -> None:
    meta = llama_meta(quantization="awq", weights_bytes=5_000_000_000)
    assert model_weights_bytes(meta, 2, None, 0.55) == 5_000_000_000


def test_weights_split_evenly_when_tp_within_kv_heads() -> None:
    assert weights_bytes_per_gpu(llama_meta(), 16_000, 2, 1) == 8_000


def test_weights_grow_when_kv_projections_replicate() -> None:
    meta = llama_meta()
    total = model_weights_bytes(meta, 2, None, None)
    assert weights_bytes_per_gpu(meta, total, 16, 1) > total / 16


def test_budget_accounts_like_vllm() -> None:
    meta = llama_meta()
    total = int(79.18 * GiB)
    weights = model_weights_bytes(meta, 2, None, None)
    budget = plan_gpu_budget(meta, total, weights, _settings())
    assert budget.requested_bytes == math.ceil(total * 0.9)
    spent = budget.weights_bytes + budget.overhead_bytes + budget.kv_available_bytes
    assert spent == budget.requested_bytes
    assert budget.bytes_per_block == 16 * 131_072
    assert budget.num_blocks == budget.kv_available_bytes // budget.bytes_per_block
    assert budget.blocks_per_request == 512
    assert budget.kv_tokens == int(budget.num_blocks / 512 * 8192)
    assert budget.will_start


def test_weights_over_budget_do_not_start() -> None:
    meta = llama_meta()
    budget = plan_gpu_budget(meta, 16 * GiB, model_weights_bytes(meta, 2, None, None), _settings())
    assert not budget.will_start
    assert budget.failure is not None and "weights" in budget.failure


def test_kv_too_small_for_one_request_does_not_start() -> None:
    meta = llama_meta()
    weights = model_weights_bytes(meta, 2, None, None)
    # 24 GiB card: room for some KV, but not one 131072-token request (16 GiB of KV).
    budget = plan_gpu_budget(meta, 24 * GiB, weights, _settings(max_model_len=131072))
    assert not budget.will_start
    assert budget.failure is not None and "one request" in budget.failure
    assert 0 < budget.estimated_max_model_len < 131072


def test_enforce_eager_drops_cuda_graph_memory() -> None:
    meta = llama_meta()
    eager = plan_gpu_budget(meta, 80 * GiB, 1, _settings(enforce_eager=True))
    graphs = plan_gpu_budget(meta, 80 * GiB, 1, _settings())
    assert eager.cuda_graph_bytes == 0 < graphs.cuda_graph_bytes


def test_larger_max_num_seqs_raises_activation_peak() -> None:
    meta = llama_meta()
    small = plan_gpu_budget(meta, 80 * GiB, 1, _settings(max_num_seqs=16))
    large = plan_gpu_budget(meta, 80 * GiB, 1, _settings(max_num_seqs=1024))
    assert large.activation_bytes > small.activation_bytes


def test_capture_sizes_follow_vllm_defaults() -> None:
    assert cudagraph_capture_sizes(1) == [1, 2]
    sizes = cudagraph_capture_sizes(1024)
    assert sizes[:4] == [1, 2, 4, 8] and sizes[-1] == 512


def test_spec_solvers_invert_each_other() -> None:
    free = 10 * GiB
    request = 8192 * 131_072
    n = max_sequences_at_context(free, request, 1.15)
    assert n * request * 1.15 <= free < (n + 1) * request * 1.15
    assert max_sequences_at_context(-1, request, 1.15) == 0
