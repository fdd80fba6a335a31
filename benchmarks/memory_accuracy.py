"""Scoreboard: the planner's per-GPU memory budget against what vLLM printed at start-up.

For every case in the reference file (or --cases FILE ...), runs `plan` with the case's own
settings and prints predicted against printed: weights per GPU, KV GiB per GPU, KV tokens,
maximum concurrency and whether vLLM started. Settings the case does not state get the
defaults of its vLLM release (utilization, max_num_seqs, max_num_batched_tokens); a case
without a version gets the newest release of its engine out on its source date
(benchmarks/vllm_release_dates.json, from PyPI), else V0: 0.7.3, V1: 0.11.0.

Two passes: "shipped" uses the constants in core/memory.py (fitted on these very cases);
"leave-one-out" refits the fitted constants on every other case before predicting each
case, so its figures say how the formulas do on a start-up they have not seen.

    python benchmarks/memory_accuracy.py [--cases FILE ...] [--no-loo]
"""

from __future__ import annotations

import argparse
import contextlib
import json
import statistics
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
from case_files import load_cases

from vllm_wizard.core import memory
from vllm_wizard.core.gpu_catalog import resolve_gpu
from vllm_wizard.core.model_source import load_model_metadata
from vllm_wizard.core.planner import plan
from vllm_wizard.schemas.model import ModelMetadata
from vllm_wizard.schemas.request import PlanRequest
from vllm_wizard.units import GiB, gib_to_bytes

DEFAULT_CASES = Path(__file__).resolve().parents[2] / "shared/reference/vllm-startup-memory.jsonl"
ENGINE_FALLBACK_VERSION = {"V0": "0.7.3", "V1": "0.11.0"}
UTILIZATION_TOLERANCE = 0.015
RELEASE_DATES: dict[str, str] = json.loads(
    (Path(__file__).with_name("vllm_release_dates.json")).read_text(encoding="utf-8")
)["releases"]
FITTED = (
    "LOGITS_BYTES_PER_ENTRY",
    "FORWARD_MLP_FACTOR",
    "NON_TORCH_BASE_BYTES",
    "NON_TORCH_TP_BYTES",
)


class Skip(Exception):
    """The case cannot be replayed offline; the message says why."""


@dataclass
class Setup:
    """One case turned into planner input."""

    case: dict[str, Any]
    meta: ModelMetadata
    request: PlanRequest
    version: str
    version_assumed: bool
    note: str | None = None


@dataclass
class Row:
    """Predicted against printed for one case."""

    case_id: str
    engine: str
    pred: dict[str, float | bool | None]
    actual: dict[str, float | bool | None]


def _gpu_name(case: dict[str, Any]) -> str | None:
    name = case.get("gpu_name")
    if not name:
        return None
    if "+" in name:
        raise Skip(f"mixed GPUs ({name})")
    return name.split(" (")[0].replace("NVIDIA ", "").strip()


