"""`vllm-wizard benchmark --url URL`: send the planned workload to a running server and put
the measured TTFT, TPOT and output tok/s beside the plan's estimate."""

from __future__ import annotations

import datetime
import json
import sys
from typing import Annotated, Any

import typer

from vllm_wizard.errors import NotOpenAICompatibleError, UserInputError
from vllm_wizard.schemas.request import DEFAULT_VLLM_VERSION, PlanRequest

LABELS = {
    "ttft_ms": ("time to first token (median)", "ms"),
    "tpot_ms": ("time per output token (median)", "ms"),
    "output_toks_per_s": ("output, all requests", "tok/s"),
    "e2e_latency_ms": ("end-to-end latency (median)", "ms"),
}


def _help(field: str) -> str:
    return PlanRequest.model_fields[field].description or ""


def benchmark_command(
    url: Annotated[
        str,
        typer.Option(help="Base URL of the OpenAI-compatible server, e.g. http://localhost:8000."),
    ],
    model: Annotated[
        str | None,
        typer.Option(
            "--model", "-m", help="Model to plan for [default: the one model the server lists]."
        ),
    ] = None,
    served_model_name: Annotated[
        str | None, typer.Option(help="Model name to send, when the server renamed it.")
    ] = None,
    gpu: Annotated[
        str | None,
        typer.Option(help="GPU model, for the estimate and --save [default: measure only]."),
    ] = None,
    gpus: Annotated[int | None, typer.Option(help=_help("gpus"))] = None,
    vram_gb: Annotated[float | None, typer.Option(help=_help("vram_gb"))] = None,
    tensor_parallel_size: Annotated[
        int | None,
        typer.Option("--tensor-parallel-size", "-tp", help=_help("tensor_parallel_size")),
    ] = None,
    dtype: Annotated[str, typer.Option(help=_help("dtype"))] = "auto",
    quantization: Annotated[str | None, typer.Option(help=_help("quantization"))] = None,
    kv_cache_dtype: Annotated[str, typer.Option(help=_help("kv_cache_dtype"))] = "auto",
    max_model_len: Annotated[int | None, typer.Option(help=_help("max_model_len"))] = None,
    prompt_tokens: Annotated[int, typer.Option(help=_help("prompt_tokens"))] = 1024,
    gen_tokens: Annotated[int, typer.Option(help=_help("gen_tokens"))] = 256,
    concurrency: Annotated[int, typer.Option(help=_help("concurrency"))] = 1,
    num_prompts: Annotated[
        int | None,
        typer.Option(help="Requests to send [default: 5 x concurrency, at least 50, as bench.sh]."),
    ] = None,
    seed: Annotated[int, typer.Option(help="Seed of the random prompts.")] = 0,
    vllm_version: Annotated[
        str | None,
        typer.Option(
            help=f"vLLM release [default: the server's /version, else {DEFAULT_VLLM_VERSION}]."
        ),
    ] = None,
    use_corrections: Annotated[
        bool, typer.Option("--corrections/--no-corrections", help=_help("use_corrections"))
    ] = True,
    api_key: Annotated[
        str | None,
        typer.Option(envvar="VLLM_API_KEY", help="Bearer key, as given to `vllm serve --api-key`."),
    ] = None,
    timeout_s: Annotated[float, typer.Option(help="Seconds one request may take.")] = 600.0,
    save: Annotated[
        bool,
        typer.Option(help="Store measured/estimated ratios as corrections for later plans."),
    ] = False,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON on stdout.")] = False,
) -> None:
    """Measure TTFT, TPOT and output tok/s of a running server under the planned workload.

    Example: vllm-wizard benchmark --url http://localhost:8000 -m Qwen/Qwen3-8B --gpu H100 --concurrency 8
    """
    from vllm_wizard.core import benchmark as bench
    from vllm_wizard.loadgen import normalize_base_url, probe_server, run_workload
    from vllm_wizard.schemas.benchmark import BenchmarkResult, BenchmarkWorkload

    base = normalize_base_url(url)
    if timeout_s <= 0:
        raise UserInputError(
            f"--timeout-s {timeout_s:g} must be above 0; pass e.g. --timeout-s 600.",
            field="timeout_s",
        )
    workload = BenchmarkWorkload(
        prompt_tokens=prompt_tokens,
        gen_tokens=gen_tokens,
        concurrency=concurrency,
        num_prompts=num_prompts or bench.default_num_prompts(concurrency),
        seed=seed,
    )
    if save and gpu is None:
        raise UserInputError(
            "--save needs --gpu so the factors apply to that GPU model; add e.g. --gpu H100.",
            field="gpu",
        )
    info = probe_server(base, timeout_s=min(timeout_s, 30.0), api_key=api_key)
    served = bench.choose_served_model(info.models, model, served_model_name)
    version = vllm_version or info.vllm_version or DEFAULT_VLLM_VERSION
    plan_inputs: dict[str, Any] = {
        "gpu": gpu,
        "gpus": gpus,
        "vram_gb": vram_gb,
        "tensor_parallel_size": tensor_parallel_size,
        "dtype": dtype,
        "quantization": quantization,
        "kv_cache_dtype": kv_cache_dtype,
        "max_model_len": max_model_len,
        "prompt_tokens": prompt_tokens,
        "gen_tokens": gen_tokens,
        "concurrency": concurrency,
        "use_corrections": use_corrections,
    }
    result = _plan(model or served, version, plan_inputs) if gpu or vram_gb else None

    run = _run_with_progress(
        lambda on_done: run_workload(
            base, served, workload, timeout_s=timeout_s, on_request_done=on_done, api_key=api_key
        ),
        f"{workload.num_prompts} requests to {base}",
        workload.num_prompts,
    )
    measured = bench.summarize(run.records, run.duration_s)
    if measured.completed == 0:
        raise NotOpenAICompatibleError(
            f"All {workload.num_prompts} requests to {base} failed "
            f"({'; '.join(measured.errors) or 'no detail'}); check the server's log.",
            field="url",
        )
    comparison = bench.compare(measured, result.performance) if result else []
    saved_to = _save(result, comparison, base, workload, use_corrections) if save else None
    report = BenchmarkResult(
        url=base,
        served_model=served,
        server_vllm_version=info.vllm_version,
        workload=workload,
        measured=measured,
        estimate=result.performance if result else None,
        comparison=comparison,
        factors_saved_to=saved_to,
        equivalent_command=bench.equivalent_bench_command(base, model or served, served, workload),
        notes=_notes(workload, measured, served, model, result, version),
    )
    _print(report, as_json)


