"""Statistics, comparison and factors of `benchmark`, on hand-made request records."""

from __future__ import annotations

import pytest

from vllm_wizard.core.benchmark import (
    RequestRecord,
    choose_served_model,
    compare,
    completion_payload,
    default_num_prompts,
    equivalent_bench_command,
    measured_factors,
    prompt_token_ids,
    summarize,
)
from vllm_wizard.core.corrections import PerformanceFactors
from vllm_wizard.errors import NotOpenAICompatibleError, UserInputError
from vllm_wizard.schemas.benchmark import BenchmarkWorkload
from vllm_wizard.schemas.plan import PerformanceReport

ESTIMATE = PerformanceReport(
    decode_toks_per_s_range=(50.0, 200.0),
    output_toks_per_s_range=(100.0, 400.0),
    tpot_ms_range=(5.0, 20.0),
    prefill_toks_per_s_range=(1000.0, 4000.0),
    ttft_ms_range=(25.0, 100.0),
    requests_per_s_range=(1.0, 4.0),
    e2e_latency_ms_range=(500.0, 2000.0),
    assumptions=["a"],
)


def _record(ttft: float, latency: float, tokens: int) -> RequestRecord:
    gap = (latency - ttft) / (tokens - 1)
    return RequestRecord(
        ok=True,
        ttft_s=ttft,
        latency_s=latency,
        output_tokens=tokens,
        prompt_tokens=10,
        chunk_gaps_s=(gap,) * (tokens - 1),
    )


def test_summarize_medians_and_rates() -> None:
    records = [
        _record(0.1, 1.1, 11),  # TPOT 100 ms
        _record(0.2, 0.7, 11),  # 50 ms
        _record(0.3, 2.3, 11),  # 200 ms
        RequestRecord(ok=False, error="HTTP 500: boom"),
    ]
    m = summarize(records, duration_s=2.0)
    assert (m.completed, m.failed) == (3, 1)
    assert m.median_ttft_ms == pytest.approx(200.0)
    assert m.mean_ttft_ms == pytest.approx(200.0)
    assert m.median_tpot_ms == pytest.approx(100.0)
    assert m.median_e2e_latency_ms == pytest.approx(1100.0)
    assert m.mean_tpot_ms == pytest.approx(350 / 3, abs=0.001)
    assert m.total_output_tokens == 33 and m.output_toks_per_s == 16.5
    assert m.request_per_s == 1.5 and m.errors == ["HTTP 500: boom"]


def test_single_token_requests_have_no_tpot() -> None:
    m = summarize([RequestRecord(ok=True, ttft_s=0.1, latency_s=0.1, output_tokens=1)], 0.1)
    assert m.median_tpot_ms == 0.0 and m.median_ttft_ms == pytest.approx(100.0)


def test_compare_and_factors() -> None:
    m = summarize([_record(0.1, 0.1 + 9 * 0.02, 10)], duration_s=0.5)
    rows = {c.metric: c for c in compare(m, ESTIMATE)}
    assert rows["ttft_ms"].within_range and rows["ttft_ms"].ratio == pytest.approx(2.0)
    assert rows["tpot_ms"].ratio == pytest.approx(2.0)
    assert not rows["output_toks_per_s"].within_range
    assert rows["output_toks_per_s"].ratio == pytest.approx(0.1)
    assert rows["e2e_latency_ms"].measured == pytest.approx(280.0)
    factors = measured_factors(list(rows.values()), PerformanceFactors())
    assert factors == PerformanceFactors(ttft=2.0, tpot=2.0, output_throughput=0.1)
    again = measured_factors(
        list(rows.values()), PerformanceFactors(ttft=0.5, tpot=1, output_throughput=1)
    )
    assert again.ttft == pytest.approx(1.0)


def test_workload_shape() -> None:
    assert default_num_prompts(1) == 50 and default_num_prompts(32) == 160
    a, b = prompt_token_ids(100, 0, 7), prompt_token_ids(100, 1, 7)
    assert len(a) == 100 and a != b and a == prompt_token_ids(100, 0, 7)
    body = completion_payload("m", a, 16)
    assert body["stream"] and body["ignore_eos"] and body["max_tokens"] == 16


def test_choose_served_model() -> None:
    assert choose_served_model(["a", "b"], "b", None) == "b"
    assert choose_served_model(["only"], "org/x", None) == "only"
    assert choose_served_model([], None, "given") == "given"
    with pytest.raises(UserInputError, match="--served-model-name"):
        choose_served_model(["a", "b"], "c", None)
    with pytest.raises(NotOpenAICompatibleError):
        choose_served_model([], "c", None)


def test_equivalent_command_names_a_renamed_model() -> None:
    w = BenchmarkWorkload(prompt_tokens=10, gen_tokens=5, concurrency=2, num_prompts=50, seed=1)
    same = equivalent_bench_command("http://h:8000", "org/m", "org/m", w)
    renamed = equivalent_bench_command("http://h:8000", "org/m", "my m", w)
    assert "--served-model-name" not in same
    assert "--model org/m --served-model-name 'my m' --dataset-name random" in renamed
    assert (
        "--random-input-len 10 --random-output-len 5 --max-concurrency 2 --num-prompts 50" in same
    )