def setup_case(case: dict[str, Any]) -> Setup:
    model = str(case.get("model_id") or "").split(" ")[0]
    if not model or "not named" in str(case.get("model_id")) or "/" not in model:
        raise Skip("model not named by a Hub id")
    try:
        meta = load_model_metadata(model)
    except Exception as exc:
        raise Skip(f"no config available offline for {model}") from exc

    gpu = _gpu_name(case)
    total_gib = case.get("gpu_total_memory_gib")
    if gpu is not None:
        try:
            spec = resolve_gpu(gpu).spec
        except Exception:
            gpu = None
            spec = None
        if spec is not None and total_gib is None:
            total_gib = spec.memory_bytes / GiB
    if total_gib is None:
        raise Skip("GPU memory unknown (no GPU name in the catalog, no printed total)")

    version_text = case.get("vllm_version")
    assumed = False
    try:
        version = str(memory.parse_vllm_version(version_text)) if version_text else ""
    except Exception:
        version = ""
    if not version:
        version = release_at(case.get("source_date"), case.get("vllm_engine") or "V1")
        assumed = True

    tp = case.get("tensor_parallel_size") or case.get("gpu_count") or 1
    pp = case.get("pipeline_parallel_size") or 1
    gpus = max(case.get("gpu_count") or 1, tp * pp)
    max_len = (
        case.get("max_model_len")
        or case.get("max_concurrency_len")
        or meta.max_position_embeddings
        or 2048
    )
    seqs_default, tokens_default = memory.default_batch_limits(
        version, gib_to_bytes(total_gib), gpu or "", max_len
    )
    seqs = case.get("max_num_seqs") or seqs_default
    tokens = case.get("max_num_batched_tokens") or tokens_default
    utilization = case.get("gpu_memory_utilization") or memory.default_gpu_memory_utilization(
        version
    )
    implied = implied_utilization(case, version, total_gib)
    note = None
    if implied is not None and abs(implied - utilization) > UTILIZATION_TOLERANCE:
        note = (
            f"printed components sum to {implied:.2f} x the printed total, not the stated "
            f"{utilization:.2f}; scored at {implied:.2f}"
        )
        utilization = implied
    fields: dict[str, Any] = dict(
        model=model,
        gpu=gpu,
        vram_gb=total_gib,
        gpus=gpus,
        tensor_parallel_size=tp,
        pipeline_parallel_size=pp,
        max_model_len=max_len,
        gpu_memory_utilization=utilization,
        max_num_seqs=seqs,
        max_num_batched_tokens=max(tokens, 1),
        block_size=case.get("block_size") or memory.DEFAULT_BLOCK_SIZE,
        enforce_eager=bool(case.get("enforce_eager")),
        vllm_version=version,
        use_corrections=False,
    )
    if case.get("kv_cache_dtype") not in (None, "auto"):
        fields["kv_cache_dtype"] = case["kv_cache_dtype"]
    if case.get("dtype"):
        fields["dtype"] = case["dtype"]
    return Setup(case, meta, PlanRequest(**fields), version, assumed, note)


def release_at(source_date: Any, engine: str) -> str:
    """The newest vLLM release of the case's engine out on its source date (the first date of
    a range), else the engine's fallback release."""
    date = str(source_date or "")[:10]
    if len(date) != 10 or not date[:4].isdigit():
        return ENGINE_FALLBACK_VERSION[engine]
    out = [v for v, day in RELEASE_DATES.items() if day <= date]
    matching = [v for v in out if (memory.vllm_era(v) == "v0") == (engine == "V0")]
    return matching[-1] if matching else ENGINE_FALLBACK_VERSION[engine]


def implied_utilization(case: dict[str, Any], version: str, total_gib: float) -> float | None:
    """The utilization a case's own printed components add up to (two decimals), if complete.

    vLLM sizes the KV cache as utilization x total minus everything else it measured, so a
    case printing every component pins its utilization down. V0: peak torch (weights
    included) + non-torch + KV; V1: weights + activation + non-torch + KV, plus the CUDA-graph
    estimate from 0.21 on.
    """
    if case.get("gpu_total_memory_gib") is None or case.get("kv_cache_gib") is None:
        return None
    era = memory.vllm_era(version)
    if era == "v0":
        names = ["peak_torch_memory_gib", "non_torch_gib", "kv_cache_gib"]
    else:
        names = ["weights_gib", "activation_peak_gib", "non_torch_gib", "kv_cache_gib"]
        if era == "v1-graphs":
            names.append("cuda_graph_gib")
    values = [case.get(name) for name in names]
    if any(v is None for v in values):
        return None
    return round(sum(float(v) for v in values if v is not None) / total_gib, 2)


def actual_figures(case: dict[str, Any]) -> dict[str, float | bool | None]:
    tokens = case.get("kv_cache_tokens")
    if tokens is None and case.get("num_gpu_blocks") is not None:
        tokens = case["num_gpu_blocks"] * (case.get("block_size") or memory.DEFAULT_BLOCK_SIZE)
    outcome = case.get("outcome")
    return {
        "weights": case.get("weights_gib"),
        "kv_gib": case.get("kv_cache_gib"),
        "kv_tokens": tokens,
        "concurrency": case.get("max_concurrency_x"),
        "started": None if outcome is None else outcome == "ok",
    }


