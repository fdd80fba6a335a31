"""Physical properties of the calibrated decode/prefill model, and the accuracy scoreboard."""

from __future__ import annotations

import importlib.util
import json
import math
import sys
from dataclasses import replace
from pathlib import Path
from types import ModuleType

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from vllm_wizard.core import performance
from vllm_wizard.core.catalog import catalog_metadata
from vllm_wizard.core.gpu_catalog import resolve_gpu
from vllm_wizard.core.performance import (
    MAX_SPREAD,
    PerfInputs,
    Workload,
    active_weight_bytes,
    build_inputs,
    estimate_performance,
    load_calibration,
    matmul_tflops,
    point_estimate,
)
from vllm_wizard.core.planner import plan
from vllm_wizard.schemas.request import PlanRequest

ROOT = Path(__file__).resolve().parents[2]
REFERENCE = ROOT.parent / "shared/reference/vllm-serving-performance.jsonl"


def inputs(
    model: str = "meta-llama/Llama-3.1-8B",
    gpu: str = "H100 SXM 80GB",
    *,
    tp: int = 1,
    concurrency: int = 1,
    prompt: int = 512,
    gen: int = 256,
    kv_tokens: int = 400_000,
    interconnect: str | None = None,
    quantization: str | None = None,
) -> PerfInputs:
    meta = catalog_metadata(model)
    assert meta is not None
    spec = resolve_gpu(gpu).spec
    kv_per_token = 131072 // tp  # Llama-3.1-8B's BF16 KV bytes per token
    return build_inputs(
        meta,
        spec,
        interconnect=interconnect or spec.interconnect,
        weights_bytes=2 * meta.params_total,
        kv_bytes_per_token_per_gpu=kv_per_token,
        tensor_parallel_size=tp,
        pipeline_parallel_size=1,
        replicas=1,
        quantization=quantization,
        workload=Workload(prompt, gen, concurrency, 256, kv_tokens),
    )


def test_shipped_calibration_is_sane() -> None:
    cal = load_calibration()
    assert all(0 < v <= 1 for v in cal.bandwidth_efficiency.values())
    assert {"nvidia_hbm", "nvidia_gddr", "amd"} <= set(cal.bandwidth_efficiency)
    assert 0 < cal.decode_mfu <= 1 and 0 < cal.prefill_mfu <= 1
    assert 1 < cal.spread <= MAX_SPREAD


def test_single_stream_decode_is_bandwidth_bound_below_roofline() -> None:
    inp = inputs()
    report = estimate_performance(inp)
    roofline = inp.memory_bandwidth_gbps * 1e9 / (inp.weights_bytes + 768 * 131072)
    low, high = report.decode_toks_per_s_range
    assert high <= roofline * 1.001
    assert low >= roofline * 0.3  # bandwidth efficiency well above a third on H100


@settings(max_examples=40, deadline=None)
@given(
    concurrency=st.integers(1, 512),
    prompt=st.integers(1, 8000),
    gen=st.integers(1, 4000),
    tp=st.sampled_from([1, 2, 4, 8]),
    model=st.sampled_from(["meta-llama/Llama-3.1-8B", "openai/gpt-oss-120b"]),
)
def test_ranges_are_ordered_bounded_and_below_roofline(
    concurrency: int, prompt: int, gen: int, tp: int, model: str
) -> None:
    inp = inputs(model, tp=tp, concurrency=concurrency, prompt=prompt, gen=gen)
    report = estimate_performance(inp)
    est = point_estimate(inp)
    for low, high in (
        report.decode_toks_per_s_range,
        report.output_toks_per_s_range,
        report.prefill_toks_per_s_range,
    ):
        assert 0 < low <= high <= low * MAX_SPREAD * 1.01
    assert report.decode_toks_per_s_range[1] <= 1 / est.roofline_step_s * 1.001
    assert report.output_toks_per_s_range[1] <= est.roofline_output_toks_per_s * 1.001
    assert report.ttft_ms_range[0] <= report.ttft_ms_range[1]
    assert report.e2e_latency_ms_range[0] >= report.ttft_ms_range[0]


