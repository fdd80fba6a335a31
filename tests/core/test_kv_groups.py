"""vLLM's hybrid KV-cache grouping: pages, groups, blocks per request and capacity."""

from __future__ import annotations

import math

import pytest

from vllm_wizard.core.kv_groups import (
    AttentionLayers,
    CacheSettings,
    StateLayers,
    kv_capacity,
    max_len_that_fits,
    plan_kv_layout,
)

GiB = 2**30


def _settings(**overrides: int | bool) -> CacheSettings:
    base: dict[str, int | bool] = dict(
        block_size=16, max_model_len=8192, max_num_batched_tokens=2048
    )
    base.update(overrides)
    return CacheSettings(**base)  # type: ignore[arg-type]


def test_full_attention_only_is_layers_times_tokens() -> None:
    per_token = 2 * 8 * 128 * 2  # Llama-3.1-8B layer, bf16, TP 1
    layout = plan_kv_layout([AttentionLayers("full", 32, per_token)], [], _settings())

    assert not layout.hybrid
    assert layout.bytes_per_block == 32 * 16 * per_token
    assert layout.blocks_per_request == 8192 // 16
    blocks, _, tokens = kv_capacity(layout, 10 * GiB, 8192)
    assert blocks == 10 * GiB // (32 * 16 * per_token)
    assert tokens == blocks * 16


def test_sliding_layers_hold_a_window_plus_in_flight_tokens() -> None:
    # Gemma-3-1B-like: 4 full + 22 sliding layers (window 512), 1 KV head of 256, bf16.
    per_token = 2 * 1 * 256 * 2
    layers = [AttentionLayers("full", 4, per_token), AttentionLayers("sliding", 22, per_token, 512)]
    layout = plan_kv_layout(layers, [], _settings(max_model_len=32768))

    assert layout.group_size == 4
    assert [g.kind for g in layout.groups] == ["full"] + ["sliding"] * 6
    assert layout.padding_layers == 2  # 6 groups x 4 slots for 22 layers
    sliding = layout.groups[1]
    assert sliding.blocks_per_request == math.ceil((512 - 1 + 2 * 2048) / 16) + 1
    assert layout.blocks_per_request == 32768 // 16 + 6 * sliding.blocks_per_request


def test_without_the_hybrid_manager_sliding_costs_like_full() -> None:
    per_token = 2 * 1 * 256 * 2
    layers = [AttentionLayers("full", 4, per_token), AttentionLayers("sliding", 22, per_token, 512)]
    off = plan_kv_layout(layers, [], _settings(max_model_len=32768, hybrid_manager=False))
    on = plan_kv_layout(layers, [], _settings(max_model_len=32768))

    assert not off.hybrid
    assert off.bytes_per_block == 26 * 16 * per_token
    on_tokens = kv_capacity(on, 4 * GiB, 32768)[2]
    off_tokens = kv_capacity(off, 4 * GiB, 32768)[2]
    assert on_tokens > 3 * off_tokens


def _qwen36_35b_a3b() -> tuple[list[AttentionLayers], list[StateLayers]]:
    """40 layers: 10 full attention (2 KV heads x 256, fp8 KV) and 30 Gated-DeltaNet."""
    conv = (2 * 16 * 128 + 32 * 128) * (4 - 1) * 2  # bf16 conv state
    ssm = 32 * 128 * 128 * 4  # fp32 recurrent state
    return [AttentionLayers("full", 10, 2 * 2 * 256 * 1)], [StateLayers(30, conv + ssm)]


@pytest.mark.parametrize(
    ("available_gib", "tokens", "concurrency"),
    [(5.98, 567_978, 4.33), (6.01, 569_878, 4.35)],  # vLLM 0.24 on an RTX 5090, reference log
)
def test_mamba_hybrid_raises_the_block_size_and_matches_vllm(
    available_gib: float, tokens: int, concurrency: float
) -> None:
    attention, states = _qwen36_35b_a3b()
    settings = _settings(max_model_len=131072, max_num_batched_tokens=8192)
    layout = plan_kv_layout(attention, states, settings)

    assert layout.block_size == 2096
    assert layout.group_size == 10 and len(layout.groups) == 4
    _, got_concurrency, got_tokens = kv_capacity(layout, int(available_gib * GiB), 131072)
    assert got_tokens == pytest.approx(tokens, rel=0.005)
    assert round(got_concurrency, 2) == concurrency


def test_prefix_caching_off_keeps_one_state_page_per_request() -> None:
    attention, states = _qwen36_35b_a3b()
    on = plan_kv_layout(attention, states, _settings(max_model_len=131072))
    off = plan_kv_layout(attention, states, _settings(max_model_len=131072, prefix_caching=False))

    assert on.blocks_per_request - off.blocks_per_request == 3


def test_max_len_that_fits_bisects_on_the_layout() -> None:
    per_token = 2 * 8 * 128 * 2
    layers = [AttentionLayers("full", 32, per_token)]

    def layout_for(length: int):  # type: ignore[no-untyped-def]
        return plan_kv_layout(layers, [], _settings(max_model_len=max(1, length)))

    longest = max_len_that_fits(layout_for, 1 * GiB, 131072)
    assert longest == (1 * GiB // (32 * 16 * per_token)) * 16


def test_no_cache_layers_is_an_error() -> None:
    with pytest.raises(ValueError, match="at least one layer"):
        plan_kv_layout([], [], _settings())


def test_full_layers_of_two_shapes_share_one_group() -> None:
    # Gemma 4 with the hybrid manager off: 256-wide sliding and 512-wide full layers all
    # become full attention; vLLM keeps one group whose per-layer pages add up.
    layers = [
        AttentionLayers("full", 5, 2 * 2 * 512 * 2),
        AttentionLayers("sliding", 25, 2 * 8 * 256 * 2, 1024),
    ]
    layout = plan_kv_layout(layers, [], _settings(hybrid_manager=False))
    assert len(layout.groups) == 1 and layout.padding_layers == 0
    assert layout.bytes_per_block == 16 * (5 * 4096 + 25 * 8192)
    assert layout.blocks_per_request == 8192 // 16


def test_an_all_sliding_model_keeps_its_window_without_the_manager() -> None:
    layers = [AttentionLayers("sliding", 32, 2 * 8 * 128 * 2, 4096)]
    on = plan_kv_layout(layers, [], _settings(max_model_len=32768))
    off = plan_kv_layout(layers, [], _settings(max_model_len=32768, hybrid_manager=False))
    assert off.blocks_per_request == on.blocks_per_request == math.ceil((4095 + 4096) / 16) + 1
