"""What `vllm-wizard benchmark --json` prints: the workload sent, what was measured, and the
plan's estimate beside it.

Times are milliseconds (`_ms`) or seconds (`_s`); rates are tokens per second.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from vllm_wizard.schemas.plan import PerformanceReport

BENCHMARK_SCHEMA_VERSION = 1

_frozen = ConfigDict(extra="forbid", frozen=True)


class BenchmarkWorkload(BaseModel):
    """The requests sent: the same shape `vllm bench serve --dataset-name random` sends."""

    model_config = _frozen

    prompt_tokens: int = Field(ge=1, description="Prompt length of every request, tokens.")
    gen_tokens: int = Field(ge=1, description="max_tokens of every request (ignore_eos set).")
    concurrency: int = Field(ge=1, description="Requests in flight at once.")
    num_prompts: int = Field(ge=1, description="Requests in the run.")
    seed: int = Field(description="Seed of the random prompt token ids.")


class BenchmarkMeasurement(BaseModel):
    """Figures over the successful requests of one run, as `vllm bench serve` defines them."""

    model_config = _frozen

    completed: int = Field(ge=0, description="Requests that streamed to the end.")
    failed: int = Field(ge=0, description="Requests that failed.")
    duration_s: float = Field(ge=0, description="Wall time from the first request to the last.")
    total_output_tokens: int = Field(ge=0, description="Output tokens of completed requests.")
    mean_prompt_tokens: float = Field(ge=0, description="Prompt tokens per request (usage).")
    mean_output_tokens: float = Field(ge=0, description="Output tokens per request.")
    median_ttft_ms: float = Field(ge=0, description="Median time to first token, ms.")
    mean_ttft_ms: float = Field(ge=0, description="Mean time to first token, ms.")
    median_tpot_ms: float = Field(
        ge=0, description="Median over requests of (latency - TTFT) / (output tokens - 1), ms."
    )
    mean_tpot_ms: float = Field(ge=0, description="Mean of the same per-request TPOT, ms.")
    median_itl_ms: float = Field(ge=0, description="Median gap between streamed chunks, ms.")
    median_e2e_latency_ms: float = Field(
        ge=0, description="Median time from sending a request to its last chunk, ms."
    )
    output_toks_per_s: float = Field(ge=0, description="Output tokens / duration, all requests.")
    request_per_s: float = Field(ge=0, description="Completed requests / duration.")
    errors: list[str] = Field(description="Distinct error messages of failed requests.")


MetricName = Literal["ttft_ms", "tpot_ms", "output_toks_per_s", "e2e_latency_ms"]


class MetricComparison(BaseModel):
    """One measured figure beside the plan's approximate range."""

    model_config = _frozen

    metric: MetricName = Field(description="ttft_ms, tpot_ms, output_toks_per_s or e2e_latency_ms.")
    measured: float = Field(description="Measured value (median for the latencies).")
    estimate_range: tuple[float, float] = Field(description="The plan's [low, high].")
    within_range: bool = Field(description="low <= measured <= high.")
    ratio: float = Field(description="measured / geometric middle of the range.")


class BenchmarkResult(BaseModel):
    """The whole answer of `benchmark`."""

    model_config = _frozen

    schema_version: int = Field(
        default=BENCHMARK_SCHEMA_VERSION, description="Version of this JSON shape."
    )
    url: str = Field(description="Server base URL.")
    served_model: str = Field(description="Model name sent in each request.")
    server_vllm_version: str | None = Field(description="What the server's /version said.")
    workload: BenchmarkWorkload = Field(description="The requests sent.")
    measured: BenchmarkMeasurement = Field(description="What the run measured.")
    estimate: PerformanceReport | None = Field(
        description="The plan's approximate estimate, null without --gpu or --vram-gb."
    )
    comparison: list[MetricComparison] = Field(description="Measured beside estimated.")
    factors_saved_to: str | None = Field(description="Corrections file written by --save.")
    equivalent_command: str = Field(description="`vllm bench serve` line for the same workload.")
    notes: list[str] = Field(description="Assumptions and caveats of this run.")