def test_requests_per_second_follow_output_rate() -> None:
    report = estimate_performance(inputs(concurrency=32, gen=200))
    low, high = report.requests_per_s_range
    assert low == pytest.approx(report.output_toks_per_s_range[0] / 200, rel=0.01)
    assert high == pytest.approx(report.output_toks_per_s_range[1] / 200, rel=0.01)


def test_batching_trades_per_request_speed_for_total_throughput() -> None:
    one = estimate_performance(inputs(concurrency=1))
    many = estimate_performance(inputs(concurrency=64))
    assert many.decode_toks_per_s_range[1] < one.decode_toks_per_s_range[1]
    assert many.output_toks_per_s_range[0] > 10 * one.output_toks_per_s_range[0]


def test_drain_sums_the_harmonic_gaps_between_finishing_requests() -> None:
    # Exponential lengths of mean g: the expected time until the last of B finishes is
    # g x (1 + 1/2 + ... + 1/B) steps; the banded sum should stay within a few percent.
    inp = inputs(gen=200)
    for batch in (1, 7, 64, 1000):
        harmonic = sum(1 / j for j in range(1, batch + 1))
        drained = performance._drain_s(inp, batch, lambda b: 1.0)
        assert drained == pytest.approx(200 * harmonic, rel=0.04)


def test_varying_output_lengths_lower_burst_throughput() -> None:
    fixed = inputs(concurrency=256, prompt=200, gen=200)
    varying = replace(fixed, variable_lengths=True)
    queued = replace(varying, requests=1024)
    fixed_rate = point_estimate(fixed).output_toks_per_s
    varying_rate = point_estimate(varying).output_toks_per_s
    queued_rate = point_estimate(queued).output_toks_per_s
    assert varying_rate < 0.7 * fixed_rate
    # With a queue the batch stays full longer, so the tail weighs less.
    assert varying_rate < queued_rate < fixed_rate


def test_queued_prompts_ride_in_decode_steps_with_chunked_prefill() -> None:
    queued = replace(inputs(concurrency=64, prompt=2000, gen=200), variable_lengths=True)
    queued = replace(queued, requests=1024)
    v0 = replace(queued, chunked_prefill=False)
    chunked_rate = point_estimate(queued).output_toks_per_s
    separate_rate = point_estimate(v0).output_toks_per_s
    # 960 queued prompts of 2000 tokens: each costs its FLOPs, not another weight read.
    assert chunked_rate > separate_rate
    assert (
        performance._piggyback_s(queued, None)
        < 1 / point_estimate(queued).roofline_prefill_toks_per_s * 1.0001
    )


def test_a_prefill_chunk_pays_the_per_expert_cost_like_a_decode_step() -> None:
    moe = inputs("openai/gpt-oss-120b", prompt=4000, concurrency=8)
    cal = load_calibration()
    free = replace(cal, expert_overhead_s=0.0)
    bw = cal.bandwidth_efficiency["nvidia_hbm"]
    with_cost = performance._prefill_rate(moe, 8192, cal, bw)
    without = performance._prefill_rate(moe, 8192, free, bw)
    chunk_s = 8192 / with_cost - 8192 / without
    assert chunk_s == pytest.approx(cal.expert_overhead_s * 36 * 128, rel=0.01)


def test_memory_and_compute_time_add_up_in_a_calibrated_step() -> None:
    inp = inputs(concurrency=256, prompt=200, gen=200)
    cal = load_calibration()
    zero = replace(cal, decode_mfu=1e9, step_overhead_s=0.0, expert_overhead_s=0.0)
    memory_only = performance._stage_step_s(inp, 256, zero, 1.0)
    slow_math = replace(zero, decode_mfu=0.1)
    both = performance._stage_step_s(inp, 256, slow_math, 1.0)
    flops = 2 * inp.params_active * 256 + 4 * inp.attention_width * inp.num_layers * 300 * 256
    assert both == pytest.approx(memory_only + flops / (inp.matmul_tflops * 1e12 * 0.1), rel=1e-6)


