"""`vllm-wizard gpus [QUERY]`: the GPU catalog as a table, or as JSON with --json."""

from __future__ import annotations

import json
import sys
from typing import TYPE_CHECKING, Annotated

import typer

from vllm_wizard.core.gpu_catalog import gpu_entry, list_gpus, resolve_gpu
from vllm_wizard.schemas.gpu import GpuSpec

if TYPE_CHECKING:
    from rich.table import Table


def gpus_command(
    query: Annotated[
        str | None,
        typer.Argument(
            help="Show only GPUs whose name or alias contains this text, or the GPU of a cloud "
            "instance type (p5.48xlarge)."
        ),
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help='Print {"gpus": [...]}.')] = False,
) -> None:
    """List the GPUs the planner knows: memory, bandwidth, TFLOP/s, FP8, links and price.

    Examples:

      vllm-wizard gpus

      vllm-wizard gpus h100 --json
    """
    specs = list_gpus(query)
    if not specs and query is not None:
        match = resolve_gpu(query)  # instance names, loose spellings; raises with the closest rows
        specs = [match.spec]
        if match.note:
            sys.stderr.write(f"note: {match.note}\n")
    if as_json:
        sys.stdout.write(json.dumps({"gpus": [gpu_entry(s) for s in specs]}, indent=2) + "\n")
        return
    from rich.console import Console

    # A pipe gets a width that fits every column; a terminal keeps its own.
    width = None if sys.stdout.isatty() else 150
    Console(highlight=False, width=width).print(gpu_table(specs))


def gpu_table(specs: list[GpuSpec]) -> Table:
    """The catalog rows as a Rich table (memory in GiB, bandwidth in GB/s)."""
    from rich.table import Table

    table = Table(title="GPU catalog (dense tensor TFLOP/s; memory as the runtime reports it)")
    for header in ("GPU", "GiB", "GB/s", "BF16", "FP8", "INT8", "CC", "Link", "Form", "$/GPU-h"):
        table.add_column(
            header,
            justify="left" if header in {"GPU", "Link", "Form"} else "right",
            no_wrap=header == "GPU",
        )
    for spec in specs:
        entry = gpu_entry(spec)
        link = spec.interconnect
        if spec.interconnect_gbps:
            link = f"{link} {spec.interconnect_gbps:g} GB/s"
        table.add_row(
            spec.name,
            f"{entry['memory_gib']:.2f}",
            f"{spec.memory_bandwidth_gbps:g}",
            f"{spec.bf16_tflops_dense:g}",
            _optional(spec.fp8_tflops_dense),
            _optional(spec.int8_tops_dense),
            spec.compute_capability,
            link,
            spec.form_factor,
            _optional(spec.price_usd_per_hour),
        )
    return table


def _optional(value: float | None) -> str:
    return "-" if value is None else f"{value:g}"
