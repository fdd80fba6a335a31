"""The arithmetic of `vllm-wizard benchmark`: workload, requests, statistics, factors.

Pure: the HTTP client (`vllm_wizard.loadgen`) hands over one `RequestRecord` per request
and the run's wall time; everything here turns those into the figures `vllm bench serve`
prints (median TTFT, median TPOT, output tok/s) and compares them with a plan's estimate.
Times are seconds (`_s`) inside records, milliseconds (`_ms`) in reports.
"""

from __future__ import annotations

import math
import random
import shlex
import statistics
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from vllm_wizard.core.corrections import PerformanceFactors
from vllm_wizard.errors import NotOpenAICompatibleError, UserInputError
from vllm_wizard.schemas.benchmark import (
    BenchmarkMeasurement,
    BenchmarkWorkload,
    MetricComparison,
    MetricName,
)
from vllm_wizard.schemas.plan import PerformanceReport

# Requests per run when --num-prompts is not given: the rule of the generated bench.sh
# (a few rounds of the planned concurrency, so most requests run at steady state).
BENCH_ROUNDS = 5
MIN_BENCH_PROMPTS = 50
# Random prompt token ids are drawn from this range: inside every common vocabulary and
# clear of the special tokens most tokenizers put at the very start or end.
PROMPT_TOKEN_ID_RANGE = (1000, 20000)


@dataclass(frozen=True)
class RequestRecord:
    """One streamed completion as the client saw it (seconds from the request's start)."""

    ok: bool
    ttft_s: float = 0.0
    latency_s: float = 0.0
    output_tokens: int = 0
    prompt_tokens: int | None = None
    chunk_gaps_s: tuple[float, ...] = field(default_factory=tuple)
    error: str | None = None

    @property
    def tpot_s(self) -> float | None:
        """(latency - TTFT) / (output tokens - 1); None for fewer than two tokens."""
        if not self.ok or self.output_tokens < 2:
            return None
        return (self.latency_s - self.ttft_s) / (self.output_tokens - 1)


def default_num_prompts(concurrency: int) -> int:
    """Requests in a run: BENCH_ROUNDS rounds of the concurrency, at least MIN_BENCH_PROMPTS."""
    return max(MIN_BENCH_PROMPTS, BENCH_ROUNDS * concurrency)


def prompt_token_ids(prompt_tokens: int, index: int, seed: int) -> list[int]:
    """Random token ids for request `index`: exact length, no tokenizer, distinct per request
    so the server's prefix cache cannot skip the prefill."""
    rng = random.Random(seed * 1_000_003 + index)
    low, high = PROMPT_TOKEN_ID_RANGE
    return [rng.randrange(low, high) for _ in range(prompt_tokens)]


def completion_payload(model: str, prompt_ids: list[int], max_tokens: int) -> dict[str, Any]:
    """Body of one streaming /v1/completions request that always generates max_tokens."""
    return {
        "model": model,
        "prompt": prompt_ids,
        "max_tokens": max_tokens,
        "ignore_eos": True,
        "temperature": 0.0,
        "stream": True,
        "stream_options": {"include_usage": True},
    }


def choose_served_model(served: Sequence[str], wanted: str | None, override: str | None) -> str:
    """The model name to put in requests: --served-model-name, the planned model, or the one
    model the server lists."""
    if override:
        return override
    if not served:
        raise NotOpenAICompatibleError(
            "The server's /v1/models lists no model; pass --served-model-name with the name "
            "the server serves.",
            field="url",
        )
    if wanted is not None and wanted in served:
        return wanted
    if len(served) == 1:
        return served[0]
    raise UserInputError(
        f"The server serves {', '.join(served)}; none is --model {wanted!r}. Pass "
        "--served-model-name with one of them.",
        field="served_model_name",
    )