def test_mla_decode_attends_over_the_latent_not_head_dim() -> None:
    meta = catalog_metadata("deepseek-ai/DeepSeek-R1")
    assert meta is not None and meta.attention == "mla" and meta.mla_kv_dim
    spec = resolve_gpu("H200 141GB").spec
    inp = build_inputs(
        meta,
        spec,
        interconnect=spec.interconnect,
        weights_bytes=meta.params_total,
        kv_bytes_per_token_per_gpu=meta.num_layers * meta.mla_kv_dim,
        tensor_parallel_size=8,
        pipeline_parallel_size=1,
        replicas=1,
        quantization="fp8",
        workload=Workload(4000, 200, 64, 256, 1_000_000),
    )
    assert inp.decode_attention_width == meta.num_attention_heads * meta.mla_kv_dim
    per_head = meta.hidden_size // meta.num_attention_heads  # what a naive hidden/heads gives
    narrow = replace(inp, decode_attention_width=meta.num_attention_heads * per_head)
    cal = load_calibration()
    assert performance._stage_step_s(inp, 64, cal, 0.8) > performance._stage_step_s(
        narrow, 64, cal, 0.8
    )


def test_kv_cache_caps_the_batch() -> None:
    roomy = point_estimate(inputs(concurrency=64, prompt=1000, gen=1000, kv_tokens=1_000_000))
    tight = point_estimate(inputs(concurrency=64, prompt=1000, gen=1000, kv_tokens=8_000))
    assert roomy.batch == 64 and tight.batch == 4
    assert tight.output_toks_per_s < roomy.output_toks_per_s


def test_moe_single_token_reads_only_routed_experts() -> None:
    total, active = 117_000_000_000, 5_100_000_000
    one = active_weight_bytes(2 * total, total, active, 128, 4, 1)
    many = active_weight_bytes(2 * total, total, active, 128, 4, 4096)
    assert one == pytest.approx(2 * active, rel=0.01)
    assert many == pytest.approx(2 * total, rel=0.01)
    assert active_weight_bytes(1e9, 10, 10, 0, 0, 1) == 1e9  # dense model reads everything


def test_tensor_parallel_all_reduce_is_slower_over_pcie() -> None:
    model = "meta-llama/Llama-3.3-70B-Instruct"
    nvlink = point_estimate(inputs(model, tp=4, interconnect="nvlink"))
    pcie = point_estimate(inputs(model, tp=4, interconnect="pcie"))
    assert 0 < nvlink.allreduce_s < pcie.allreduce_s
    assert pcie.decode_step_s > nvlink.decode_step_s


def test_fp8_math_rate_only_where_the_gpu_has_fp8() -> None:
    h100, a100 = resolve_gpu("H100 SXM 80GB").spec, resolve_gpu("A100 SXM 80GB").spec
    assert matmul_tflops(h100, "fp8") > 1.5 * matmul_tflops(h100, None)
    assert matmul_tflops(a100, "fp8") == matmul_tflops(a100, None)


def test_plan_reports_ranges_with_assumptions() -> None:
    result = plan(
        PlanRequest(
            model="meta-llama/Llama-3.1-8B-Instruct",
            gpu="A100 80GB",
            max_model_len=8192,
            concurrency=16,
        )
    )
    perf = result.performance
    assert perf.approximate
    assert any("Approximate" in line for line in perf.assumptions)
    assert any("queueing" in line for line in perf.assumptions)
    assert perf.output_toks_per_s_range[0] > perf.decode_toks_per_s_range[1]


# --- benchmarks/perf_accuracy.py ----------------------------------------------------------


