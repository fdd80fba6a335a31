"""The `size` search: ranking, Pareto marking, targets, limits and multi-node layouts."""

from __future__ import annotations

import math
from functools import cache

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from vllm_wizard.core.gpu_catalog import resolve_gpu
from vllm_wizard.core.memory import weights_bytes_per_gpu
from vllm_wizard.core.model_source import load_model_metadata
from vllm_wizard.core.planner import plan
from vllm_wizard.core.sizing import size
from vllm_wizard.errors import InvalidParameterError, UnknownGpuError
from vllm_wizard.schemas.gpu import GpuSpec
from vllm_wizard.schemas.request import PlanRequest
from vllm_wizard.schemas.size import SizeOption, SizeRequest, SizeResult

LLAMA_70B = "meta-llama/Llama-3.3-70B-Instruct"
DEEPSEEK_V3 = "deepseek-ai/DeepSeek-V3"


@cache
def _size(**kwargs: object) -> SizeResult:
    return size(SizeRequest(**kwargs))  # type: ignore[arg-type]


def _all_llama_options() -> list[SizeOption]:
    return _size(model=LLAMA_70B, target_output_tps=5000.0, top=10_000).options


def test_options_are_ranked_by_cost_then_headroom() -> None:
    options = _all_llama_options()
    assert len(options) > 20
    keys = [(o.usd_per_hour, -o.headroom_gb) for o in options]
    assert keys == sorted(keys)
    assert [o.rank for o in options] == list(range(1, len(options) + 1))


def test_cost_is_price_times_gpus_and_per_token_cost_follows_throughput() -> None:
    for o in _all_llama_options()[:50]:
        price = resolve_gpu(o.gpu_name).spec.price_usd_per_hour
        assert price is not None
        assert o.gpus_total == o.tensor_parallel_size * o.pipeline_parallel_size * o.replicas
        assert o.usd_per_hour == pytest.approx(price * o.gpus_total, abs=0.01)
        per_million = o.usd_per_hour / (o.output_toks_per_s * 3600) * 1e6
        assert o.usd_per_million_output_tokens == pytest.approx(per_million, rel=1e-2)


def test_price_override_reorders_the_ranking() -> None:
    usual = _size(model=LLAMA_70B, target_output_tps=5000.0)
    assert usual.options[0].gpu_name != "H100 SXM 80GB"
    cheap = size(
        SizeRequest(model=LLAMA_70B, target_output_tps=5000.0, prices={"H100": 0.01}, top=3)
    )
    assert cheap.options[0].gpu_name == "H100 SXM 80GB"
    assert cheap.options[0].usd_per_hour == pytest.approx(0.01 * cheap.options[0].gpus_total)


def test_pareto_marks_exactly_the_non_dominated_options() -> None:
    options = _all_llama_options()

    def dominated(a: SizeOption) -> bool:
        ca, ta = a.usd_per_million_output_tokens, a.tpot_ms
        assert ca is not None
        return any(
            (b.usd_per_million_output_tokens or math.inf) <= ca
            and b.tpot_ms <= ta
            and ((b.usd_per_million_output_tokens or math.inf) < ca or b.tpot_ms < ta)
            for b in options
        )

    front = [o for o in options if o.pareto]
    assert 1 <= len(front) < len(options)
    assert _size(model=LLAMA_70B, target_output_tps=5000.0).pareto_ranks == [o.rank for o in front]
    assert all(o.pareto != dominated(o) for o in options)


def test_every_option_reaches_the_throughput_target() -> None:
    for o in _all_llama_options():
        assert o.fits
        assert o.output_toks_per_s >= 5000


def test_concurrency_target_is_covered_by_the_replicas() -> None:
    result = _size(model=LLAMA_70B, concurrency=300, top=200)
    assert result.target == {"concurrency": 300.0}
    for o in result.options:
        assert o.concurrency_per_replica * o.replicas >= 300
        assert o.plan_args["concurrency"] == o.concurrency_per_replica


def test_latency_limits_are_met_and_cost_more() -> None:
    free = _size(model=LLAMA_70B, target_output_tps=5000.0, top=10_000)
    limited = _size(model=LLAMA_70B, target_output_tps=5000.0, max_tpot_ms=20.0, top=10_000)
    assert limited.options
    assert all(o.tpot_ms <= 20.0 for o in limited.options)
    assert len(limited.options) < len(free.options)
    assert any(o.tpot_ms > 20.0 for o in free.options)


def test_deepseek_v3_on_h100_spans_nodes_because_one_8_gpu_node_cannot_hold_it() -> None:
    meta = load_model_metadata(DEEPSEEK_V3)
    h100 = resolve_gpu("H100").spec
    assert meta.weights_bytes is not None
    per_gpu = weights_bytes_per_gpu(meta, meta.weights_bytes, 8, 1)
    assert per_gpu > h100.memory_bytes * 0.9

    result = _size(model=DEEPSEEK_V3, gpus=("H100",), target_output_tps=2000.0)
    assert result.options
    for o in result.options:
        assert o.nodes > 1
        assert o.tensor_parallel_size == o.gpus_per_node
        assert o.pipeline_parallel_size == o.nodes
        assert o.plan_args["pipeline_parallel_size"] == o.nodes
        assert any("Ray" in n for n in o.notes)
    assert any(o.gpus_per_node == 8 and o.nodes == 2 for o in result.options)


