"""Corrections learned from real vLLM start-up logs, applied to later plans.

`vllm-wizard check-log --save` stores, for one (GPU, model family, vLLM release), how far
each estimated component (activation peak, non-torch memory, CUDA-graph estimate) was from
what vLLM printed. `plan` adds those bytes to its estimates and says so in its notes;
`plan --no-corrections` ignores them.

Store: one JSON file, `corrections.json`, in `$VLLM_WIZARD_CONFIG_DIR`, else the user config
folder (`$XDG_CONFIG_HOME/vllm-wizard/` on Linux, via platformdirs). Layout:

    {"version": 1, "corrections": {"<GPU>|<family>|<major.minor>": {
        "activation_bytes": int, "non_torch_bytes": int, "cuda_graph_bytes": int,
        "source": "where it came from"}}}

The API is four functions: `correction_key`, `find_correction`, `save_correction`,
`corrections_path`.
"""

from __future__ import annotations

import json
import os
from dataclasses import asdict
from pathlib import Path
from typing import Any

from vllm_wizard.core.memory import ComponentCorrection, parse_vllm_version
from vllm_wizard.errors import InvalidParameterError

CONFIG_DIR_ENV = "VLLM_WIZARD_CONFIG_DIR"
FILE_NAME = "corrections.json"
STORE_VERSION = 1


def corrections_path() -> Path:
    """Where the store lives (the file need not exist)."""
    override = os.environ.get(CONFIG_DIR_ENV)
    if override:
        return Path(override) / FILE_NAME
    import platformdirs

    return Path(platformdirs.user_config_dir("vllm-wizard", appauthor=False)) / FILE_NAME


def correction_key(gpu: str, family: str, vllm_version: str) -> str:
    """'<GPU>|<family>|<major.minor>': patch releases of one minor release share corrections."""
    v = parse_vllm_version(vllm_version)
    return f"{gpu.strip().upper()}|{family.strip().lower()}|{v.major}.{v.minor}"


def _read(path: Path) -> dict[str, Any]:
    if not path.exists():
        return {}
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as exc:
        raise InvalidParameterError(
            f"Corrections file {path} is unreadable ({exc}); delete it or fix the JSON.",
            field="corrections",
        ) from exc
    entries = data.get("corrections", {}) if isinstance(data, dict) else {}
    return entries if isinstance(entries, dict) else {}


def find_correction(
    gpu: str, family: str, vllm_version: str, path: Path | None = None
) -> tuple[ComponentCorrection, str] | None:
    """The stored correction for this (GPU, family, release) and its source, or None."""
    entry = _read(path or corrections_path()).get(correction_key(gpu, family, vllm_version))
    if not isinstance(entry, dict):
        return None
    correction = ComponentCorrection(
        activation_bytes=int(entry.get("activation_bytes", 0)),
        non_torch_bytes=int(entry.get("non_torch_bytes", 0)),
        cuda_graph_bytes=int(entry.get("cuda_graph_bytes", 0)),
    )
    return correction, str(entry.get("source", "a saved log"))


def save_correction(
    gpu: str,
    family: str,
    vllm_version: str,
    correction: ComponentCorrection,
    source: str,
    path: Path | None = None,
) -> Path:
    """Store (or replace) the correction for this (GPU, family, release); returns the file."""
    target = path or corrections_path()
    entries = _read(target)
    entries[correction_key(gpu, family, vllm_version)] = {**asdict(correction), "source": source}
    target.parent.mkdir(parents=True, exist_ok=True)
    payload = {"version": STORE_VERSION, "corrections": entries}
    target.write_text(json.dumps(payload, indent=2, sort_keys=True) + "\n", encoding="utf-8")
    return target
