"""Everything `plan` prints: data on stdout (report, JSON, YAML), hints on stderr."""

from __future__ import annotations

import json
import sys

import yaml
from rich.console import Console
from rich.table import Table
from rich.text import Text

from vllm_wizard.schemas.plan import PlanResult

BAR_WIDTH = 48


def print_plan(result: PlanResult, fmt: str, *, explain: bool = False) -> None:
    """Write the plan in `fmt` (text, json, yaml) to stdout."""
    data = result.model_dump(mode="json")
    if fmt == "json":
        sys.stdout.write(json.dumps(data, indent=2) + "\n")
    elif fmt == "yaml":
        sys.stdout.write(yaml.safe_dump(data, sort_keys=False))
    else:
        _print_report(result, explain)


def _print_report(r: PlanResult, explain: bool) -> None:
    out = Console(highlight=False)
    f, h = r.feasibility, r.hardware
    verdict = Text("FITS", style="bold green") if f.fits else Text("DOES NOT FIT", style="bold red")
    out.print(
        Text.assemble(
            verdict,
            f"  {r.model.id} on {h.gpus}x {h.gpu_name} "
            f"(TP {h.tensor_parallel_size}, PP {h.pipeline_parallel_size}, "
            f"{_copies(r)}); OOM risk: {f.oom_risk}",
        )
    )
    out.print(
        f"vLLM {r.vllm_version} would {'start' if f.will_start else 'NOT start'}. "
        "Memory in GiB (2^30 bytes).\n"
    )
    out.print(_budget_table(r))
    out.print(_memory_bar(r))
    out.print(_capacity_table(r))
    out.print(_args_table(r, explain))
    if f.will_start:
        out.print("\n[bold]Command[/bold]")
    else:
        out.print(
            "\n[bold red]Command (vLLM would NOT start with it as planned; see the warnings "
            "and remedies below)[/bold red]"
        )
    out.print(r.artifacts.serve_command, soft_wrap=True, markup=False)
    out.print(_performance_table(r))
    if not f.will_start:
        out.print("  (performance of a server that would not start: for comparison only)")
    for a in r.performance.assumptions:
        out.print(f"  - {a}", markup=False)
    if f.warnings:
        out.print("\n[bold yellow]Warnings[/bold yellow]")
        for w in f.warnings:
            out.print(f"  ! {w}", markup=False)
    if f.remedies:
        out.print("\n[bold]Remedies (approximate, in the order to try them)[/bold]")
        for line in f.remedies:
            out.print(f"  {line}", markup=False)
    if r.notes:
        err = Console(stderr=True, highlight=False)
        err.print("\n[dim]Notes[/dim]")
        for n in r.notes:
            err.print(f"  - {n}", markup=False)


def _budget_table(r: PlanResult) -> Table:
    g, f = r.feasibility.per_gpu, r.feasibility
    t = Table(
        title="VRAM per GPU (vLLM's start-up view) and per replica (workload view)",
        title_justify="left",
    )
    t.add_column("item")
    t.add_column("per GPU", justify="right")
    t.add_column("replica", justify="right")
    t.add_row("total memory", f"{g.vram_gb:.2f}", f"{f.vram_total_gb:.2f}")
    t.add_row(
        "target allocation (x utilization)",
        f"{g.target_alloc_gb:.2f}",
        f"{f.vram_target_alloc_gb:.2f}",
    )
    t.add_row("weights", f"{g.weights_gb:.2f}", f"{f.weights_gb:.2f}")
    t.add_row("activation peak", f"{g.activation_gb:.2f}", "")
    t.add_row("non-torch memory", f"{g.non_torch_gb:.2f}", "")
    t.add_row("CUDA graphs", f"{g.cuda_graph_gb:.2f}", "")
    t.add_row("overhead (sum of the three)", "", f"{f.overhead_gb:.2f}")
    t.add_row("KV cache capacity", f"{g.kv_cache_capacity_gb:.2f}", "")
    t.add_row("KV cache for the workload (x fragmentation factor)", "", f"{f.kv_cache_gb:.2f}")
    t.add_row("headroom", "", f"{f.headroom_gb:.2f}")
    return t


