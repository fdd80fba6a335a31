"""`vllm-wizard check-log FILE`: the planner's budget side by side with a vLLM start-up log."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated, Any

import typer

from vllm_wizard.errors import InvalidParameterError, UserInputError

REASONS = {
    "weights": "checkpoint size vs params x dtype; quantized kernels may repack or pad weights",
    "activation": "profile batch (max_num_batched_tokens) and sampler rows (max_num_seqs x vocab)",
    "non_torch": "NCCL / custom all-reduce buffers and driver growth (more with TP/PP)",
    "cuda_graph": "number of captured batch sizes and model depth",
    "kv_cache": "what the components above leave of total x gpu_memory_utilization",
    "kv_tokens": "follows the KV GiB; hybrid/sliding-window models hold more tokens per GiB",
    "concurrency": "follows the KV tokens over max_model_len",
}
TOLERANCE_GIB = 0.1


def _read(source: str) -> tuple[str, str]:
    if source == "-":
        return sys.stdin.read(), "stdin"
    path = Path(source)
    if not path.is_file():
        raise InvalidParameterError(
            f"Log file {source!r} does not exist; pass a vLLM start-up log or - for stdin.",
            field="file",
        )
    return path.read_text(encoding="utf-8", errors="replace"), str(path)


def check_log(
    file: Annotated[str, typer.Argument(help="vLLM start-up log, or - for stdin.")],
    model: Annotated[
        str | None, typer.Option("--model", "-m", help="Model, when the log does not name it.")
    ] = None,
    gpu: Annotated[
        str | None, typer.Option(help="GPU model, e.g. 'H100' (logs rarely name it).")
    ] = None,
    vram_gb: Annotated[
        float | None, typer.Option(help="Total GiB per GPU [default: from the log].")
    ] = None,
    tensor_parallel_size: Annotated[
        int | None, typer.Option("--tensor-parallel-size", "-tp")
    ] = None,
    max_model_len: Annotated[int | None, typer.Option(help="[default: from the log]")] = None,
    gpu_memory_utilization: Annotated[
        float | None, typer.Option(help="[default: log, else the release's]")
    ] = None,
    vllm_version: Annotated[
        str | None, typer.Option(help="[default: from the log, else 0.33.0]")
    ] = None,
    max_num_seqs: Annotated[
        int | None, typer.Option(help="[default: log, else vLLM's default]")
    ] = None,
    max_num_batched_tokens: Annotated[
        int | None, typer.Option(help="[default: log, else vLLM's]")
    ] = None,
    save: Annotated[
        bool, typer.Option(help="Store the differences as corrections for later plans.")
    ] = False,
) -> None:
    """Compare the planner's memory budget with what vLLM printed at start-up.

    Example: vllm-wizard check-log vllm.log --gpu H100
    """
    from vllm_wizard.core import memory
    from vllm_wizard.core.startup_log import parse_startup_log

    text, origin = _read(file)
    log = parse_startup_log(text)
    if not log.memory_fields:
        raise UserInputError(
            f"{origin} has none of vLLM's start-up memory lines ('Model loading took', "
            "'Available KV cache memory', '# GPU blocks', 'GPU KV cache size'); pass the log "
            "from the start of `vllm serve` to 'Maximum concurrency'.",
            field="file",
        )
    model = model or log.model
    if not model:
        raise UserInputError(
            f"{origin} does not name the model; pass --model (e.g. --model meta-llama/Llama-3.1-8B).",
            field="model",
        )
    total = vram_gb or log.total_gib
    if gpu is None and total is None:
        raise UserInputError(
            f"{origin} does not print the GPU's total memory; pass --gpu or --vram-gb.", field="gpu"
        )
    version = vllm_version or log.vllm_version
    version_note = "" if version else " (version not in the log: assumed 0.33.0)"
    version = str(memory.parse_vllm_version(version or "0.33.0"))
    request, meta = _request(
        model,
        gpu,
        total,
        version,
        tensor_parallel_size or log.tensor_parallel_size,
        log,
        max_model_len,
        gpu_memory_utilization,
        max_num_seqs,
        max_num_batched_tokens,
    )
    from vllm_wizard.core.planner import plan

    result = plan(request)
    rows = _rows(result, log)
    _print(origin, request, version + version_note, rows, result.feasibility.will_start, log)
    if save:
        _save(request, meta.model_type, result.hardware.gpu_name, rows, origin)


def _request(
    model: str,
    gpu: str | None,
    total: float | None,
    version: str,
    tp: int | None,
    log: Any,
    max_model_len: int | None,
    util: float | None,
    seqs: int | None,
    tokens: int | None,
) -> tuple[Any, Any]:
    from vllm_wizard.core import memory
    from vllm_wizard.core.gpu_catalog import resolve_gpu
    from vllm_wizard.core.model_source import load_model_metadata
    from vllm_wizard.schemas.request import PlanRequest
    from vllm_wizard.units import gib_to_bytes

    meta = load_model_metadata(model)
    total_bytes = gib_to_bytes(total) if total else resolve_gpu(gpu or "").spec.memory_bytes
    context = max_model_len or log.max_model_len or meta.max_position_embeddings or 2048
    default_seqs, default_tokens = memory.default_batch_limits(
        version, total_bytes, gpu or "", context
    )
    tp = tp or 1
    pp = log.pipeline_parallel_size or 1
    request = PlanRequest(
        model=model,
        gpu=gpu,
        vram_gb=total,
        gpus=tp * pp,
        tensor_parallel_size=tp,
        pipeline_parallel_size=pp,
        max_model_len=context,
        gpu_memory_utilization=util
        or log.gpu_memory_utilization
        or memory.default_gpu_memory_utilization(version),
        max_num_seqs=seqs or log.max_num_seqs or default_seqs,
        max_num_batched_tokens=tokens or log.max_num_batched_tokens or default_tokens,
        block_size=log.block_size or memory.DEFAULT_BLOCK_SIZE,
        enforce_eager=bool(log.enforce_eager),
        vllm_version=version,
        use_corrections=False,
    )
    return request, meta


def _rows(result: Any, log: Any) -> list[tuple[str, str, float, float | None]]:
    g, f = result.feasibility.per_gpu, result.feasibility
    kv_tokens = log.kv_cache_tokens
    if kv_tokens is None and log.num_gpu_blocks is not None:
        kv_tokens = log.num_gpu_blocks * (log.block_size or 16)
    return [
        ("weights", "GiB", g.weights_gb, log.weights_gib),
        ("activation", "GiB", g.activation_gb, log.activation_gib),
        ("non_torch", "GiB", g.non_torch_gb, log.non_torch_gib),
        ("cuda_graph", "GiB", g.cuda_graph_gb, log.cuda_graph_gib),
        ("kv_cache", "GiB", g.kv_cache_capacity_gb, log.kv_cache_gib),
        ("kv_tokens", "tokens", float(f.kv_cache_capacity_tokens), kv_tokens),
        ("concurrency", "x", f.vllm_max_concurrency, log.max_concurrency),
    ]


def _print(
    origin: str,
    request: Any,
    version: str,
    rows: list[tuple[str, str, float, float | None]],
    will_start: bool,
    log: Any,
) -> None:
    print(
        f"{origin}: {request.model} on {request.gpu or f'{request.vram_gb:g} GiB GPU'}, "
        f"TP {request.tensor_parallel_size}, vLLM {version}, "
        f"util {request.gpu_memory_utilization:g}, max_model_len {request.max_model_len}"
    )
    print(
        f"{'component':12} {'predicted':>12} {'vLLM printed':>13} {'difference':>12}  likely reason"
    )
    for name, unit, pred, actual in rows:
        if actual is None:
            print(f"{name:12} {pred:>12.2f} {'-':>13} {'':>12}  (not in the log)")
            continue
        digits = 0 if unit == "tokens" else 2
        diff = pred - actual
        close = abs(diff) <= (TOLERANCE_GIB if unit == "GiB" else 0.05 * abs(actual))
        reason = "matches" if close else REASONS[name]
        print(
            f"{name:12} {pred:>12.{digits}f} {actual:>13.{digits}f} {diff:>+12.{digits}f}  {reason}"
        )
    printed_start = not log.failed_kv_check
    print(
        f"starts: predicted {'yes' if will_start else 'no'}, "
        f"log {'yes' if printed_start else 'no (KV check failed)'}"
    )


def _save(
    request: Any,
    family: str,
    gpu_name: str,
    rows: list[tuple[str, str, float, float | None]],
    origin: str,
) -> None:
    from vllm_wizard.core.corrections import save_correction
    from vllm_wizard.core.memory import ComponentCorrection, vllm_era
    from vllm_wizard.units import gib_to_bytes

    if request.gpu is None:
        raise UserInputError(
            "--save needs --gpu so the corrections apply to that GPU model; add e.g. --gpu H100.",
            field="gpu",
        )
    diffs = {name: (actual - pred) for name, _, pred, actual in rows if actual is not None}
    activation = diffs.get("activation")
    if activation is None and "kv_cache" in diffs:
        # The log prints no breakdown: whatever the KV figure misses, beyond the weights and
        # the printed components, is charged to the activation estimate.
        others = sum(diffs.get(k, 0.0) for k in ("weights", "non_torch", "cuda_graph"))
        activation = -diffs["kv_cache"] - others
    correction = ComponentCorrection(
        activation_bytes=gib_to_bytes(activation or 0.0),
        non_torch_bytes=gib_to_bytes(diffs.get("non_torch", 0.0)),
        cuda_graph_bytes=gib_to_bytes(diffs.get("cuda_graph", 0.0))
        if vllm_era(request.vllm_version) == "v1-graphs"
        else 0,
    )
    path = save_correction(gpu_name, family, request.vllm_version, correction, origin)
    print(f"saved corrections for {gpu_name} / {family} / vLLM {request.vllm_version} to {path}")
