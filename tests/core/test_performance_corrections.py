"""The performance section of the corrections store and how plans apply it."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from vllm_wizard.core.corrections import (
    PerformanceFactors,
    apply_performance_factors,
    corrections_path,
    find_correction,
    find_performance_factors,
    performance_key,
    save_correction,
    save_performance_factors,
)
from vllm_wizard.core.memory import ComponentCorrection
from vllm_wizard.core.planner import plan
from vllm_wizard.schemas.plan import PerformanceReport
from vllm_wizard.schemas.request import PlanRequest

REPORT = PerformanceReport(
    decode_toks_per_s_range=(100.0, 150.0),
    output_toks_per_s_range=(800.0, 1200.0),
    tpot_ms_range=(6.7, 10.0),
    prefill_toks_per_s_range=(10000.0, 20000.0),
    ttft_ms_range=(50.0, 100.0),
    requests_per_s_range=(3.125, 4.688),
    e2e_latency_ms_range=(1750.0, 2650.0),
    assumptions=["a"],
)


def test_key_shares_minor_release_and_ignores_case() -> None:
    assert performance_key("h100 sxm 80gb", "Org/Model", "0.33.1") == performance_key(
        "H100 SXM 80GB", "org/model", "0.33.0"
    )
    assert performance_key("H100", "org/model", "0.33.0") != performance_key(
        "H100", "org/model", "0.34.0"
    )


def test_memory_and_performance_sections_coexist(tmp_path: Path) -> None:
    path = tmp_path / "c.json"
    save_correction("H100", "llama", "0.33.0", ComponentCorrection(activation_bytes=5), "log", path)
    save_performance_factors("H100", "org/m", "0.33.0", PerformanceFactors(tpot=2.0), "b", path)
    save_correction("H100", "qwen2", "0.33.0", ComponentCorrection(non_torch_bytes=7), "log", path)
    memory = find_correction("H100", "llama", "0.33.0", path)
    speed = find_performance_factors("H100", "org/m", "0.33.0", path)
    assert memory is not None and memory[0].activation_bytes == 5
    assert speed == (PerformanceFactors(tpot=2.0), "b")
    assert json.loads(path.read_text())["version"] == 2


def test_version_1_file_reads_without_performance(tmp_path: Path) -> None:
    path = tmp_path / "c.json"
    path.write_text(json.dumps({"version": 1, "corrections": {"H100|llama|0.33": {}}}))
    assert find_performance_factors("H100", "org/m", "0.33.0", path) is None
    assert find_correction("H100", "llama", "0.33.0", path) is not None


@pytest.mark.parametrize("bad", [0, -1.5, "x", None, float("nan")])
def test_broken_factor_reads_as_one(tmp_path: Path, bad: object) -> None:
    path = tmp_path / "c.json"
    entry = {"ttft": bad, "tpot": 2.0, "output_throughput": 0.5}
    path.write_text(json.dumps({"version": 2, "performance": {"H100|org/m|0.33": entry}}))
    found = find_performance_factors("H100", "org/m", "0.33.0", path)
    assert found is not None and found[0] == PerformanceFactors(1.0, 2.0, 0.5)


def test_apply_scales_times_up_and_rates_down() -> None:
    out = apply_performance_factors(
        REPORT, PerformanceFactors(ttft=2.0, tpot=1.5, output_throughput=0.5)
    )
    assert out.ttft_ms_range == (100.0, 200.0)
    assert out.prefill_toks_per_s_range == (5000.0, 10000.0)
    assert out.tpot_ms_range == (10.1, 15.0)
    assert out.decode_toks_per_s_range == (66.7, 100.0)
    assert out.output_toks_per_s_range == (400.0, 600.0)
    assert out.requests_per_s_range == (1.562, 2.344)
    # e2e = TTFT + decode part: (100 + 1700 x 1.5, 200 + 2550 x 1.5)
    assert out.e2e_latency_ms_range == (2650.0, 4025.0)
    assert out.assumptions == REPORT.assumptions
    assert apply_performance_factors(REPORT, PerformanceFactors()) == REPORT


def test_plan_applies_saved_factors_and_says_so() -> None:
    request = PlanRequest(model="Qwen/Qwen3-0.6B", gpu="L4", concurrency=4)
    plain = plan(request)
    save_performance_factors(
        plain.hardware.gpu_name, plain.model.id, "0.33.0", PerformanceFactors(tpot=3.0), "test"
    )
    assert corrections_path().exists()
    corrected = plan(request)
    ignored = plan(request.model_copy(update={"use_corrections": False}))
    assert corrected.performance.tpot_ms_range[0] == pytest.approx(
        plain.performance.tpot_ms_range[0] * 3, abs=0.1
    )
    assert any("performance factors" in n and "TPOT x3.00" in n for n in corrected.notes)
    assert ignored.performance == plain.performance
    assert not any("performance factors" in n for n in ignored.notes)
    other_release = plan(request.model_copy(update={"vllm_version": "0.10.1"}))
    assert not any("performance factors" in n for n in other_release.notes)
