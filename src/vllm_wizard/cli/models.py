"""`vllm-wizard models [QUERY]`: the built-in catalog, the ids `plan` answers offline."""

from __future__ import annotations

import json
import sys
from typing import Annotated, Any

import typer

from vllm_wizard.core.catalog import CatalogEntry, search_catalog
from vllm_wizard.errors import ModelNotFoundError


def models_command(
    query: Annotated[
        str | None,
        typer.Argument(help="Show only models whose id or an alias contains this text."),
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help='Print {"models": [...]}.')] = False,
) -> None:
    """List the models `plan` knows without the Hugging Face Hub (parameters in billions).

    Other Hub ids work online, or from the local Hugging Face cache.

    Examples:

      vllm-wizard models

      vllm-wizard models qwen --json
    """
    rows = [_row(entry) for entry in search_catalog(query)]
    if not rows:
        raise ModelNotFoundError(
            f"No catalog model matches {query!r}; run `vllm-wizard models` for the list, or "
            "pass a Hub id or a local folder with config.json to `plan`.",
            field="model",
        )
    if as_json:
        sys.stdout.write(json.dumps({"models": rows}, indent=2) + "\n")
        return
    _print_table(rows)


def _row(entry: CatalogEntry) -> dict[str, Any]:
    facts = entry.facts
    return {
        "id": entry.model_id,
        "aliases": list(entry.aliases),
        "architecture": facts["architecture"],
        "params_total_b": round(facts["params_total"] / 1e9, 2),
        "params_active_b": round(facts["params_active"] / 1e9, 2),
        "attention": facts["attention"],
        "max_position_embeddings": facts["max_position_embeddings"],
        "dtype": facts["torch_dtype"],
        "quantization": facts["quantization"],
        "requires_remote_code": facts["requires_remote_code"],
    }


def _print_table(rows: list[dict[str, Any]]) -> None:
    from rich.console import Console
    from rich.table import Table

    table = Table(title=f"Built-in catalog: {len(rows)} model(s), usable offline")
    for header in ("model id", "params (B)", "active (B)", "context", "weights", "also answers to"):
        table.add_column(
            header, justify="right" if "(B)" in header or header == "context" else "left"
        )
    for r in rows:
        table.add_row(
            r["id"],
            f"{r['params_total_b']:g}",
            f"{r['params_active_b']:g}",
            f"{r['max_position_embeddings'] or '?'}",
            r["quantization"] or r["dtype"],
            ", ".join(r["aliases"]),
        )
    width = None if sys.stdout.isatty() else 160
    Console(highlight=False, width=width).print(table)
