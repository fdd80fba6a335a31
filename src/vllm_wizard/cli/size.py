"""`vllm-wizard size`: how many of which GPUs, laid out how, for a target load."""

from __future__ import annotations

import json
import sys
from typing import TYPE_CHECKING, Annotated, Any

import typer

from vllm_wizard.errors import InvalidParameterError
from vllm_wizard.schemas.request import DEFAULT_VLLM_VERSION
from vllm_wizard.schemas.size import SizeRequest

if TYPE_CHECKING:
    from rich.table import Table

    from vllm_wizard.schemas.size import SizeResult


def _help(field: str) -> str:
    return SizeRequest.model_fields[field].description or ""


PIPE_WIDTH = 170
OptInt = int | None
OptFloat = float | None


def size_command(
    model: Annotated[str, typer.Option("--model", "-m", help=_help("model"), show_default=False)],
    concurrency: Annotated[OptInt, typer.Option(help=_help("concurrency"))] = None,
    target_rps: Annotated[OptFloat, typer.Option(help=_help("target_rps"))] = None,
    target_output_tps: Annotated[OptFloat, typer.Option(help=_help("target_output_tps"))] = None,
    prompt_tokens: Annotated[int, typer.Option(help=_help("prompt_tokens"))] = 1024,
    gen_tokens: Annotated[int, typer.Option(help=_help("gen_tokens"))] = 256,
    max_model_len: Annotated[OptInt, typer.Option(help=_help("max_model_len"))] = None,
    max_ttft_ms: Annotated[OptFloat, typer.Option(help=_help("max_ttft_ms"))] = None,
    max_tpot_ms: Annotated[OptFloat, typer.Option(help=_help("max_tpot_ms"))] = None,
    gpu: Annotated[
        list[str] | None,
        typer.Option(
            "--gpu",
            metavar="GPU",
            help="GPU to consider; repeat for a shortlist [default: catalog].",
        ),
    ] = None,
    price: Annotated[
        list[str] | None,
        typer.Option(
            "--price", metavar="GPU=USD", help="Price override, GPU=USD_PER_GPU_HOUR; repeatable."
        ),
    ] = None,
    max_nodes: Annotated[int, typer.Option(help=_help("max_nodes"))] = 4,
    max_gpus: Annotated[int, typer.Option(help=_help("max_gpus"))] = 256,
    gpu_memory_utilization: Annotated[
        float, typer.Option(help=_help("gpu_memory_utilization"))
    ] = 0.90,
    headroom_gb: Annotated[float, typer.Option(help=_help("headroom_gb"))] = 1.0,
    vllm_version: Annotated[str, typer.Option(help=_help("vllm_version"))] = DEFAULT_VLLM_VERSION,
    revision: Annotated[str | None, typer.Option(help=_help("revision"))] = None,
    params_b: Annotated[OptFloat, typer.Option(help=_help("params_b"))] = None,
    top: Annotated[int, typer.Option(help="How many options to show.")] = 10,
    pick: Annotated[
        OptInt, typer.Option(help="Print the full `plan` of option N (1 = best).")
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help='Print {"options": [...]}.')] = False,
) -> None:
    """Which GPUs, how many and in what layout serve MODEL at a target load, cheapest first.

    Examples:

      vllm-wizard size --model meta-llama/Llama-3.3-70B-Instruct --target-output-tps 5000

      vllm-wizard size --model deepseek-ai/DeepSeek-V3 --gpu H100 --target-output-tps 2000

      vllm-wizard size --model Qwen/Qwen3-32B --concurrency 64 --max-tpot-ms 50 --pick 1
    """
    from vllm_wizard.core.sizing import size

    if pick is not None and pick < 1:
        raise InvalidParameterError(
            f"--pick {pick}: options are numbered from 1; use --pick 1 for the best.",
            field="pick",
        )
    fields: dict[str, Any] = {
        k: v for k, v in locals().items() if k in SizeRequest.model_fields and v is not None
    }
    fields["gpus"] = gpu or []
    fields["prices"] = _parse_prices(price or [])
    fields["top"] = max(top, pick or 0)
    result = size(SizeRequest(**fields))
    if pick is not None:
        _print_pick(result, pick, as_json)
    elif as_json:
        sys.stdout.write(json.dumps(result.model_dump(mode="json"), indent=2) + "\n")
    else:
        _print_result(result)


def _parse_prices(values: list[str]) -> dict[str, float]:
    """'H100=2.49' -> {'H100': 2.49}; one line naming the bad value otherwise."""
    prices = {}
    for value in values:
        name, sep, usd = value.rpartition("=")
        try:
            prices[name.strip()] = float(usd)
        except ValueError:
            sep = ""
        if not sep or not name.strip():
            raise InvalidParameterError(
                f"--price {value!r} is not GPU=USD_PER_HOUR; write it like --price H100=2.49.",
                field="price",
            )
    return prices


