"""The argument table of `vllm serve` (shipped as data), used to emit and validate flags."""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import cache
from importlib import resources
from typing import Any

FLAGS_FILE = "vllm_serve_flags_0.33.0.json"


@dataclass(frozen=True)
class ServeFlag:
    """One option of `vllm serve`: its long flag, dest, choices and kind."""

    flag: str
    dest: str
    choices: tuple[str, ...] | None
    is_switch: bool
    negative_flag: str | None


@dataclass(frozen=True)
class FlagTable:
    """The parser table plus vLLM's lists of quantization methods and KV cache dtypes."""

    version: str
    flags: dict[str, ServeFlag]
    quantization_methods: frozenset[str]
    kv_cache_dtypes: frozenset[str]


def _to_flag(entry: dict[str, Any]) -> ServeFlag:
    names = [f for f in entry["flags"] if f.startswith("--")]
    positive = next(f for f in names if not f.startswith("--no-"))
    negative = next((f for f in names if f.startswith("--no-")), None)
    if negative is None and entry.get("action") == "EnableDisableAction":
        negative = next((f for f in names if f != positive), None)  # --enable-X / --disable-X
    choices = entry.get("choices")
    return ServeFlag(
        flag=positive,
        dest=entry["dest"],
        choices=tuple(str(c) for c in choices) if choices else None,
        is_switch=entry.get("nargs") == 0,
        negative_flag=negative,
    )


@cache
def load_flag_table() -> FlagTable:
    """Read the shipped argument table once."""
    text = resources.files("vllm_wizard.core.data").joinpath(FLAGS_FILE).read_text("utf-8")
    raw = json.loads(text)
    flags = {
        e["dest"]: _to_flag(e)
        for e in raw["arguments"]
        if "dest" in e and any(f.startswith("--") for f in e.get("flags", []))
    }
    return FlagTable(
        version=raw["vllm_version"],
        flags=flags,
        quantization_methods=frozenset(raw["quantization_methods"]),
        kv_cache_dtypes=frozenset(raw["kv_cache_dtypes"]),
    )