def predict(setup: Setup) -> dict[str, float | bool | None]:
    result = plan(setup.request)
    f = result.feasibility
    return {
        "weights": f.per_gpu.weights_gb,
        "kv_gib": f.per_gpu.kv_cache_capacity_gb,
        "kv_tokens": f.kv_cache_capacity_tokens,
        "concurrency": f.vllm_max_concurrency,
        "started": f.will_start,
    }


# --- leave-one-out refit ----------------------------------------------------------------


def implied_constants(setup: Setup) -> dict[str, float]:
    """The value each fitted constant would need for this case's printed component."""
    case, meta, req = setup.case, setup.meta, setup.request
    out: dict[str, float] = {}
    tp = req.tensor_parallel_size or 1
    dtype_bytes = 1.0 if case.get("dtype") == "float32" else 2.0
    tokens = req.max_num_batched_tokens or 0
    seqs = req.max_num_seqs or 0
    act = case.get("activation_peak_gib")
    era = memory.vllm_era(setup.version)
    if act is not None:
        act_b = act * GiB
        if era == "v0":
            logits = memory.V0_LOGITS_BYTES_PER_ENTRY * seqs * meta.vocab_size
            mlp = meta.intermediate_size or 4 * meta.hidden_size
            hidden_part = memory.ACTIVATION_HIDDEN_BUFFERS * meta.hidden_size
            per_token = (act_b - logits) / (tokens * dtype_bytes)
            out["FORWARD_MLP_FACTOR"] = (per_token - hidden_part) * tp / mlp
        else:
            rows = min(seqs, tokens)
            hidden = tokens * meta.hidden_size * dtype_bytes
            out["LOGITS_BYTES_PER_ENTRY"] = (act_b - hidden) / (rows * meta.vocab_size)
    nt = case.get("non_torch_gib")
    if nt is not None and era != "v0":
        key = (
            "NON_TORCH_BASE_BYTES"
            if tp * (req.pipeline_parallel_size or 1) == 1
            else "NON_TORCH_TP_BYTES"
        )
        value = nt * GiB - (0 if key == "NON_TORCH_BASE_BYTES" else memory.NON_TORCH_BASE_BYTES)
        out[key] = value
    return out


@contextlib.contextmanager
def constants(values: dict[str, float]) -> Iterator[None]:
    saved = {k: getattr(memory, k) for k in values}
    try:
        for k, v in values.items():
            setattr(memory, k, type(saved[k])(v))
        yield
    finally:
        for k, v in saved.items():
            setattr(memory, k, v)


def refit(implied: dict[str, dict[str, float]], leave_out: str) -> dict[str, float]:
    """Median of every other case's implied value, per constant (shipped value when none)."""
    fitted: dict[str, float] = {}
    for name in FITTED:
        values = [v[name] for cid, v in implied.items() if cid != leave_out and name in v]
        if values:
            fitted[name] = statistics.median(values)
    return fitted


# --- report -------------------------------------------------------------------------------


def _err(pred: Any, actual: Any) -> float | None:
    if pred is None or actual is None or isinstance(actual, bool):
        return None
    return (float(pred) - float(actual)) / float(actual) if actual else None


def _fmt(pred: Any, actual: Any, digits: int = 2) -> str:
    if actual is None:
        return "-"
    if isinstance(actual, bool):
        return f"{'yes' if pred else 'no'}/{'yes' if actual else 'no'}"
    e = _err(pred, actual)
    tail = f" ({e:+.0%})" if e is not None else ""
    return f"{float(pred):.{digits}f}/{float(actual):.{digits}f}{tail}"


def kv_ok(pred: float, actual: float) -> bool:
    return abs(pred - actual) <= max(0.5, 0.05 * abs(actual))


