"""Corrections learned from real vLLM runs, applied to later plans.

Two kinds share one store and one switch (`plan --no-corrections` ignores both):

- memory: `vllm-wizard check-log --save` stores, for one (GPU, model family, vLLM
  release), how far each estimated component (activation peak, non-torch memory, CUDA-graph
  estimate) was from what vLLM printed; `plan` adds those bytes to its estimates.
- performance: `vllm-wizard benchmark --save` stores, for one (GPU, model, vLLM release),
  measured / estimated ratios of TTFT, TPOT and output tok/s; `plan` scales its
  performance ranges by them. Keyed by model rather than family: speed follows size.

Both say so in the plan's notes.

Store: one JSON file, `corrections.json`, in `$VLLM_WIZARD_CONFIG_DIR`, else the user config
folder (`$XDG_CONFIG_HOME/vllm-wizard/` on Linux, via platformdirs). Layout (version 1 files
have no "performance" section and are read as is):

    {"version": 2,
     "corrections": {"<GPU>|<family>|<major.minor>": {
        "activation_bytes": int, "non_torch_bytes": int, "cuda_graph_bytes": int,
        "weights_bytes": int (absent in older files: 0), "source": "where it came from"}},
     "performance": {"<GPU>|<model id>|<major.minor>": {
        "ttft": float, "tpot": float, "output_throughput": float,
        "source": "where it came from"}}}
"""

from __future__ import annotations

import json
import math
import os
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from vllm_wizard.core.memory import ComponentCorrection, parse_vllm_version
from vllm_wizard.errors import InvalidParameterError
from vllm_wizard.schemas.plan import PerformanceReport

CONFIG_DIR_ENV = "VLLM_WIZARD_CONFIG_DIR"
FILE_NAME = "corrections.json"
STORE_VERSION = 2
MEMORY_SECTION = "corrections"
PERFORMANCE_SECTION = "performance"


@dataclass(frozen=True)
class PerformanceFactors:
    """Measured / estimated ratios; 1.0 leaves the estimate as it is (dimensionless)."""

    ttft: float = 1.0
    tpot: float = 1.0
    output_throughput: float = 1.0


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


def performance_key(gpu: str, model_id: str, vllm_version: str) -> str:
    """'<GPU>|<model id>|<major.minor>': one model's speed on one GPU and release."""
    return correction_key(gpu, model_id, vllm_version)


def _read_store(path: Path) -> dict[str, Any]:
    """The whole store document; {} when the file does not exist."""
    if not path.exists():
        return {}
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as exc:
        raise InvalidParameterError(
            f"Corrections file {path} is unreadable ({exc}); delete it or fix the JSON.",
            field="corrections",
        ) from exc
    return data if isinstance(data, dict) else {}


def _section(document: dict[str, Any], section: str) -> dict[str, Any]:
    entries = document.get(section, {})
    return entries if isinstance(entries, dict) else {}


def _read_section(path: Path, section: str) -> dict[str, Any]:
    return _section(_read_store(path), section)


def _write_entry(path: Path, section: str, key: str, entry: dict[str, Any]) -> Path:
    """Store one entry, keeping every other section and entry of the file."""
    document = _read_store(path)
    entries = _section(document, section)
    entries[key] = entry
    document[section] = entries
    document["version"] = STORE_VERSION
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(document, indent=2, sort_keys=True) + "\n", encoding="utf-8")
    return path


def find_correction(
    gpu: str, family: str, vllm_version: str, path: Path | None = None
) -> tuple[ComponentCorrection, str] | None:
    """The stored memory correction for this (GPU, family, release) and its source, or None."""
    entries = _read_section(path or corrections_path(), MEMORY_SECTION)
    entry = entries.get(correction_key(gpu, family, vllm_version))
    if not isinstance(entry, dict):
        return None
    correction = ComponentCorrection(
        activation_bytes=int(entry.get("activation_bytes", 0)),
        non_torch_bytes=int(entry.get("non_torch_bytes", 0)),
        cuda_graph_bytes=int(entry.get("cuda_graph_bytes", 0)),
        weights_bytes=int(entry.get("weights_bytes", 0)),
    )
    return correction, str(entry.get("source", "a saved log"))