def test_deepseek_v3_on_h200_stays_in_one_node() -> None:
    result = _size(model=DEEPSEEK_V3, gpus=("H200",), target_output_tps=2000.0)
    assert result.options
    assert all(o.nodes == 1 for o in result.options)


def test_quantized_alternatives_are_marked() -> None:
    precisions = {o.weight_precision: o for o in _all_llama_options()}
    assert set(precisions) == {"checkpoint", "fp8", "4bit"}
    assert precisions["4bit"].needs_quantized_checkpoint
    assert precisions["4bit"].plan_args["quantization"] == "awq"
    assert not precisions["fp8"].needs_quantized_checkpoint
    assert "quantization" not in precisions["checkpoint"].plan_args
    # A quantized checkpoint is searched as it is.
    deepseek = _size(model=DEEPSEEK_V3, gpus=("H100",), target_output_tps=2000.0)
    assert {o.weight_precision for o in deepseek.options} == {"checkpoint"}


@pytest.mark.parametrize(
    ("kwargs", "top"),
    [
        ({"model": LLAMA_70B, "target_output_tps": 5000.0}, 15),
        ({"model": DEEPSEEK_V3, "gpus": ("H100",), "target_output_tps": 2000.0}, 4),
        ({"model": "Qwen/Qwen3-30B-A3B", "concurrency": 64}, 10),
    ],
)
def test_plan_args_reproduce_each_option(kwargs: dict[str, object], top: int) -> None:
    for o in _size(**kwargs).options[:top]:
        if o.needs_quantized_checkpoint:
            with pytest.raises(InvalidParameterError, match="not quantized"):
                plan(PlanRequest(**o.plan_args))
            continue
        result = plan(PlanRequest(**o.plan_args))
        assert result.feasibility.fits == o.fits
        assert result.hardware.replicas == 1
        assert result.hardware.gpus * o.replicas == o.gpus_total
        low = result.performance.output_toks_per_s_range[0]
        assert low * o.replicas == pytest.approx(o.output_toks_per_s, abs=0.5)
        assert result.hardware.tensor_parallel_size == o.tensor_parallel_size
        assert result.performance.tpot_ms_range[1] == o.tpot_ms
        assert result.performance.ttft_ms_range[1] == o.ttft_ms
        assert result.feasibility.headroom_gb == pytest.approx(o.headroom_gb, abs=0.02)


def _without_price(monkeypatch: pytest.MonkeyPatch, name: str) -> None:
    """Make one catalog GPU unpriced, as the search sees it (catalog and name lookup)."""
    import vllm_wizard.core.sizing as sizing
    from vllm_wizard.core.gpu_catalog import GpuMatch, load_gpu_catalog

    def unpriced(spec: GpuSpec) -> GpuSpec:
        return spec.model_copy(update={"price_usd_per_hour": None}) if spec.name == name else spec

    catalog = tuple(unpriced(spec) for spec in load_gpu_catalog())
    monkeypatch.setattr(sizing, "load_gpu_catalog", lambda: catalog)
    monkeypatch.setattr(
        sizing, "resolve_gpu", lambda query: GpuMatch(spec=unpriced(resolve_gpu(query).spec))
    )