def _memory_bar(r: PlanResult) -> Text:
    """One GPU's memory as a stacked bar: weights, overhead, KV cache, unused."""
    g = r.feasibility.per_gpu
    overhead = g.activation_gb + g.non_torch_gb + g.cuda_graph_gb
    parts = [
        ("W", g.weights_gb, "blue"),
        ("O", overhead, "magenta"),
        ("K", max(0.0, g.kv_cache_capacity_gb), "green"),
    ]
    bar = Text("per GPU |")
    used = 0
    for char, gib, style in parts:
        cells = min(BAR_WIDTH - used, round(gib / g.vram_gb * BAR_WIDTH))
        bar.append(char * cells, style=style)
        used += cells
    bar.append("." * (BAR_WIDTH - used))
    bar.append("|  W weights  O overhead  K KV cache  . outside the budget")
    return bar


def _capacity_table(r: PlanResult) -> Table:
    f, ml = r.feasibility, r.vllm_args.get("max_model_len")
    t = Table(title="Capacity", title_justify="left", show_header=False)
    t.add_row("KV cache size (vLLM: 'GPU KV cache size')", f"{f.kv_cache_capacity_tokens:,} tokens")
    t.add_row(f"max concurrency for {ml:,} tokens (vLLM)", f"{f.vllm_max_concurrency:.2f}x")
    t.add_row(
        f"max concurrency at context {ml:,} (workload view: fragmentation, headroom)",
        str(f.max_concurrency_at_context),
    )
    t.add_row(
        "max context at the requested concurrency (workload view)",
        f"{f.max_context_at_concurrency:,}",
    )
    t.add_row("KV bytes per token per GPU", f"{f.per_gpu.kv_bytes_per_token:,}")
    layout = f.per_gpu.kv_layout
    if layout is not None:
        t.add_row("KV block size (vLLM ends up with)", f"{layout.block_size} tokens")
        if layout.sliding_tokens_per_request is not None or layout.state_mib_per_request:
            t.add_row("KV layout", layout.summary)
    return t


def _args_table(r: PlanResult, explain: bool) -> Table:
    t = Table(title="Recommended vLLM arguments", title_justify="left")
    t.add_column("argument")
    t.add_column("value")
    if explain:
        t.add_column("why")
    for key, value in r.vllm_args.items():
        row = [key, str(value)]
        if explain:
            row.append(r.explanations.get(key, ""))
        t.add_row(*row)
    return t


def _performance_table(r: PlanResult) -> Table:
    p = r.performance
    t = Table(title="Performance (approximate ranges)", title_justify="left", show_header=False)
    t.add_row("decode per request", _range(p.decode_toks_per_s_range, "tok/s"))
    t.add_row("output, all requests", _range(p.output_toks_per_s_range, "tok/s"))
    t.add_row("time per output token", _range(p.tpot_ms_range, "ms"))
    t.add_row("prefill, one replica", _range(p.prefill_toks_per_s_range, "tok/s"))
    t.add_row("time to first token", _range(p.ttft_ms_range, "ms"))
    t.add_row("requests", _range(p.requests_per_s_range, "req/s", digits=2))
    t.add_row("end-to-end latency", _range(p.e2e_latency_ms_range, "ms"))
    return t


def _copies(r: PlanResult) -> str:
    """How the GPUs hold the model: DP ranks of one server, or separate replicas."""
    dp = int(r.vllm_args.get("data_parallel_size") or 1)
    if dp > 1:
        return f"DP {dp} in one server"
    return f"{r.hardware.replicas} replica(s)"


def _range(pair: tuple[float, float], unit: str, digits: int = 1) -> str:
    return f"{pair[0]:,.{digits}f} - {pair[1]:,.{digits}f} {unit}"