def _scoreboard() -> ModuleType:
    path = ROOT / "benchmarks/perf_accuracy.py"
    spec = importlib.util.spec_from_file_location("perf_accuracy", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules["perf_accuracy"] = module
    spec.loader.exec_module(module)
    return module


def _row(**fields: object) -> dict[str, object]:
    base: dict[str, object] = {
        "case_id": "t001",
        "model": "meta-llama/Llama-3.1-8B",
        "gpu": "H100 80GB",
        "gpu_count": 1,
        "tp": 1,
        "vllm_version": "0.11.0",
    }
    base.update(fields)
    return base


def test_scoreboard_pairs_measurements_with_the_right_estimate() -> None:
    board = _scoreboard()
    decode = board.setup_case(
        _row(case_kind="single_stream", input_len=128, output_len=128, median_tpot_ms=8.0)
    )
    assert decode.metric == "decode" and decode.measured == pytest.approx(125.0)
    sharegpt = board.setup_case(
        _row(
            case_kind="throughput_saturation",
            dataset="ShareGPT",
            num_prompts=100,
            total_input_tokens=20_000,
            total_output_tokens=15_000,
            output_tok_s=3000.0,
            engine_flags="--max-num-seqs 32",
        )
    )
    assert sharegpt.metric == "output"
    assert (sharegpt.inputs.prompt_tokens, sharegpt.inputs.gen_tokens) == (200, 150)
    assert sharegpt.inputs.concurrency == 100 and sharegpt.inputs.max_num_seqs == 32
    static = board.setup_case(
        _row(
            case_kind="static_batch_latency",
            input_len=32,
            output_len=128,
            batch_size=8,
            e2e_latency_mean_ms=1000.0,
        )
    )
    assert static.measured == pytest.approx(8 * 128)
    with pytest.raises(board.Skip):
        board.setup_case(_row(case_kind="rate_limited", output_tok_s=1.0))


def test_scoreboard_runs_on_a_cases_file(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    board = _scoreboard()
    rows = [
        _row(case_kind="single_stream", input_len=128, output_len=128, median_tpot_ms=8.0),
        _row(
            case_id="t002",
            case_kind="throughput_concurrency",
            input_len=512,
            output_len=256,
            max_concurrency=64,
            output_tok_s=4000.0,
        ),
    ]
    cases = tmp_path / "cases.jsonl"
    cases.write_text("\n".join(json.dumps(r) for r in rows), encoding="utf-8")
    assert board.main(["--cases", str(cases), "--no-loo"]) == 0
    out = capsys.readouterr().out
    assert "t001" in out and "t002" in out and "median |log(mid/measured)|" in out


def test_fit_reproduces_measurements_made_with_known_constants() -> None:
    board = _scoreboard()
    truth = replace(load_calibration(), bandwidth_efficiency={"nvidia_hbm": 0.5})
    cases = []
    for i, (prompt, gen) in enumerate([(128, 128), (512, 256), (1024, 64)]):
        case = board.setup_case(
            _row(case_kind="single_stream", input_len=prompt, output_len=gen, median_tpot_ms=1.0)
        )
        case.measured = board.score(case, truth).mid
        case.case_id = f"t{i}"
        cases.append(case)
    start = replace(load_calibration(), bandwidth_efficiency={"nvidia_hbm": 0.9})
    before = max(abs(board.score(c, start).log_error) for c in cases)
    fitted = board.fit(cases, start)
    after = max(abs(board.score(c, fitted).log_error) for c in cases)
    assert before > 0.3 and after < 0.05


@pytest.mark.skipif(not REFERENCE.exists(), reason="shared reference measurements not present")
def test_shipped_constants_meet_the_issue_targets_on_the_reference_cases() -> None:
    board = _scoreboard()
    cal = load_calibration()
    cases = []
    for row in board.load_cases([REFERENCE]):
        try:
            cases.append(board.setup_case(row))
        except board.Skip:
            continue
    scores = [board.score(c, cal) for c in cases]
    assert len(scores) >= 20
    inside = sum(s.inside for s in scores) / len(scores)
    median = sorted(abs(s.log_error) for s in scores)[len(scores) // 2]
    assert inside >= 0.7
    assert median <= math.log(1.3)
    assert max(s.high / s.low for s in scores) <= 2.0 + 1e-6


def test_expert_parallel_ranks_read_only_their_share_of_the_experts() -> None:
    from vllm_wizard.core.memory import routed_expert_bytes

    meta = catalog_metadata("mistralai/Mixtral-8x7B-v0.1")
    assert meta is not None
    copies = replace(inputs("mistralai/Mixtral-8x7B-v0.1", concurrency=32), replicas=2)
    spread = replace(
        copies,
        expert_parallel=2,
        expert_bytes=float(routed_expert_bytes(meta, int(copies.weights_bytes))),
    )
    # 16 sequences per rank; with EP each GPU serves the 32 tokens of both ranks, but only
    # for its 4 of the 8 experts.
    assert performance._weights_read_per_gpu(spread, 16) < performance._weights_read_per_gpu(
        copies, 16
    )
    assert performance._all_to_all_s(copies, 16, 2e-5) == 0.0
    assert performance._all_to_all_s(spread, 16, 2e-5) > 0.0
    assert any("Expert parallel over 2 GPUs" in a for a in estimate_performance(spread).assumptions)
