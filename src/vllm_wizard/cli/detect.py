"""`vllm-wizard detect`: the GPUs of this machine, as a table or as JSON with --json."""

from __future__ import annotations

import json
import sys
from typing import TYPE_CHECKING, Annotated, Any

import typer

if TYPE_CHECKING:
    from rich.table import Table


def detect_command(
    as_json: Annotated[
        bool, typer.Option("--json", help="Print the same keys as `gpus --json`, plus free memory.")
    ] = False,
) -> None:
    """Detect local GPUs (NVML, nvidia-smi or rocm-smi): memory, free memory, driver, links.

    Exits 1 with a hint when no GPU is found; `plan` still works with --gpu or --vram-gb.

    Examples:

      vllm-wizard detect

      vllm-wizard detect --json
    """
    from vllm_wizard.core.gpu_detect import detect_gpus, detected_entries

    inventory = detect_gpus()
    entries = detected_entries(inventory)
    if as_json:
        document = {
            "gpus": entries,
            "count": len(entries),
            "driver_version": inventory.driver_version,
            "cuda_version": inventory.cuda_version,
            "interconnect": inventory.interconnect,
            "source": inventory.source,
            "notes": inventory.notes,
        }
        sys.stdout.write(json.dumps(document, indent=2) + "\n")
        return
    from rich.console import Console

    out = Console(highlight=False)
    out.print(_detected_table(entries))
    out.print(
        f"{len(entries)} GPU(s) via {inventory.source}; driver {inventory.driver_version or '?'}, "
        f"CUDA {inventory.cuda_version or '?'}; link between GPUs: {inventory.interconnect}."
    )
    if inventory.notes:
        err = Console(stderr=True, highlight=False)
        for note in inventory.notes:
            err.print(f"  - {note}", markup=False)


def _detected_table(entries: list[dict[str, Any]]) -> Table:
    from rich.table import Table

    table = Table(title="Detected GPUs (GiB = 2^30 bytes)")
    for header in ("#", "Name", "Catalog", "Total GiB", "Free GiB", "CC", "MIG"):
        table.add_column(header, justify="right" if "GiB" in header else "left")
    for e in entries:
        free = e["free_memory_gib"]
        table.add_row(
            str(e["index"]),
            e["name"],
            e["catalog_name"] or "(not in catalog)",
            f"{e['memory_gib']:.2f}",
            "?" if free is None else f"{free:.2f}",
            e["compute_capability"] or "?",
            e["mig_profile"] or "-",
        )
    return table