def summarize(rows: list[Row], label: str) -> list[str]:
    def share(name: str, ok: Any, only: Any = lambda r: True) -> str:
        pool = [r for r in rows if r.actual[name] is not None and only(r)]
        good = [r for r in pool if ok(r.pred[name], r.actual[name])]
        pct = f"{len(good) / len(pool):.0%}" if pool else "n/a"
        return f"{len(good)}/{len(pool)} ({pct})"

    def within(tol: float) -> Any:
        return lambda p, a: abs(float(p) - float(a)) <= tol * abs(float(a))

    positive_kv = lambda r: (r.actual["kv_gib"] or 0) >= 0  # noqa: E731
    v1 = lambda r: r.engine == "V1" and positive_kv(r)  # noqa: E731
    return [
        f"[{label}] weights within 3%:            {share('weights', within(0.03))}",
        f"[{label}] KV GiB within max(0.5, 5%):   {share('kv_gib', kv_ok, positive_kv)}"
        f"   V1 engine only: {share('kv_gib', kv_ok, v1)}",
        f"[{label}] KV tokens within 5%:          {share('kv_tokens', within(0.05))}",
        f"[{label}] max concurrency within 5%:    {share('concurrency', within(0.05))}",
        f"[{label}] will_start verdict right:     {share('started', lambda p, a: p == a)}",
    ]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--cases", nargs="+", type=Path, default=[DEFAULT_CASES])
    parser.add_argument("--no-loo", action="store_true", help="Skip the leave-one-out pass.")
    args = parser.parse_args(argv)

    setups: list[Setup] = []
    skipped: list[str] = []
    for case in load_cases(args.cases):
        try:
            setups.append(setup_case(case))
        except Skip as exc:
            skipped.append(f"  {case.get('case_id')}: {exc}")
        except Exception as exc:
            skipped.append(f"  {case.get('case_id')}: planner refused ({exc})")

    implied = {s.case["case_id"]: implied_constants(s) for s in setups}
    passes: list[tuple[str, list[Row]]] = []
    for label in ("shipped", "leave-one-out") if not args.no_loo else ("shipped",):
        rows = []
        for s in setups:
            cid = s.case["case_id"]
            values = refit(implied, cid) if label == "leave-one-out" else {}
            with constants(values):
                pred = predict(s)
            rows.append(Row(cid, s.case.get("vllm_engine") or "V1", pred, actual_figures(s.case)))
        passes.append((label, rows))

    print("predicted/printed per GPU (weights GiB, KV GiB; KV tokens and concurrency per engine)")
    for label, rows in passes:
        print(f"\n== {label} ==")
        print(
            f"{'case':8} {'eng':3} {'version':12} {'weights':22} {'KV GiB':22} {'KV tokens':28} {'concurrency':22} started"
        )
        for s, r in zip(setups, rows, strict=True):
            version = s.version + ("?" if s.version_assumed else "")
            print(
                f"{r.case_id:8} {r.engine:3} {version:12} "
                f"{_fmt(r.pred['weights'], r.actual['weights']):22} "
                f"{_fmt(r.pred['kv_gib'], r.actual['kv_gib']):22} "
                f"{_fmt(r.pred['kv_tokens'], r.actual['kv_tokens'], 0):28} "
                f"{_fmt(r.pred['concurrency'], r.actual['concurrency']):22} "
                f"{_fmt(r.pred['started'], r.actual['started'])}"
            )
    print(f"\nresolved {len(setups)} cases; skipped {len(skipped)} (not counted):")
    print("\n".join(skipped))
    print("\n(version? = not printed; the release out on the source date was assumed)")
    notes = [f"  {s.case['case_id']}: {s.note}" for s in setups if s.note]
    if notes:
        print("\ncases whose printed figures contradict their stated settings:")
        print("\n".join(notes))
    print("\nsummary")
    for label, rows in passes:
        print("\n".join(summarize(rows, label)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