def summarize(records: Sequence[RequestRecord], duration_s: float) -> BenchmarkMeasurement:
    """Medians and rates over the completed requests, as `vllm bench serve` computes them."""
    done = [r for r in records if r.ok]
    ttfts = [r.ttft_s * 1000 for r in done]
    tpots = [t * 1000 for r in done if (t := r.tpot_s) is not None]
    gaps = [g * 1000 for r in done for g in r.chunk_gaps_s]
    output = sum(r.output_tokens for r in done)
    prompts = [r.prompt_tokens for r in done if r.prompt_tokens is not None]
    return BenchmarkMeasurement(
        completed=len(done),
        failed=len(records) - len(done),
        duration_s=round(duration_s, 4),
        total_output_tokens=output,
        mean_prompt_tokens=_mean(prompts),
        mean_output_tokens=_mean([r.output_tokens for r in done]),
        median_ttft_ms=_median(ttfts),
        mean_ttft_ms=_mean(ttfts),
        median_tpot_ms=_median(tpots),
        mean_tpot_ms=_mean(tpots),
        median_itl_ms=_median(gaps),
        median_e2e_latency_ms=_median([r.latency_s * 1000 for r in done]),
        output_toks_per_s=round(output / duration_s, 2) if duration_s > 0 else 0.0,
        request_per_s=round(len(done) / duration_s, 3) if duration_s > 0 else 0.0,
        errors=sorted({r.error for r in records if r.error})[:5],
    )


def compare(measured: BenchmarkMeasurement, estimate: PerformanceReport) -> list[MetricComparison]:
    """Measured TTFT, TPOT, e2e latency (medians) and output tok/s beside the estimate."""
    pairs: list[tuple[MetricName, float, tuple[float, float]]] = [
        ("ttft_ms", measured.median_ttft_ms, estimate.ttft_ms_range),
        ("tpot_ms", measured.median_tpot_ms, estimate.tpot_ms_range),
        ("output_toks_per_s", measured.output_toks_per_s, estimate.output_toks_per_s_range),
        ("e2e_latency_ms", measured.median_e2e_latency_ms, estimate.e2e_latency_ms_range),
    ]
    return [
        MetricComparison(
            metric=name,
            measured=value,
            estimate_range=span,
            within_range=span[0] <= value <= span[1],
            ratio=round(value / _geometric_middle(span), 4) if _geometric_middle(span) else 0.0,
        )
        for name, value, span in pairs
    ]


def measured_factors(
    comparison: Sequence[MetricComparison], applied: PerformanceFactors
) -> PerformanceFactors:
    """Factors that move the uncorrected estimate onto the measurement.

    `applied` are the factors already inside the estimate compared against (1.0 each when
    none were), so saving twice converges instead of compounding.
    """
    ratio = {c.metric: c.ratio for c in comparison if c.ratio > 0 and math.isfinite(c.ratio)}
    return PerformanceFactors(
        ttft=round(applied.ttft * ratio.get("ttft_ms", 1.0), 4),
        tpot=round(applied.tpot * ratio.get("tpot_ms", 1.0), 4),
        output_throughput=round(applied.output_throughput * ratio.get("output_toks_per_s", 1.0), 4),
    )


def equivalent_bench_command(
    base_url: str, model: str, served_model: str, workload: BenchmarkWorkload
) -> str:
    """The `vllm bench serve` line that sends the same workload (as the generated bench.sh)."""
    renamed = ["--served-model-name", served_model] if served_model != model else []
    args = [
        "vllm",
        "bench",
        "serve",
        "--backend",
        "vllm",
        "--base-url",
        base_url,
        "--model",
        model,
        *renamed,
        "--dataset-name",
        "random",
        "--random-input-len",
        str(workload.prompt_tokens),
        "--random-output-len",
        str(workload.gen_tokens),
        "--max-concurrency",
        str(workload.concurrency),
        "--num-prompts",
        str(workload.num_prompts),
        "--ignore-eos",
        "--seed",
        str(workload.seed),
    ]
    return shlex.join(args)


def _geometric_middle(span: tuple[float, float]) -> float:
    low, high = span
    return math.sqrt(low * high) if low > 0 and high > 0 else max(low, high, 0.0)


def _median(values: Sequence[float]) -> float:
    return round(statistics.median(values), 3) if values else 0.0


def _mean(values: Sequence[float]) -> float:
    return round(statistics.fmean(values), 3) if values else 0.0