def test_unpriced_gpu_on_the_shortlist_is_ranked_last_with_a_note(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    _without_price(monkeypatch, "H800 SXM 80GB")
    result = size(
        SizeRequest(model=LLAMA_70B, gpus=["H800", "A100 80GB"], target_output_tps=2000, top=500)
    )
    names = [o.gpu_name for o in result.options]
    assert "H800 SXM 80GB" in names and "A100 SXM 80GB" in names
    first_unpriced = names.index("H800 SXM 80GB")
    assert all(o.usd_per_hour is None for o in result.options[first_unpriced:])
    assert all(not o.pareto for o in result.options if o.usd_per_hour is None)
    assert any("--price" in n for n in result.options[first_unpriced].notes)


def test_whole_catalog_search_skips_unpriced_gpus_and_says_so(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    _without_price(monkeypatch, "H800 SXM 80GB")
    result = size(SizeRequest(model=LLAMA_70B, target_output_tps=5000.0, top=10_000))
    assert any("no catalog price" in n and "H800 SXM 80GB" in n for n in result.notes)
    assert "H800 SXM 80GB" not in {o.gpu_name for o in result.options}
    assert result.search.pruned_by_weights > 0
    assert result.search.kept == len(result.options)


def test_two_targets_are_refused() -> None:
    with pytest.raises(InvalidParameterError, match="target-rps"):
        size(SizeRequest(model=LLAMA_70B, concurrency=4, target_rps=2.0))


def test_bad_price_and_unknown_gpu_are_user_errors() -> None:
    with pytest.raises(InvalidParameterError, match="--price"):
        size(SizeRequest(model=LLAMA_70B, prices={"H100": -1.0}))
    with pytest.raises(UnknownGpuError):
        size(SizeRequest(model=LLAMA_70B, gpus=["Z9000"]))


def test_context_longer_than_the_model_is_refused() -> None:
    with pytest.raises(InvalidParameterError, match="max-model-len"):
        size(SizeRequest(model=LLAMA_70B, prompt_tokens=200_000, concurrency=1))
    with pytest.raises(InvalidParameterError, match="--max-model-len 200000 exceeds"):
        size(SizeRequest(model=LLAMA_70B, max_model_len=200_000, concurrency=1))
    with pytest.raises(InvalidParameterError, match="do not fit in a context of 1024"):
        size(SizeRequest(model=LLAMA_70B, max_model_len=1024, concurrency=1))


def test_nothing_fits_gives_empty_options_and_a_hint() -> None:
    result = size(
        SizeRequest(model=DEEPSEEK_V3, gpus=["RTX 4090"], target_output_tps=100, max_nodes=2)
    )
    assert result.options == []
    assert any("No layout fits" in n for n in result.notes)


def _fake_layout(max_ok: int, sequence_bytes: int, activation_per_seq: int) -> object:
    """`at` for a layout whose memory holds `max_ok` sequences once activation grows."""
    from vllm_wizard.core.sizing import _Evaluation, _Speed

    spare = (max_ok + 1) * (sequence_bytes + activation_per_seq) - 1

    def at(concurrency: int) -> _Evaluation:
        headroom = spare - concurrency * (sequence_bytes + activation_per_seq)
        fits = headroom >= 0
        speed = _Speed(output_toks_per_s=10.0 * concurrency**0.5, ttft_ms=1.0, tpot_ms=1.0)
        return _Evaluation(concurrency, fits, headroom, ok=fits, estimate=lambda: speed)

    return at


@given(
    max_ok=st.integers(min_value=0, max_value=600),
    activation=st.integers(min_value=0, max_value=5000),
)
@settings(max_examples=200, deadline=None)
def test_best_concurrency_is_the_largest_within_tolerance(max_ok: int, activation: int) -> None:
    from vllm_wizard.core.sizing import CONCURRENCY_TOLERANCE, _best_concurrency

    at = _fake_layout(max_ok, 1000, activation)
    best = _best_concurrency(512, at, 1000.0, 0)  # type: ignore[arg-type]
    if max_ok < 1:
        assert best is None
        return
    assert best is not None and best.ok
    truth = min(max_ok, 512)
    assert truth - max(1, truth // CONCURRENCY_TOLERANCE) <= best.concurrency <= truth


@given(share=st.floats(min_value=1.0, max_value=220.0))
@settings(max_examples=100, deadline=None)
def test_enough_concurrency_covers_the_share_without_much_excess(share: float) -> None:
    from vllm_wizard.core.sizing import CONCURRENCY_TOLERANCE, _enough_concurrency

    at = _fake_layout(512, 1000, 0)
    best = at(512)  # type: ignore[operator]
    chosen = _enough_concurrency(at, at(1), best, share)  # type: ignore[arg-type, operator]
    assert chosen.speed.output_toks_per_s >= share
    lowest = math.ceil((share / 10.0) ** 2)
    assert chosen.concurrency <= math.ceil(lowest / (1 - 1 / CONCURRENCY_TOLERANCE)) + 1


def test_refining_only_what_shows_keeps_the_top_and_the_front_exact() -> None:
    def key(o: SizeOption) -> tuple[object, ...]:
        return (o.gpu_name, o.gpus_per_node, o.nodes, o.weight_precision, o.kv_cache_dtype)

    full = _all_llama_options()
    short = _size(model=LLAMA_70B, target_output_tps=5000.0)
    assert [(key(o), o.concurrency_per_replica, o.tpot_ms) for o in short.options] == [
        (key(o), o.concurrency_per_replica, o.tpot_ms) for o in full[:10]
    ]
    assert {key(full[r - 1]) for r in short.pareto_ranks} == {key(o) for o in full if o.pareto}


def test_an_moe_search_says_plan_may_choose_expert_parallel() -> None:
    from vllm_wizard.core.sizing import size
    from vllm_wizard.schemas.size import SizeRequest

    result = size(SizeRequest(model="openai/gpt-oss-120b", gpus=["H100"], concurrency=64))
    assert any("--enable-expert-parallel" in note for note in result.notes)
    dense = size(SizeRequest(model="meta-llama/Llama-3.1-8B-Instruct", gpus=["H100"]))
    assert not any("--enable-expert-parallel" in note for note in dense.notes)
