"""Text artifacts from recommended vLLM args: the one-line `vllm serve` command."""

from __future__ import annotations

import shlex
from typing import Any

from vllm_wizard.core.vllm_flags import FlagTable, load_flag_table


def serve_flag_tokens(vllm_args: dict[str, Any], table: FlagTable | None = None) -> list[str]:
    """Flags and values for every arg but the model, in the order given.

    Switches (store-true style) become the bare flag when true and the `--no-` form when
    false; a value of None is left out. Raises KeyError for a dest vLLM does not have.
    """
    table = table or load_flag_table()
    tokens: list[str] = []
    for dest, value in vllm_args.items():
        if dest == "model" or value is None:
            continue
        flag = table.flags[dest]
        if flag.is_switch:
            if value:
                tokens.append(flag.flag)
            elif flag.negative_flag:
                tokens.append(flag.negative_flag)
            continue
        tokens += [flag.flag, _format_value(value)]
    return tokens


def render_serve_command(vllm_args: dict[str, Any], table: FlagTable | None = None) -> str:
    """One-line shell command: `vllm serve MODEL --flag value ...`, safely quoted."""
    parts = ["vllm", "serve", str(vllm_args["model"]), *serve_flag_tokens(vllm_args, table)]
    return shlex.join(parts)


def _format_value(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:g}"
    return str(value)