def _plan(model: str, version: str, inputs: dict[str, Any]) -> Any:
    """The plan for the benchmarked setup; options left unset keep the planner's defaults."""
    from vllm_wizard.core.planner import plan

    given = {k: v for k, v in inputs.items() if v is not None}
    return plan(PlanRequest(model=model, vllm_version=version, **given))


def _run_with_progress(run: Any, label: str, total: int) -> Any:
    """Run the workload with a progress bar on stderr (stdout stays for data)."""
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TimeElapsedColumn

    console = Console(stderr=True)
    with Progress(
        "[progress.description]{task.description}",
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=console,
        transient=True,
    ) as progress:
        task = progress.add_task(label, total=total)
        return run(lambda _record: progress.advance(task))


def _save(
    result: Any, comparison: list[Any], base: str, workload: Any, use_corrections: bool
) -> str:
    from vllm_wizard.core.benchmark import measured_factors
    from vllm_wizard.core.corrections import (
        PerformanceFactors,
        find_performance_factors,
        save_performance_factors,
    )

    gpu, model_id, version = result.hardware.gpu_name, result.model.id, result.vllm_version
    found = find_performance_factors(gpu, model_id, version) if use_corrections else None
    applied = found[0] if found else PerformanceFactors()
    factors = measured_factors(comparison, applied)
    when = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d")
    source = (
        f"benchmark of {base} on {when}: {workload.prompt_tokens}+{workload.gen_tokens} tokens, "
        f"concurrency {workload.concurrency}, TP {result.hardware.tensor_parallel_size}"
    )
    return str(save_performance_factors(gpu, model_id, version, factors, source))


def _notes(
    workload: Any, measured: Any, served: str, model: str | None, result: Any, version: str
) -> list[str]:
    notes = [
        "Prompts are random token ids of the exact length, different for every request, so "
        "the prefix cache cannot skip prefill; ignore_eos forces every output to max_tokens.",
        f"Estimates are approximate and target vLLM {version}.",
    ]
    if workload.concurrency > 1:
        notes.append(
            "With several requests in flight, measured TTFT includes waiting behind other "
            "prompts' prefill; the plan's TTFT range runs from an idle server (low) to "
            "queueing behind a burst (high)."
        )
    if model and served != model:
        notes.append(f"The server serves {model!r} as {served!r}; requests used {served!r}.")
    if measured.failed:
        notes.append(f"{measured.failed} request(s) failed and are left out of the figures.")
    if measured.completed and measured.mean_output_tokens < 0.95 * workload.gen_tokens:
        notes.append(
            f"Requests produced {measured.mean_output_tokens:g} tokens on average, fewer than "
            f"{workload.gen_tokens}: the server may ignore ignore_eos."
        )
    if result is None:
        notes.append("No estimate: pass --gpu (and --model) to compare with a plan.")
    else:
        notes += [n for n in result.notes if n.startswith("Applied measured performance")]
    return notes


def _print(report: Any, as_json: bool) -> None:
    if as_json:
        sys.stdout.write(json.dumps(report.model_dump(mode="json"), indent=2) + "\n")
        return
    from rich.console import Console
    from rich.table import Table

    out = Console(highlight=False)
    w, m = report.workload, report.measured
    out.print(
        f"{report.served_model} at {report.url}: {m.completed} of {w.num_prompts} requests, "
        f"{w.prompt_tokens} prompt + {w.gen_tokens} output tokens, concurrency {w.concurrency}, "
        f"{m.duration_s:.2f} s",
        markup=False,
    )
    table = Table(title="Measured vs plan (estimate is approximate)", title_justify="left")
    for column in ("metric", "measured", "estimate", "measured / estimate"):
        table.add_column(column, justify="left" if column == "metric" else "right")
    compared = {c.metric: c for c in report.comparison}
    values = {
        "ttft_ms": m.median_ttft_ms,
        "tpot_ms": m.median_tpot_ms,
        "output_toks_per_s": m.output_toks_per_s,
        "e2e_latency_ms": m.median_e2e_latency_ms,
    }
    for key, (label, unit) in LABELS.items():
        c = compared.get(key)
        span = f"{c.estimate_range[0]:,.1f} - {c.estimate_range[1]:,.1f} {unit}" if c else "-"
        ratio = f"{c.ratio:.2f}x{'' if c.within_range else ' (outside)'}" if c else "-"
        table.add_row(label, f"{values[key]:,.1f} {unit}", span, ratio)
    out.print(table)
    out.print("\nSame workload with vLLM's own tool:")
    out.print(report.equivalent_command, soft_wrap=True, markup=False)
    if report.factors_saved_to:
        out.print(f"saved performance factors to {report.factors_saved_to}", markup=False)
    err = Console(stderr=True, highlight=False)
    for note in report.notes:
        err.print(f"  - {note}", markup=False)