def _print_pick(result: SizeResult, pick: int, as_json: bool) -> None:
    """Run `plan` with option N's plan_args and print it as `plan` would."""
    from vllm_wizard.cli.output import print_plan
    from vllm_wizard.core.planner import plan
    from vllm_wizard.schemas.request import PlanRequest

    if pick > len(result.options):
        raise InvalidParameterError(
            f"--pick {pick}: the search found {len(result.options)} option(s); "
            f"pick one of 1-{len(result.options)}.",
            field="pick",
        )
    option = result.options[pick - 1]
    if option.needs_quantized_checkpoint:
        raise InvalidParameterError(
            f"--pick {pick}: that option needs a 4-bit ({option.quantization}) checkpoint of "
            f"{result.model}, which `plan` cannot size from the unquantized one; run `plan "
            "--model <the quantized checkpoint>` with the option's other plan_args, or pick "
            "another row.",
            field="pick",
        )
    if option.replicas > 1 or not as_json:
        sys.stderr.write(
            f"Row {pick}: {option.replicas} replica(s) of the plan below, {option.gpus_total} "
            f"{option.gpu_name} in all; each replica serves {option.plan_args['concurrency']} "
            f"concurrent request(s) at max_model_len {option.plan_args['max_model_len']} "
            "(the workload's prompt + output; pass --max-model-len to size for longer). "
            "Figures below are for one replica.\n"
        )
    print_plan(plan(PlanRequest(**option.plan_args)), "json" if as_json else "text")


def _print_result(result: SizeResult) -> None:
    from rich.console import Console

    # A pipe gets a width that keeps each option on one line; a terminal keeps its own.
    out = Console(highlight=False, width=None if sys.stdout.isatty() else PIPE_WIDTH)
    if not result.options:
        out.print(f"No option found for {result.model}.", markup=False)
    else:
        out.print(_options_table(result))
        out.print(
            "* Pareto front: no other option is both cheaper per million output tokens and "
            "faster per token. Run again with --pick N for the full plan of row N.",
            markup=False,
        )
        below = [r for r in result.pareto_ranks if r > len(result.options)]
        if below:
            shown = ", ".join(str(r) for r in below[:8])
            out.print(f"  Also on the front, below this table: ranks {shown} (--top).")
    for a in result.assumptions:
        out.print(f"  - {a}", markup=False)
    err = Console(stderr=True, highlight=False)
    s = result.search
    err.print(
        f"[dim]Searched {s.gpu_types} GPU types, {s.layouts} layouts ({s.pruned_by_weights} "
        f"shapes dropped on weights alone, {s.budgeted} memory budgets); {s.kept} reach the "
        "target.[/dim]"
    )
    for n in result.notes:
        err.print(f"  - {n}", markup=False)


def _options_table(result: SizeResult) -> Table:
    from rich.table import Table

    target = ", ".join(f"{k} {v:g}" for k, v in result.target.items())
    t = Table(title=f"{result.model}: options for {target} (approximate)", title_justify="left")
    for header in (
        "#",
        "GPUs",
        "layout",
        "weights / KV",
        "fits, spare GiB",
        "out tok/s",
        "TTFT ms",
        "TPOT ms",
        "$/h",
        "$/M out",
        "",
    ):
        t.add_column(
            header, justify="left" if header in {"GPUs", "layout", "weights / KV"} else "right"
        )
    for o in result.options:
        layout = f"TP{o.tensor_parallel_size} PP{o.pipeline_parallel_size}"
        if o.nodes > 1:
            layout += f" over {o.nodes} nodes"
        layout += f" x{o.replicas} @{o.concurrency_per_replica}"
        weights = o.weight_precision + ("!" if o.needs_quantized_checkpoint else "")
        t.add_row(
            str(o.rank),
            f"{o.gpus_total}x {o.gpu_name} ({o.gpus_per_node}/node)",
            layout,
            f"{weights} / {o.kv_cache_dtype}",
            f"{'yes' if o.fits else 'no'} {o.headroom_gb:,.1f}",
            f"{o.output_toks_per_s:,.0f}",
            f"{o.ttft_ms:,.0f}",
            f"{o.tpot_ms:,.1f}",
            "-" if o.usd_per_hour is None else f"{o.usd_per_hour:,.2f}",
            "-"
            if o.usd_per_million_output_tokens is None
            else f"{o.usd_per_million_output_tokens:,.3f}",
            "*" if o.pareto else "",
        )
    t.caption = (
        "layout: TP x PP per replica, x replicas @ sequences per replica. "
        "4bit! needs a quantized checkpoint. Speeds: pessimistic ends of the estimates."
    )
    return t