def correction_releases(gpu: str, family: str, path: Path | None = None) -> list[str]:
    """The vLLM releases ('major.minor') with a stored memory correction for (GPU, family)."""
    prefix = correction_key(gpu, family, "0.0.0").rsplit("|", 1)[0] + "|"
    entries = _read_section(path or corrections_path(), MEMORY_SECTION)
    return sorted(key[len(prefix) :] for key in entries if key.startswith(prefix))


def save_correction(
    gpu: str,
    family: str,
    vllm_version: str,
    correction: ComponentCorrection,
    source: str,
    path: Path | None = None,
) -> Path:
    """Store (or replace) the memory correction for this (GPU, family, release)."""
    key = correction_key(gpu, family, vllm_version)
    entry = {**asdict(correction), "source": source}
    return _write_entry(path or corrections_path(), MEMORY_SECTION, key, entry)


def find_performance_factors(
    gpu: str, model_id: str, vllm_version: str, path: Path | None = None
) -> tuple[PerformanceFactors, str] | None:
    """The stored performance factors for this (GPU, model, release) and their source."""
    entries = _read_section(path or corrections_path(), PERFORMANCE_SECTION)
    entry = entries.get(performance_key(gpu, model_id, vllm_version))
    if not isinstance(entry, dict):
        return None
    factors = PerformanceFactors(
        ttft=_positive(entry.get("ttft")),
        tpot=_positive(entry.get("tpot")),
        output_throughput=_positive(entry.get("output_throughput")),
    )
    return factors, str(entry.get("source", "a saved benchmark"))


def save_performance_factors(
    gpu: str,
    model_id: str,
    vllm_version: str,
    factors: PerformanceFactors,
    source: str,
    path: Path | None = None,
) -> Path:
    """Store (or replace) the performance factors for this (GPU, model, release)."""
    key = performance_key(gpu, model_id, vllm_version)
    entry = {**asdict(factors), "source": source}
    return _write_entry(path or corrections_path(), PERFORMANCE_SECTION, key, entry)


def apply_performance_factors(
    report: PerformanceReport, factors: PerformanceFactors
) -> PerformanceReport:
    """Scale the estimate's ranges: times by their factor, rates by its inverse; end-to-end
    latency as its TTFT part and its decode part (e2e - TTFT) scaled separately."""

    def scale(pair: tuple[float, float], by: float, digits: int = 1) -> tuple[float, float]:
        return (round(pair[0] * by, digits), round(pair[1] * by, digits))

    ttft, e2e = report.ttft_ms_range, report.e2e_latency_ms_range
    decode_ms = (e2e[0] - ttft[0], e2e[1] - ttft[1])
    new_ttft = scale(ttft, factors.ttft)
    new_decode_ms = scale(decode_ms, factors.tpot)
    return report.model_copy(
        update={
            "ttft_ms_range": new_ttft,
            "prefill_toks_per_s_range": scale(report.prefill_toks_per_s_range, 1 / factors.ttft),
            "tpot_ms_range": scale(report.tpot_ms_range, factors.tpot),
            "decode_toks_per_s_range": scale(report.decode_toks_per_s_range, 1 / factors.tpot),
            "output_toks_per_s_range": scale(
                report.output_toks_per_s_range, factors.output_throughput
            ),
            "requests_per_s_range": scale(
                report.requests_per_s_range, factors.output_throughput, digits=3
            ),
            "e2e_latency_ms_range": (
                round(new_ttft[0] + new_decode_ms[0], 1),
                round(new_ttft[1] + new_decode_ms[1], 1),
            ),
        }
    )


def _positive(value: Any) -> float:
    """A stored factor, or 1.0 when it is missing, zero, negative or not a finite number."""
    try:
        number = float(value)
    except (TypeError, ValueError):
        return 1.0
    return number if math.isfinite(number) and number > 0 else 1.0
