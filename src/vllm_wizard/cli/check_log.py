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
    "kv_tokens": "follows the KV GiB",
    "concurrency": "follows the KV tokens over max_model_len",
}
TOKENS_PER_GIB_REASON = (
    "KV GiB agree, so tokens per GiB differ: block grouping of hybrid / sliding-window "
    "layers, or a different block size"
)
GRAPHS_OUTSIDE = "captured after the KV cache in this release: not part of the budget"
TOLERANCE_GIB = 0.1
TOLERANCE_SHARE = 0.03
UTILIZATION_HINT = 0.015


def _read(source: str) -> tuple[str, str]:
    if source == "-":
        return sys.stdin.read(), "stdin"
    path = Path(source)
    if path.is_dir():
        raise InvalidParameterError(
            f"{source!r} is a folder; pass the log file itself (or - for stdin).", field="file"
        )
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
    model_from_option = model is not None
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
    request, meta = _request_naming_the_source(
        model_from_option,
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
    rows = _rows(result, log, memory.vllm_era(version) == "v1-graphs")
    _print(
        origin,
        request,
        version + version_note,
        rows,
        result.feasibility.will_start,
        log,
        result.feasibility.per_gpu.vram_gb,
    )
    if save:
        assumed = gpu_memory_utilization is None and log.gpu_memory_utilization is None
        _save(request, meta.model_type, result.hardware.gpu_name, rows, origin, assumed)


def _request_naming_the_source(from_option: bool, *args: Any) -> tuple[Any, Any]:
    """`_request`, with errors about the model saying it came from the log, not --model."""
    from vllm_wizard.errors import WizardError

    try:
        return _request(*args)
    except WizardError as exc:
        if from_option or "--model '" not in str(exc):
            raise
        message = str(exc).replace("--model '", "the model the log names, '", 1)
        raise type(exc)(
            f"{message} Pass --model to use another id or a local folder.", field=exc.field
        ) from exc


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


Row = tuple[str, str, float | None, float | None]


def _rows(result: Any, log: Any, graphs_deducted: bool) -> list[Row]:
    g, f = result.feasibility.per_gpu, result.feasibility
    kv_tokens = log.kv_cache_tokens
    if kv_tokens is None and log.num_gpu_blocks is not None:
        kv_tokens = log.num_gpu_blocks * (log.block_size or 16)
    return [
        ("weights", "GiB", g.weights_gb, log.weights_gib),
        ("activation", "GiB", g.activation_gb, log.activation_gib),
        ("non_torch", "GiB", g.non_torch_gb, log.non_torch_gib),
        ("cuda_graph", "GiB", g.cuda_graph_gb if graphs_deducted else None, log.cuda_graph_gib),
        ("kv_cache", "GiB", g.kv_cache_capacity_gb, log.kv_cache_gib),
        ("kv_tokens", "tokens", float(f.kv_cache_capacity_tokens), kv_tokens),
        ("concurrency", "x", f.vllm_max_concurrency, log.max_concurrency),
    ]


def _close(unit: str, pred: float, actual: float) -> bool:
    """Within 3% of the printed figure, or 0.1 GiB for memory rows."""
    floor = TOLERANCE_GIB if unit == "GiB" else 0.0
    return abs(pred - actual) <= max(floor, TOLERANCE_SHARE * abs(actual))


def _reason(name: str, rows: list[Row]) -> str:
    if name == "kv_tokens":
        kv = next(r for r in rows if r[0] == "kv_cache")
        if kv[2] is not None and kv[3] is not None and _close("GiB", kv[2], kv[3]):
            return TOKENS_PER_GIB_REASON
    return REASONS[name]


def _print(
    origin: str,
    request: Any,
    version: str,
    rows: list[Row],
    will_start: bool,
    log: Any,
    total_gib: float | None = None,
) -> None:
    print(
        f"{origin}: {request.model} on {request.gpu or f'{request.vram_gb:g} GiB GPU'}, "
        f"TP {request.tensor_parallel_size}, vLLM {version}, "
        f"util {request.gpu_memory_utilization:g}, max_model_len {request.max_model_len}, "
        f"max_num_seqs {request.max_num_seqs}, "
        f"max_num_batched_tokens {request.max_num_batched_tokens} (GiB per GPU)"
    )
    print(
        f"{'component':12} {'predicted':>12} {'vLLM printed':>13} {'difference':>12}  likely reason"
    )
    for name, unit, pred, actual in rows:
        digits = 0 if unit == "tokens" else 2
        if pred is None:
            shown = "-" if actual is None else f"{actual:.{digits}f}"
            print(f"{name:12} {'-':>12} {shown:>13} {'':>12}  {GRAPHS_OUTSIDE}")
            continue
        if actual is None:
            print(f"{name:12} {pred:>12.{digits}f} {'-':>13} {'':>12}  (not in the log)")
            continue
        diff = pred - actual
        reason = "matches" if _close(unit, pred, actual) else _reason(name, rows)
        print(
            f"{name:12} {pred:>12.{digits}f} {actual:>13.{digits}f} {diff:>+12.{digits}f}  {reason}"
        )
    printed = "yes" if log.started else f"no ({log.startup_error or 'KV check failed'})"
    print(f"starts: predicted {'yes' if will_start else 'no'}, log {printed}")
    hint = _utilization_hint(request, rows, log, total_gib)
    if hint:
        print(hint)


def _utilization_hint(
    request: Any, rows: list[Row], log: Any, total_gib: float | None
) -> str | None:
    """When the printed figures add up to another utilization than the one assumed, say so.

    vLLM's KV cache is utilization x total minus the rest, so weights + activation + non-torch
    (+ graphs when deducted) + KV over the total is the utilization the run used; the
    predicted figure stands in for a component the log does not print.
    """
    total = request.vram_gb or log.total_gib or total_gib
    if not total:
        return None
    parts = 0.0
    for name, _, pred, actual in rows:
        budgeted = name in ("weights", "activation", "non_torch", "cuda_graph", "kv_cache")
        if budgeted and pred is not None:
            parts += actual if actual is not None else pred
    implied = parts / total
    if abs(implied - request.gpu_memory_utilization) < UTILIZATION_HINT:
        return None
    return (
        f"note: these figures add up to utilization {implied:.2f} of {total:g} GiB, not the "
        f"{request.gpu_memory_utilization:g} assumed; if the run set "
        f"--gpu-memory-utilization, pass it here too."
    )


def _save(
    request: Any,
    family: str,
    gpu_name: str,
    rows: list[Row],
    origin: str,
    utilization_assumed: bool = False,
) -> None:
    from vllm_wizard.core.corrections import save_correction
    from vllm_wizard.core.memory import ComponentCorrection, vllm_era
    from vllm_wizard.units import gib_to_bytes

    if request.gpu is None:
        raise UserInputError(
            "--save needs --gpu so the corrections apply to that GPU model; add e.g. --gpu H100.",
            field="gpu",
        )
    predicted = {name: pred for name, _, pred, _ in rows}
    diffs = {
        name: actual - pred
        for name, _, pred, actual in rows
        if actual is not None and pred is not None
    }
    graphs = vllm_era(request.vllm_version) == "v1-graphs"
    activation = diffs.get("activation")
    if activation is None and "kv_cache" in diffs:
        # The log prints no breakdown: whatever the KV figure misses beyond the weights and
        # the components it does print is charged to the activation estimate.
        others = sum(diffs.get(k, 0.0) for k in ("weights", "non_torch"))
        others += diffs.get("cuda_graph", 0.0) if graphs else 0.0
        activation = -diffs["kv_cache"] - others
    predicted_activation = predicted.get("activation") or 0.0
    if activation is not None and predicted_activation + activation < 0:
        print(
            f"not saved: the log's figures need the activation peak at "
            f"{predicted_activation + activation:.2f} GiB, below zero; they do not fit "
            f"utilization {request.gpu_memory_utilization:g} (see the note above), so a "
            "correction would only carry that mismatch into later plans.",
            file=sys.stderr,
        )
        raise typer.Exit(1)
    outweighs = activation is not None and abs(activation) > max(predicted_activation, 0.5)
    if outweighs and utilization_assumed:
        print(
            f"not saved: the correction ({activation:+.2f} GiB of activation) would rest on the "
            f"assumed utilization {request.gpu_memory_utilization:g}, which the log does not "
            "print; pass --gpu-memory-utilization with the value the run used.",
            file=sys.stderr,
        )
        raise typer.Exit(1)
    if outweighs:
        print(
            f"warning: the activation correction ({activation:+.2f} GiB) outweighs the estimate "
            f"itself ({predicted_activation:.2f} GiB); check that max_num_seqs, "
            "max_num_batched_tokens and the utilization above match the run.",
            file=sys.stderr,
        )
    correction = ComponentCorrection(
        activation_bytes=gib_to_bytes(activation or 0.0),
        non_torch_bytes=gib_to_bytes(diffs.get("non_torch", 0.0)),
        cuda_graph_bytes=gib_to_bytes(diffs.get("cuda_graph", 0.0)) if graphs else 0,
        weights_bytes=gib_to_bytes(diffs.get("weights", 0.0)),
    )
    path = save_correction(gpu_name, family, request.vllm_version, correction, origin)
    print(f"saved corrections for {gpu_name} / {family} / vLLM {request.vllm_version} to {path}")
