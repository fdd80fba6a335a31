"""`plan`: model + hardware + workload -> feasibility, vLLM args, performance, command.

The one function the CLI and the web layer call. Pure apart from reading the model's
config (model_source) and the shipped data files.
"""

from __future__ import annotations

import logging
import math
from dataclasses import asdict, dataclass, field, replace
from typing import Any

from vllm_wizard import __version__
from vllm_wizard.core import dtypes
from vllm_wizard.core.corrections import (
    PerformanceFactors,
    apply_performance_factors,
    correction_releases,
    find_correction,
    find_performance_factors,
)
from vllm_wizard.core.gpu_catalog import resolve_gpu
from vllm_wizard.core.kv_groups import KvLayout, max_len_that_fits
from vllm_wizard.core.memory import (
    DEFAULT_BLOCK_SIZE,
    ComponentCorrection,
    EngineSettings,
    GpuBudget,
    default_gpu_memory_utilization,
    expert_share,
    kv_bytes_per_token,
    kv_layout,
    kv_read_bytes_per_token,
    max_sequences_at_context,
    model_weights_bytes,
    mxfp4_moe_kernel,
    plan_gpu_budget,
    replica_context_that_fits,
    replica_headroom_bytes,
    replica_request_kv_bytes,
    requests_that_fit,
    vllm_era,
)
from vllm_wizard.core.model_source import load_model_metadata
from vllm_wizard.core.performance import Workload, build_inputs, estimate_performance
from vllm_wizard.core.recommend import (
    FP8_KV_MIN_CAPABILITY,
    capability_x10,
    check_tp,
    quantization_problem,
    recommend_max_num_batched_tokens,
    recommend_max_num_seqs,
    resolve_weight_dtype,
    supports_fp8_kv,
    tp_summary,
    valid_tp_sizes,
)
from vllm_wizard.core.render import render_serve_command
from vllm_wizard.core.support import check_servable
from vllm_wizard.core.vllm_flags import load_flag_table
from vllm_wizard.errors import (
    GpuNotDetectedError,
    InvalidLayoutError,
    InvalidParameterError,
    UnknownGpuError,
    WizardError,
)
from vllm_wizard.schemas.gpu import GpuSpec
from vllm_wizard.schemas.model import ModelMetadata
from vllm_wizard.schemas.plan import (
    Artifacts,
    FeasibilityReport,
    HardwareReport,
    KvLayoutReport,
    ModelReport,
    PerformanceReport,
    PerGpuReport,
    PlanResult,
)
from vllm_wizard.schemas.request import PlanRequest
from vllm_wizard.units import GiB, MiB, bytes_to_gib, gib_to_bytes

logger = logging.getLogger(__name__)

HOPPER_X10 = 90  # vLLM 0.33 runs FlashInfer's GDN prefill on SM90 without conditions
DEFAULT_MAX_MODEL_LEN = 2048  # vLLM's fallback when a config names no context length
CONTEXT_ROUNDING = 256
# A shorter max_model_len is offered as a remedy only when it trims at least this share.
SHORTER_CONTEXT_GAIN = 1.05
# gpu_memory_utilization written when the user gives none; consumer cards may drive a
# display, whose memory vLLM's free-memory check at start-up would otherwise trip over.
DEFAULT_UTILIZATION = 0.90
CONSUMER_UTILIZATION = 0.88
# Remedy "more GPUs" is offered up to this many GPUs for one replica.
MAX_REMEDY_GPUS = 64
# Group size assumed for a hypothetical 4-bit (AWQ/GPTQ) checkpoint: the common choice.
ASSUMED_GROUP_SIZE = 128
# Stand-ins for a GPU known only by --vram-gb (a mid-range data-centre card).
UNKNOWN_GPU_BANDWIDTH_GBPS = 1000.0
UNKNOWN_GPU_BF16_TFLOPS = 150.0


@dataclass(frozen=True)
class Hardware:
    """The GPU model in use and how many, with the per-GPU memory to plan against."""

    spec: GpuSpec
    memory_bytes: int
    gpus: int
    gpus_per_node: int
    interconnect: str
    known: bool
    correction: ComponentCorrection = field(default_factory=ComponentCorrection)
    free_bytes: int | None = None


@dataclass(frozen=True)
class Candidate:
    """One layout evaluated end to end."""

    tp: int
    pp: int
    settings: EngineSettings
    budget: GpuBudget
    max_model_len: int
    fits: bool
    headroom_bytes: int


def plan(
    request: PlanRequest, *, remedies: bool = True, assume_checkpoint: str | None = None
) -> PlanResult:
    """Answer: will the model fit, with which vLLM args, how fast, and the command.

    When it does not fit and `remedies` is set, each remedy is planned too and reported
    in feasibility.remedies, in the order to try them. `assume_checkpoint` plans the same
    model as if its checkpoint were quantized with that method (group size 128), for the
    "use a 4-bit checkpoint" remedy.
    """
    notes: list[str] = []
    table = load_flag_table()
    kv_cache_dtype = dtypes.normalize_kv_cache_dtype(request.kv_cache_dtype, table.kv_cache_dtypes)
    _note_old_spelling(request.kv_cache_dtype, kv_cache_dtype, notes)
    quantization = dtypes.normalize_quantization(request.quantization, table.quantization_methods)
    requested_dtype = dtypes.normalize_dtype(request.dtype)

    meta = load_model_metadata(request.model, params_b=request.params_b, revision=request.revision)
    check_servable(meta, trust_remote_code=request.trust_remote_code)
    notes += meta.notes
    if assume_checkpoint is not None:
        assumed_bytes = model_weights_bytes(
            meta,
            dtypes.dtype_bytes("float16"),  # 4-bit checkpoints keep fp16 embeddings
            assume_checkpoint,
            dtypes.weight_bytes_per_param(assume_checkpoint),
        )
        meta = meta.model_copy(
            update={
                "quantization": assume_checkpoint,
                "weights_bytes": assumed_bytes,
                "quant_group_size": ASSUMED_GROUP_SIZE,
            }
        )
    dtypes.check_quantization_against_checkpoint(quantization, meta.quantization)
    hardware = _apply_corrections(request, meta, _resolve_hardware(request, notes), notes)
    explicit_utilization = request.gpu_memory_utilization is not None
    request = request.model_copy(
        update={"gpu_memory_utilization": _utilization(request, hardware.spec)}
    )
    model_max = _model_max_len(meta, notes)
    _check_max_model_len(request, model_max)

    weight_dtype = resolve_weight_dtype(
        requested_dtype, meta.torch_dtype, hardware.spec.compute_capability, meta.model_type
    )
    effective_quant = quantization or meta.quantization
    _check_quantization_capability(effective_quant, hardware.spec.compute_capability)
    per_param = dtypes.weight_bytes_per_param(effective_quant) if effective_quant else None
    weights_total = model_weights_bytes(
        meta, dtypes.dtype_bytes(weight_dtype), quantization, per_param
    )
    kv_bytes = dtypes.kv_dtype_bytes(kv_cache_dtype, weight_dtype)

    candidate = _choose_layout(
        request, meta, hardware, weights_total, weight_dtype, kv_bytes, model_max
    )
    replicas = max(1, hardware.gpus // (candidate.tp * candidate.pp))
    dp = _data_parallel_size(meta, hardware, candidate)
    if dp > 1:
        # One server, DP attention ranks with the experts spread over all their GPUs.
        candidate = _evaluate(
            request,
            meta,
            hardware,
            weights_total,
            weight_dtype,
            kv_bytes,
            model_max,
            candidate.tp,
            candidate.pp,
            expert_parallel=candidate.tp * dp,
        )

    vllm_args, explanations = _vllm_args(
        request, meta, candidate, weight_dtype, kv_cache_dtype, quantization, hardware, dp
    )
    if meta.num_experts and meta.attention == "mla" and candidate.tp > 1 and dp == 1:
        explanations["tensor_parallel_size"] += _dp_attention_note(
            meta, hardware, candidate, weights_total, kv_bytes
        )
    feasibility = _feasibility(
        request, meta, hardware, candidate, weights_total, kv_bytes, model_max, quantization
    )
    layout_report = feasibility.per_gpu.kv_layout
    if candidate.budget.kv_layout.hybrid and layout_report is not None:
        notes.append(
            f"KV cache as vLLM groups it (per GPU): {layout_report.summary} This is why "
            "concurrency differs from layers x per-token KV (approximate where the release "
            "differs from 0.33)."
        )
    if hardware.free_bytes is not None:
        feasibility = _check_free_memory(request, hardware, feasibility)
    feasibility.warnings.extend(_utilization_warnings(request, explicit_utilization))
    if remedies and feasibility.fits:
        trade_off = _fp8_kv_trade_off(request, hardware, candidate, feasibility, model_max)
        if trade_off:
            feasibility.warnings.append(trade_off)
    if remedies and not feasibility.fits:
        feasibility = feasibility.model_copy(
            update={"remedies": _remedies(request, meta, hardware, candidate, feasibility)}
        )
    performance = _performance(request, meta, hardware, candidate, weights_total, effective_quant)
    performance, factors = _apply_measured_factors(request, meta, hardware, performance, notes)
    if (
        request.target_latency_ms is not None
        and performance.tpot_ms_range[0] > request.target_latency_ms
    ):
        feasibility.warnings.append(
            f"Target {request.target_latency_ms:g} ms per token is faster than the estimate "
            f"({performance.tpot_ms_range[0]:g}-{performance.tpot_ms_range[1]:g} ms); lower "
            "--concurrency, use a larger --tensor-parallel-size or a faster GPU."
        )

    return PlanResult(
        tool_version=__version__,
        vllm_version=request.vllm_version,
        model=_model_report(meta, weights_total, weight_dtype, effective_quant, kv_bytes),
        hardware=HardwareReport(
            gpu_name=hardware.spec.name,
            gpus=hardware.gpus,
            gpus_per_node=hardware.gpus_per_node,
            vram_per_gpu_gb=bytes_to_gib(hardware.memory_bytes),
            memory_bandwidth_gbps=hardware.spec.memory_bandwidth_gbps if hardware.known else None,
            interconnect=hardware.interconnect,
            tensor_parallel_size=candidate.tp,
            pipeline_parallel_size=candidate.pp,
            replicas=replicas,
        ),
        feasibility=feasibility,
        vllm_args=vllm_args,
        explanations=explanations,
        performance=performance,
        artifacts=Artifacts(serve_command=render_serve_command(vllm_args, table)),
        notes=notes,
        corrections_applied=_corrections_applied(hardware, factors),
    )


def _utilization(request: PlanRequest, spec: GpuSpec) -> float:
    """The user's gpu_memory_utilization, else 0.90, or 0.88 on a consumer card."""
    if request.gpu_memory_utilization is not None:
        return request.gpu_memory_utilization
    return CONSUMER_UTILIZATION if spec.consumer else DEFAULT_UTILIZATION


def _note_old_spelling(given: str, vllm_name: str, notes: list[str]) -> None:
    if given.strip().lower() in ("fp8_e4m3fn",):
        notes.append(
            f"--kv-cache-dtype {given} is an older spelling; vLLM 0.33 calls it {vllm_name}."
        )


def _check_quantization_capability(method: str | None, compute_capability: str | None) -> None:
    why = quantization_problem(method, compute_capability) if method else None
    if why:
        raise InvalidParameterError(
            f"--quantization {method}: {why}; use a GPU that supports it or another method.",
            field="quantization",
        )


def _remedies(
    request: PlanRequest,
    meta: ModelMetadata,
    hardware: Hardware,
    c: Candidate,
    feasibility: FeasibilityReport,
) -> list[str]:
    """Each remedy, in the order to try them, with the plan it gives (approximate)."""
    cc = hardware.spec.compute_capability
    unquantized = meta.quantization is None and request.quantization is None
    options: list[tuple[str, dict[str, Any] | None]] = []
    if unquantized and quantization_problem("fp8", cc) is None:
        options.append(
            (
                "FP8 weights, quantized by vLLM as it loads (--quantization fp8)",
                {"quantization": "fp8"},
            )
        )
    if request.kv_cache_dtype == "auto" and supports_fp8_kv(cc):
        options.append(
            (
                "fp8 KV cache (--kv-cache-dtype fp8; half the KV memory, slight accuracy cost)",
                {"kv_cache_dtype": "fp8"},
            )
        )
    wanted = request.prompt_tokens + request.gen_tokens
    if c.max_model_len > wanted * SHORTER_CONTEXT_GAIN:
        options.append(
            (
                f"a shorter --max-model-len {wanted} (prompt + generation; vLLM's auto fits it)",
                {"max_model_len": wanted, "allow_long_max_model_len": False},
            )
        )
    if hardware.known and c.tp * c.pp * 2 <= MAX_REMEDY_GPUS:
        more = c.tp * c.pp * 2
        options.append((f"more GPUs (--gpus {more})", {"gpus": more, "tensor_parallel_size": None}))
    if unquantized and quantization_problem("awq", cc) is None:
        options.append(
            (
                "a 4-bit AWQ or GPTQ checkpoint (needs an already quantized model; planned as AWQ)",
                {"assume_checkpoint": "awq"},
            )
        )
    lines = [
        f"{i}. {label}: {_try(request, update)}" for i, (label, update) in enumerate(options, 1)
    ]
    short = max(0.0, -feasibility.headroom_gb) / max(1, c.tp * c.pp)
    lines.append(
        f"{len(lines) + 1}. last resort, slow: --cpu-offload-gb {math.ceil(short + 1)} "
        "(weights in CPU memory, read over PCIe each step) or --kv-offloading-size for the KV cache."
    )
    return lines


def _fp8_kv_trade_off(
    request: PlanRequest,
    hardware: Hardware,
    c: Candidate,
    feasibility: FeasibilityReport,
    model_max: int,
) -> str | None:
    """Under context pressure (the KV cache holds under twice the requested concurrency at
    max_model_len, or memory cut max_model_len below the model's limit), what an fp8 KV
    cache would give, when this GPU and vLLM 0.33 support it."""
    if request.kv_cache_dtype != "auto" or not supports_fp8_kv(hardware.spec.compute_capability):
        return None
    derived_short = request.max_model_len is None and c.max_model_len < model_max
    if not derived_short and feasibility.vllm_max_concurrency >= 2 * request.concurrency:
        return None
    return (
        "Trade-off: --kv-cache-dtype fp8 halves KV memory at a small accuracy cost; "
        f"with it: {_try(request, {'kv_cache_dtype': 'fp8'})}."
    )


def _try(request: PlanRequest, update: dict[str, Any] | None) -> str:
    """`plan` with `update` applied, as one phrase; key assume_checkpoint goes to plan()."""
    changes = dict(update or {})
    assume = changes.pop("assume_checkpoint", None)
    try:
        result = plan(request.model_copy(update=changes), remedies=False, assume_checkpoint=assume)
    except WizardError as exc:
        return f"not possible here ({exc.message})"
    f, h = result.feasibility, result.hardware
    layout = f"TP {h.tensor_parallel_size}" + (
        f" x PP {h.pipeline_parallel_size}" if h.pipeline_parallel_size > 1 else ""
    )
    state = "fits" if f.fits else ("starts but is tight" if f.will_start else "still does not fit")
    return (
        f"{state} ({layout}, max_model_len {result.vllm_args['max_model_len']}, "
        f"KV cache about {f.kv_cache_capacity_tokens:,} tokens, headroom {f.headroom_gb:g} GiB)"
    )


def _resolve_hardware(request: PlanRequest, notes: list[str]) -> Hardware:
    if request.gpu is None and request.vram_gb is None:
        raise UnknownGpuError(
            "No GPU given; pass --gpu (e.g. --gpu 'A100 80GB') or --vram-gb with the GiB per GPU.",
            field="gpu",
        )
    if request.gpu is not None and request.gpu.strip().lower() == "auto":
        detected = _detected_hardware(request, notes)
        if detected is not None:
            return detected
        request = request.model_copy(update={"gpu": None})
    known = request.gpu is not None
    gpus = request.gpus
    if request.gpu is not None:
        match = resolve_gpu(request.gpu)
        spec = match.spec
        if match.note:
            notes.append(match.note)
        if match.count and "gpus" not in request.model_fields_set:
            gpus = match.count
    else:
        spec = _custom_gpu(request.vram_gb or 0.0)
        notes.append(
            f"GPU known only by --vram-gb: assumed {UNKNOWN_GPU_BANDWIDTH_GBPS:.0f} GB/s and "
            f"{UNKNOWN_GPU_BF16_TFLOPS:.0f} BF16 TFLOP/s for performance; pass --gpu for better figures."
        )
    memory = gib_to_bytes(request.vram_gb) if request.vram_gb is not None else spec.memory_bytes
    per_node = request.gpus_per_node or min(gpus, 8)
    interconnect = request.interconnect or spec.interconnect
    return Hardware(
        spec=spec,
        memory_bytes=memory,
        gpus=gpus,
        gpus_per_node=per_node,
        interconnect=interconnect,
        known=known,
    )


_MEMORY_CORRECTION_KEYS = (
    "activation_bytes",
    "non_torch_bytes",
    "cuda_graph_bytes",
    "weights_bytes",
)
_SPEED_FACTOR_KEYS = ("ttft", "tpot", "output_throughput")


def _corrections_applied(
    hardware: Hardware, factors: PerformanceFactors | None
) -> dict[str, float] | None:
    """The memory corrections and speed factors this plan used, for the profile to record."""
    applied: dict[str, float] = {}
    if hardware.correction != ComponentCorrection():
        applied.update({k: float(v) for k, v in asdict(hardware.correction).items()})
    if factors is not None:
        applied.update(asdict(factors))
    return applied or None


def _note_corrections_of_other_releases(
    request: PlanRequest, meta: ModelMetadata, hardware: Hardware, notes: list[str]
) -> None:
    """Say so when check-log saved corrections for this GPU and family under other releases."""
    releases = correction_releases(hardware.spec.name, meta.model_type)
    if releases:
        listed = ", ".join(releases)
        notes.append(
            f"Saved corrections for {hardware.spec.name} / {meta.model_type} exist for vLLM "
            f"{listed}, not this plan's {request.vllm_version}; pass --vllm-version to plan "
            "for that release and use them."
        )


def _apply_corrections(
    request: PlanRequest, meta: ModelMetadata, hardware: Hardware, notes: list[str]
) -> Hardware:
    """Attach the correction `check-log --save` stored for this GPU, family and release.

    A profile's recorded corrections take the store's place.
    """
    if not request.use_corrections:
        return hardware
    recorded = request.recorded_corrections
    if recorded is not None:
        c = ComponentCorrection(
            **{k: int(v) for k, v in recorded.items() if k in _MEMORY_CORRECTION_KEYS}
        )
        if c == ComponentCorrection():
            return hardware
        found: tuple[ComponentCorrection, str] | None = (c, "the profile")
    else:
        found = find_correction(hardware.spec.name, meta.model_type, request.vllm_version)
    if found is None:
        if recorded is None:
            _note_corrections_of_other_releases(request, meta, hardware, notes)
        return hardware
    c, source = found
    notes.append(
        f"Applied saved corrections for {hardware.spec.name} / {meta.model_type} / vLLM "
        f"{request.vllm_version} (from {source}): weights {c.weights_bytes / GiB:+.2f}, "
        f"activation {c.activation_bytes / GiB:+.2f}, non-torch {c.non_torch_bytes / GiB:+.2f}, "
        f"CUDA graphs {c.cuda_graph_bytes / GiB:+.2f} GiB; --no-corrections ignores them."
    )
    return replace(hardware, correction=c)


def _apply_measured_factors(
    request: PlanRequest,
    meta: ModelMetadata,
    hardware: Hardware,
    performance: PerformanceReport,
    notes: list[str],
) -> tuple[PerformanceReport, PerformanceFactors | None]:
    """Scale the estimate by the ratios `benchmark --save` stored for this GPU, model, release.

    A profile's recorded factors take the store's place.
    """
    if not request.use_corrections:
        return performance, None
    recorded = request.recorded_corrections
    if recorded is not None:
        f = PerformanceFactors(
            **{k: float(v) for k, v in recorded.items() if k in _SPEED_FACTOR_KEYS}
        )
        if f == PerformanceFactors():
            return performance, None
        found: tuple[PerformanceFactors, str] | None = (f, "the profile")
    else:
        found = find_performance_factors(hardware.spec.name, meta.model_id, request.vllm_version)
    if found is None:
        return performance, None
    f, source = found
    notes.append(
        f"Applied measured performance factors for {hardware.spec.name} / {meta.model_id} / "
        f"vLLM {request.vllm_version} (from {source}): TTFT x{f.ttft:.2f}, TPOT x{f.tpot:.2f}, "
        f"output tok/s x{f.output_throughput:.2f}; --no-corrections ignores them."
    )
    return apply_performance_factors(performance, f), f


def _detected_hardware(request: PlanRequest, notes: list[str]) -> Hardware | None:
    """--gpu auto: the local GPUs; --gpus, --vram-gb and --interconnect still override.

    None when no GPU is found but --vram-gb is given (the plan goes on with it).
    """
    from vllm_wizard.core.gpu_detect import detect_gpus, local_hardware

    try:
        local = local_hardware(detect_gpus())
    except GpuNotDetectedError as exc:
        if request.vram_gb is None:
            raise
        notes.append(f"--gpu auto: {exc.message} Planned with --vram-gb instead.")
        return None
    notes.extend(local.notes)
    spec = local.spec or _custom_gpu(bytes_to_gib(local.memory_bytes))
    gpus = request.gpus if "gpus" in request.model_fields_set else local.count
    return Hardware(
        spec=spec,
        memory_bytes=gib_to_bytes(request.vram_gb) if request.vram_gb else local.memory_bytes,
        gpus=gpus,
        gpus_per_node=request.gpus_per_node or min(gpus, local.count),
        interconnect=request.interconnect or local.interconnect,
        known=local.spec is not None,
        free_bytes=local.free_bytes,
    )


def _check_free_memory(
    request: PlanRequest, hardware: Hardware, feasibility: FeasibilityReport
) -> FeasibilityReport:
    """vLLM refuses to start when free memory is below utilization x total (other processes)."""
    from vllm_wizard.core.gpu_detect import startup_free_memory_check

    free = hardware.free_bytes or 0
    starts, fitting = startup_free_memory_check(
        free, hardware.memory_bytes, _utilization(request, hardware.spec)
    )
    if starts:
        return feasibility
    warning = (
        f"Other processes hold GPU memory: {bytes_to_gib(free)} GiB of "
        f"{bytes_to_gib(hardware.memory_bytes)} GiB is free, below --gpu-memory-utilization "
        f"{request.gpu_memory_utilization} x total; vLLM would refuse to start. Use "
        f"--gpu-memory-utilization {fitting} or free the memory."
    )
    return feasibility.model_copy(
        update={
            "will_start": False,
            "fits": False,
            "oom_risk": "high",
            "warnings": [*feasibility.warnings, warning],
        }
    )


def _custom_gpu(vram_gb: float) -> GpuSpec:
    return GpuSpec(
        name="custom",
        vendor="nvidia",
        memory_bytes=gib_to_bytes(vram_gb),
        memory_bandwidth_gbps=UNKNOWN_GPU_BANDWIDTH_GBPS,
        bf16_tflops_dense=UNKNOWN_GPU_BF16_TFLOPS,
        compute_capability="8.0",
        fp8_support=False,
        interconnect="unknown",
        form_factor="unknown",
        source="user input (--vram-gb)",
    )


def _model_max_len(meta: ModelMetadata, notes: list[str]) -> int:
    if meta.max_position_embeddings is None:
        notes.append(f"The config names no context length; vLLM assumes {DEFAULT_MAX_MODEL_LEN}.")
        return DEFAULT_MAX_MODEL_LEN
    return meta.max_position_embeddings


def _check_max_model_len(request: PlanRequest, model_max: int) -> None:
    if (
        request.max_model_len is not None
        and request.max_model_len > model_max
        and not request.allow_long_max_model_len
    ):
        raise InvalidParameterError(
            f"--max-model-len {request.max_model_len} exceeds the model's limit of {model_max} "
            f"tokens, and vLLM refuses to start with it; use --max-model-len {model_max} or less "
            "(or --allow-long-max-model-len, which sets VLLM_ALLOW_LONG_MAX_MODEL_LEN=1).",
            field="max_model_len",
        )


def _engine_settings(
    request: PlanRequest,
    hardware: Hardware,
    tp: int,
    pp: int,
    max_model_len: int,
    weight_dtype: str,
    kv_bytes: float,
    eager: bool | None = None,
    expert_parallel: int = 1,
) -> EngineSettings:
    seqs = recommend_max_num_seqs(request)
    return EngineSettings(
        expert_parallel_size=expert_parallel,
        max_model_len=max_model_len,
        max_num_seqs=seqs,
        max_num_batched_tokens=recommend_max_num_batched_tokens(
            request, seqs, hardware.memory_bytes, max_model_len
        ),
        block_size=request.block_size or DEFAULT_BLOCK_SIZE,
        enforce_eager=bool(request.enforce_eager if eager is None else eager),
        gpu_memory_utilization=_utilization(request, hardware.spec),
        weight_dtype_bytes=dtypes.dtype_bytes(weight_dtype),
        kv_dtype_bytes=kv_bytes,
        tensor_parallel_size=tp,
        pipeline_parallel_size=pp,
        overhead_bytes=gib_to_bytes(request.overhead_gb)
        if request.overhead_gb is not None
        else None,
        vllm_version=request.vllm_version,
        corrections=hardware.correction,
        hybrid_kv_manager=not request.disable_hybrid_kv_cache_manager,
        prefix_caching=request.enable_prefix_caching is not False,
        gdn_flashinfer_prefill=capability_x10(hardware.spec.compute_capability) == HOPPER_X10,
        moe_kernel=mxfp4_moe_kernel(
            hardware.spec.compute_capability, hardware.spec.vendor, request.vllm_version
        ),
    )


def _evaluate(
    request: PlanRequest,
    meta: ModelMetadata,
    hardware: Hardware,
    weights_total: int,
    weight_dtype: str,
    kv_bytes: float,
    model_max: int,
    tp: int,
    pp: int,
    expert_parallel: int = 1,
) -> Candidate:
    """Budget one layout; derive max_model_len from memory when the user gave none.

    When the user left enforce_eager unset and only CUDA-graph memory breaks the fit,
    the layout is planned in eager mode instead. `expert_parallel` > 1 spreads the routed
    experts over that many GPUs (DP x TP with --enable-expert-parallel).
    """
    args = (request, meta, hardware, weights_total, weight_dtype, kv_bytes, model_max, tp, pp)
    found = _evaluate_mode(*args, None, expert_parallel)
    if found.fits or request.enforce_eager is not None or found.budget.cuda_graph_bytes == 0:
        return found
    eager = _evaluate_mode(*args, True, expert_parallel)
    return eager if eager.fits else found


def _evaluate_mode(
    request: PlanRequest,
    meta: ModelMetadata,
    hardware: Hardware,
    weights_total: int,
    weight_dtype: str,
    kv_bytes: float,
    model_max: int,
    tp: int,
    pp: int,
    eager: bool | None,
    expert_parallel: int = 1,
) -> Candidate:
    """One layout's budget, with enforce_eager forced when `eager` is set.

    Each copy of the model (a replica, or a DP rank of one server) serves its share of the
    requested concurrency.
    """
    request = _per_copy(request, _copies(hardware, tp, pp))
    context = request.max_model_len or model_max
    settings = _engine_settings(
        request, hardware, tp, pp, context, weight_dtype, kv_bytes, eager, expert_parallel
    )
    budget = plan_gpu_budget(meta, hardware.memory_bytes, weights_total, settings)
    if request.max_model_len is None:
        context = _derived_context(budget, settings, request, model_max, meta, kv_bytes)
        settings = _engine_settings(
            request, hardware, tp, pp, context, weight_dtype, kv_bytes, eager, expert_parallel
        )
        budget = plan_gpu_budget(meta, hardware.memory_bytes, weights_total, settings)

    headroom = _replica_headroom(request, meta, budget, settings, kv_bytes)
    wanted = request.prompt_tokens + request.gen_tokens
    fits = (
        budget.will_start
        and headroom >= gib_to_bytes(request.headroom_gb)
        and (request.max_model_len is not None or context >= min(wanted, model_max))
    )
    return Candidate(
        tp=tp,
        pp=pp,
        settings=settings,
        budget=budget,
        max_model_len=context,
        fits=fits,
        headroom_bytes=headroom,
    )


def _copies(hardware: Hardware, tp: int, pp: int) -> int:
    """Copies of the model the GPUs hold: replicas, or DP ranks of one server."""
    return max(1, hardware.gpus // (tp * pp))


def _per_copy(request: PlanRequest, copies: int) -> PlanRequest:
    """The request as one copy sees it: its share of the concurrency, rounded up."""
    if copies == 1:
        return request
    return request.model_copy(update={"concurrency": -(-request.concurrency // copies)})


def _derived_context(
    budget: GpuBudget,
    settings: EngineSettings,
    request: PlanRequest,
    model_max: int,
    meta: ModelMetadata,
    kv_bytes: float,
) -> int:
    """The longest context (tokens) `concurrency` sequences can each have, within the
    model's limit, vLLM's KV blocks and the replica's memory less --headroom-gb."""
    share = request.concurrency * request.fragmentation_factor
    gpus = settings.tensor_parallel_size * settings.pipeline_parallel_size
    usable = max(0, budget.num_blocks - 1) * budget.bytes_per_block
    per_sequence = max_len_that_fits(
        lambda n: kv_layout(meta, settings, n), int(usable / share), model_max
    )
    spare = (
        budget.requested_bytes - budget.weights_bytes - budget.overhead_bytes
    ) * gpus - gib_to_bytes(request.headroom_gb)
    per_sequence = min(
        per_sequence, replica_context_that_fits(meta, settings, spare / share, model_max)
    )
    if per_sequence >= model_max:
        return model_max
    rounded = per_sequence // CONTEXT_ROUNDING * CONTEXT_ROUNDING
    # Never below the workload's own prompt + output: a shorter context serves none of its
    # requests, and (for hybrid models, whose state does not grow with length) buys little.
    wanted = request.prompt_tokens + request.gen_tokens
    floor = -(-wanted // settings.block_size) * settings.block_size
    return max(rounded, min(floor, model_max))


def _replica_headroom(
    request: PlanRequest,
    meta: ModelMetadata,
    budget: GpuBudget,
    settings: EngineSettings,
    kv_bytes: float,
) -> int:
    """SPEC 4.2.1 headroom over one replica: target - weights - workload KV - overhead."""
    gpus = settings.tensor_parallel_size * settings.pipeline_parallel_size
    per_request = replica_request_kv_bytes(meta, settings, settings.max_model_len)
    workload = per_request * request.concurrency * request.fragmentation_factor
    return replica_headroom_bytes(budget, gpus, workload)


def _choose_layout(
    request: PlanRequest,
    meta: ModelMetadata,
    hardware: Hardware,
    weights_total: int,
    weight_dtype: str,
    kv_bytes: float,
    model_max: int,
) -> Candidate:
    """User's TP/PP when given; else the smallest valid TP in a node that fits, then PP."""

    def evaluate(tp: int, pp: int) -> Candidate:
        return _evaluate(
            request, meta, hardware, weights_total, weight_dtype, kv_bytes, model_max, tp, pp
        )

    pp_fixed = request.pipeline_parallel_size
    if request.tensor_parallel_size is not None:
        check_tp(meta, request.tensor_parallel_size)
        _check_gpu_count(request.tensor_parallel_size * (pp_fixed or 1), hardware.gpus)
        return evaluate(request.tensor_parallel_size, pp_fixed or 1)

    max_tp = min(hardware.gpus_per_node, hardware.gpus // (pp_fixed or 1))
    tps = valid_tp_sizes(meta, max(1, max_tp))
    if not tps:
        raise InvalidLayoutError(
            f"No tensor-parallel size up to {max_tp} can shard {meta.model_id}; "
            "set --tensor-parallel-size explicitly.",
            field="tensor_parallel_size",
        )
    if request.batching_mode == "latency":
        tps = tps[::-1]
    if pp_fixed is not None:
        return _first_fitting([evaluate(tp, pp_fixed) for tp in tps])

    in_node = [evaluate(tp, 1) for tp in tps]
    fitting = [c for c in in_node if c.fits]
    if fitting:
        return fitting[0]
    nodes = hardware.gpus // max(tps)
    across = [evaluate(max(tps), pp) for pp in range(2, nodes + 1) if pp <= meta.num_layers]
    return _first_fitting(in_node + across)


def _first_fitting(candidates: list[Candidate]) -> Candidate:
    """The first candidate that fits, else the one with the most headroom."""
    for c in candidates:
        if c.fits:
            return c
    return max(candidates, key=lambda c: (c.budget.will_start, c.headroom_bytes))


def _check_gpu_count(needed: int, gpus: int) -> None:
    if needed > gpus:
        raise InvalidLayoutError(
            f"The layout needs {needed} GPUs (tensor x pipeline parallel) but --gpus is {gpus}; "
            f"raise --gpus to {needed} or lower the parallel sizes.",
            field="gpus",
        )


def _vllm_args(
    request: PlanRequest,
    meta: ModelMetadata,
    c: Candidate,
    weight_dtype: str,
    kv_cache_dtype: str,
    quantization: str | None,
    hardware: Hardware,
    dp: int = 1,
) -> tuple[dict[str, Any], dict[str, str]]:
    s = c.settings
    args: dict[str, Any] = {"model": meta.model_id}
    why: dict[str, str] = {"model": "The model to serve."}
    if request.revision:
        args["revision"], why["revision"] = request.revision, "Pinned revision as requested."
    if request.tokenizer:
        args["tokenizer"], why["tokenizer"] = request.tokenizer, "Tokenizer override as requested."
    if request.trust_remote_code:
        args["trust_remote_code"] = True
        why["trust_remote_code"] = "The config names custom code; requested explicitly."
    args["tensor_parallel_size"] = c.tp
    why["tensor_parallel_size"] = (
        "As requested"
        if request.tensor_parallel_size
        else f"Smallest valid size whose full copy fits within a node of "
        f"{hardware.gpus_per_node} GPUs"
        if request.batching_mode != "latency"
        else "Largest valid size in a node: lowest latency"
    ) + f"; {tp_summary(meta, max(hardware.gpus_per_node, c.tp))}."
    copies = hardware.gpus // (c.tp * c.pp)
    if dp > 1:
        args["data_parallel_size"] = dp
        why["data_parallel_size"] = (
            f"MoE with {meta.num_experts} experts: the {dp} copies on a node run as "
            "data-parallel attention ranks of one server, each with its own KV cache, as "
            "vLLM advises for MoE models rather than separate servers."
        )
        args["enable_expert_parallel"] = True
        why["enable_expert_parallel"] = (
            f"Places whole experts on each of the {dp * c.tp} GPUs instead of slicing every "
            f"expert: each GPU holds 1/{dp * c.tp} of the routed experts and the rest of the "
            "model whole (as the memory figures count it)."
        )
    elif copies > 1:
        why["tensor_parallel_size"] += (
            f" The {hardware.gpus} GPUs hold {copies} separate servers of this size behind a "
            "load balancer: vLLM advises independent instances, not --data-parallel-size, "
            "for models without experts."
            if not meta.num_experts
            else f" The {hardware.gpus} GPUs hold {copies} separate servers of this size."
        )
    if meta.num_experts and c.tp > 1 and dp == 1:
        why["tensor_parallel_size"] += (
            f" MoE with {meta.num_experts} experts: --enable-expert-parallel would place whole "
            "experts on each GPU instead of slicing every expert; it helps when experts are "
            "many and small and the batch is large, and is left to you."
        )
    if c.pp > 1:
        args["pipeline_parallel_size"] = c.pp
        why["pipeline_parallel_size"] = "The model does not fit in one node; stages span nodes."
    args["dtype"] = weight_dtype
    if request.dtype != "auto":
        why["dtype"] = "As requested."
    elif weight_dtype != meta.torch_dtype and meta.torch_dtype == "bfloat16":
        why["dtype"] = (
            f"The checkpoint is bfloat16, but this GPU (compute capability "
            f"{hardware.spec.compute_capability}) has no bfloat16; vLLM runs {weight_dtype}"
            + (" (it refuses float16 for this model type)." if weight_dtype == "float32" else ".")
        )
    else:
        why["dtype"] = "Checkpoint dtype (what --dtype auto would pick), written out."
    args["gpu_memory_utilization"] = s.gpu_memory_utilization
    why["gpu_memory_utilization"] = (
        "Share of each GPU vLLM may use; vLLM's own default is "
        f"{default_gpu_memory_utilization(request.vllm_version)}."
    )
    args["max_model_len"] = c.max_model_len
    why["max_model_len"] = (
        "As requested."
        if request.max_model_len
        else "Longest context the KV cache holds for the requested concurrency"
        + (
            f" ({s.max_num_seqs} at once, x{request.fragmentation_factor:g} fragmentation); "
            f"the model allows {meta.max_position_embeddings:,}. A longer --max-model-len "
            "trades concurrency for context: vLLM admits requests by their actual length, "
            "so long ones then wait for room."
            if meta.max_position_embeddings and c.max_model_len < meta.max_position_embeddings
            else "."
        )
    )
    args["max_num_seqs"] = s.max_num_seqs
    why["max_num_seqs"] = "Requested concurrency; a smaller cap also shrinks the logits peak."
    args["max_num_batched_tokens"] = s.max_num_batched_tokens
    why["max_num_batched_tokens"] = (
        "Prompt+generation tokens of the batch, within a GPU-size ceiling."
    )
    if kv_cache_dtype != "auto":
        args["kv_cache_dtype"], why["kv_cache_dtype"] = kv_cache_dtype, "As requested."
    if quantization:
        args["quantization"], why["quantization"] = quantization, "As requested."
    if request.block_size:
        args["block_size"], why["block_size"] = request.block_size, "As requested."
    if request.disable_hybrid_kv_cache_manager:
        args["disable_hybrid_kv_cache_manager"] = True
        why["disable_hybrid_kv_cache_manager"] = (
            "As requested: sliding-window layers keep every token's KV, like full attention."
        )
    if request.enable_prefix_caching is not None:
        args["enable_prefix_caching"] = request.enable_prefix_caching
        why["enable_prefix_caching"] = "As requested."
    if s.enforce_eager:
        args["enforce_eager"] = True
        why["enforce_eager"] = (
            "Requested: no CUDA graphs (less memory, slower decode)."
            if request.enforce_eager
            else "CUDA-graph memory is what breaks the fit; eager mode frees it (slower decode)."
        )
    return args, why


def _data_parallel_size(meta: ModelMetadata, hardware: Hardware, c: Candidate) -> int:
    """Data-parallel ranks in one server: the copies of an MoE model that share a node.

    Dense models, pipeline-parallel layouts and single copies stay at 1; the extra GPUs of
    a dense model become separate servers instead.
    """
    if not meta.num_experts or c.pp > 1:
        return 1
    copies = hardware.gpus // c.tp
    return max(1, min(copies, hardware.gpus_per_node // c.tp))


def _dp_attention_note(
    meta: ModelMetadata, hardware: Hardware, c: Candidate, weights_total: int, kv_bytes: float
) -> str:
    """MLA under TP keeps a full KV copy per TP rank; what DP attention + EP would give.

    Approximate: the DP layout keeps this plan's per-GPU overheads, holds the non-expert
    weights whole on every GPU and spreads the routed experts over all of them.
    """
    gpus = c.tp * c.pp
    share = expert_share(meta)
    weights = math.ceil(weights_total * ((1 - share) + share / gpus))
    b = c.budget
    overhead = b.activation_bytes + b.non_torch_bytes + b.cuda_graph_bytes
    kv_free = b.requested_bytes - weights - overhead
    per_token = kv_bytes_per_token(meta, kv_bytes, 1, 1)
    note = (
        f" MLA's latent KV is not split by TP: each of the {c.tp} TP ranks stores every "
        f"token's KV. DP attention with expert parallel (-dp {gpus} -ep, TP 1) keeps each "
        "sequence on one GPU"
    )
    if kv_free <= 0 or share == 0.0:
        return note + ", but the weights would not leave room for KV on these GPUs."
    dp_tokens = gpus * (kv_free // per_token)
    return note + (
        f": about {bytes_to_gib(weights):g} GiB of weights per GPU with the experts spread "
        f"over {gpus} GPUs, and about {dp_tokens:,} KV tokens in all against this plan's "
        f"{b.kv_tokens:,} (approximate; each rank is its own server of max_num_seqs)."
    )


def _feasibility(
    request: PlanRequest,
    meta: ModelMetadata,
    hardware: Hardware,
    c: Candidate,
    weights_total: int,
    kv_bytes: float,
    model_max: int,
    quantization: str | None,
) -> FeasibilityReport:
    b = c.budget
    gpus = c.tp * c.pp
    copies = _copies(hardware, c.tp, c.pp)
    request = _per_copy(request, copies)
    total = hardware.memory_bytes * gpus
    target = b.requested_bytes * gpus
    overhead = b.overhead_bytes * gpus
    per_request = replica_request_kv_bytes(meta, c.settings, c.max_model_len)
    workload_kv = int(per_request * request.concurrency * request.fragmentation_factor)
    free = target - b.weights_bytes * gpus - overhead
    headroom = c.headroom_bytes
    share = request.concurrency * request.fragmentation_factor
    max_ctx = replica_context_that_fits(meta, c.settings, free / share, model_max)
    label = (
        f"{request.concurrency} per copy of {copies}" if copies > 1 else str(request.concurrency)
    )
    warnings = _warnings(request, meta, hardware, c, quantization, max_ctx, label)
    actual = min(request.prompt_tokens + request.gen_tokens, c.max_model_len)
    actual_kv = replica_request_kv_bytes(meta, c.settings, actual)
    workload_headroom = free - int(actual_kv * request.concurrency * request.fragmentation_factor)
    return FeasibilityReport(
        fits=c.fits,
        oom_risk=_oom_risk(b.will_start, workload_headroom),
        vram_total_gb=bytes_to_gib(total),
        vram_target_alloc_gb=bytes_to_gib(target),
        weights_gb=bytes_to_gib(b.weights_bytes * gpus),
        kv_cache_gb=bytes_to_gib(workload_kv),
        overhead_gb=bytes_to_gib(overhead),
        headroom_gb=bytes_to_gib(headroom),
        max_concurrency_at_context=max_sequences_at_context(
            free, per_request, request.fragmentation_factor
        ),
        max_context_at_concurrency=max_ctx,
        kv_cache_capacity_tokens=b.kv_tokens,
        vllm_max_concurrency=round(b.max_concurrency, 2),
        will_start=b.will_start,
        warnings=warnings,
        per_gpu=PerGpuReport(
            vram_gb=bytes_to_gib(b.total_bytes),
            target_alloc_gb=bytes_to_gib(b.requested_bytes),
            weights_gb=bytes_to_gib(b.weights_bytes),
            activation_gb=bytes_to_gib(b.activation_bytes),
            non_torch_gb=bytes_to_gib(b.non_torch_bytes),
            cuda_graph_gb=bytes_to_gib(b.cuda_graph_bytes),
            kv_cache_capacity_gb=bytes_to_gib(b.kv_available_bytes),
            kv_bytes_per_token=b.kv_bytes_per_token,
            kv_layout=kv_layout_report(b.kv_layout, c.settings),
        ),
    )


_KIND_WORDS = {
    "full": "full-attention",
    "sliding": "sliding-window",
    "chunked": "chunked-local",
    "state": "Mamba/linear-attention",
}


def kv_layout_report(layout: KvLayout, settings: EngineSettings) -> KvLayoutReport:
    """vLLM's KV groups of one GPU in plain words: block size, per-request cost, window, state."""
    groups = [
        f"{g.layers} {_KIND_WORDS[g.kind]} layers, {g.block_size}-token blocks, "
        f"{g.blocks_per_request} blocks per request"
        for g in layout.groups
    ]
    held = [g.tokens_held for g in layout.groups if g.kind == "sliding" and g.tokens_held]
    sliding = max(held) if held else None
    state = layout.state_bytes_per_request
    state_mib = round(state / MiB, 2) if state else None
    words = []
    if sliding is not None:
        words.append(
            f"Sliding-window layers hold at most {sliding:,} tokens per request, whatever the "
            "context: they keep only the window plus the tokens in flight."
        )
    if state_mib is not None:
        pages = max(g.blocks_per_request for g in layout.groups if g.kind == "state")
        why = " (prefix caching keeps cached states and prefill checkpoints)" if pages > 1 else ""
        words.append(
            f"Mamba state: {state_mib:g} MiB per request on this GPU, a fixed cost whatever the "
            f"context length, held {pages}x{why}."
        )
    words.append(
        f"vLLM puts the layers in {len(layout.groups)} group(s) of {layout.group_size} sharing "
        f"one block pool; block size {layout.block_size} tokens; one request of "
        f"{settings.max_model_len:,} tokens takes {layout.blocks_per_request:,} blocks of "
        f"{layout.bytes_per_block / MiB:,.2f} MiB."
    )
    if layout.padding_layers:
        words.append(
            f"{layout.padding_layers} empty layer slot(s) in the last group(s) waste a little "
            "KV memory."
        )
    if not settings.hybrid_kv_manager:
        words.append("Hybrid KV cache manager off: sliding layers cost as much as full ones.")
    return KvLayoutReport(
        block_size=layout.block_size,
        bytes_per_block=layout.bytes_per_block,
        blocks_per_request=layout.blocks_per_request,
        groups=groups,
        sliding_tokens_per_request=sliding,
        state_mib_per_request=state_mib,
        hybrid_kv_cache_manager=settings.hybrid_kv_manager,
        summary=" ".join(words),
    )


def _oom_risk(will_start: bool, headroom: int) -> str:
    """high only when vLLM would fail to start (a workload over the KV cache queues instead);
    else low or medium by the headroom the workload's own requests (prompt + generation
    tokens, not all at max_model_len) leave."""
    if not will_start:
        return "high"
    return "low" if headroom >= 2 * GiB else "medium"


def _warnings(
    request: PlanRequest,
    meta: ModelMetadata,
    hardware: Hardware,
    c: Candidate,
    quantization: str | None,
    max_ctx: int,
    requests: str,
) -> list[str]:
    b = c.budget
    out: list[str] = []
    if not b.will_start:
        out.append(
            f"vLLM would not start: {b.failure}."
            + (
                f" The KV cache holds about {b.estimated_max_model_len} tokens per request; lower "
                f"--max-model-len to {b.estimated_max_model_len} or less."
                if b.estimated_max_model_len
                else ""
            )
        )
    if not c.fits:
        why = (
            f" vLLM would start, but {requests} sequences of max_model_len "
            f"{c.max_model_len} x fragmentation {request.fragmentation_factor:g} leave "
            f"{c.headroom_bytes / GiB:.2f} GiB of headroom, under the "
            f"{request.headroom_gb:g} GiB asked (--headroom-gb)."
            if b.will_start
            else ""
        )
        out.append(
            "Does not fit as planned; remedies lists each fix, in order, with its plan." + why
        )
    if (
        request.max_model_len is None
        and c.max_model_len < request.prompt_tokens + request.gen_tokens
    ):
        out.append(
            f"Planned max_model_len {c.max_model_len} is shorter than prompt + generation "
            f"({request.prompt_tokens + request.gen_tokens} tokens)."
        )
    if meta.attention == "gqa" and c.tp > meta.num_kv_heads:
        out.append(
            f"TP {c.tp} exceeds the {meta.num_kv_heads} KV heads: each GPU holds a full copy "
            "of a KV head, so per-GPU KV stops shrinking."
        )
    if c.settings.max_num_seqs == 1:
        out.append(
            "max_num_seqs 1 (from --concurrency 1): the server runs one request at a time "
            "and queues the rest; pass --concurrency N for the number of users you expect."
        )
    context = min(request.prompt_tokens + request.gen_tokens, c.max_model_len)
    held = requests_that_fit(meta, c.settings, b.num_blocks, context)
    if b.will_start and request.concurrency > held:
        out.append(
            f"Requested concurrency {requests} exceeds the {held} requests of "
            f"{context} tokens (prompt + generation) the KV cache holds at once; the rest "
            "will queue or be preempted."
        )
    if hardware.spec.consumer:
        out.append(
            "Consumer GPU: the display and desktop also use memory; if vLLM reports too "
            "little free memory, lower --gpu-memory-utilization to 0.85-0.88."
        )
    if request.kv_cache_dtype.startswith("fp8") and not supports_fp8_kv(
        hardware.spec.compute_capability
    ):
        out.append(
            f"fp8 KV cache on compute capability {hardware.spec.compute_capability}: vLLM "
            f"0.33's fp8-capable attention backends need {FP8_KV_MIN_CAPABILITY / 10:g}+; "
            "expect vLLM to refuse it or fall back; use --kv-cache-dtype auto."
        )
    elif request.kv_cache_dtype.startswith("fp8") and not hardware.spec.fp8_support:
        out.append(
            "This GPU has no FP8 tensor cores; an fp8 KV cache still halves KV memory "
            "but may run slower."
        )
    if c.pp > 1:
        out.append(
            f"Pipeline parallel over {c.pp} nodes: run serve_command.sh on every node with "
            "NODE_RANK and HEAD_IP set (vLLM's --nnodes launch), or serve_command_ray.sh on a "
            "Ray cluster (--distributed-executor-backend ray)."
        )
    return out[:10]


def _utilization_warnings(request: PlanRequest, explicit: bool) -> list[str]:
    """Advice on --gpu-memory-utilization: outside 0.50-0.98, or differing from the release."""
    value = request.gpu_memory_utilization or DEFAULT_UTILIZATION
    if value < 0.5:
        return [
            f"--gpu-memory-utilization {value:g} leaves over half of each GPU unused by vLLM; "
            "0.50 to 0.98 is the advised range (lower it only to share the GPU)."
        ]
    if value > 0.98:
        return [
            f"--gpu-memory-utilization {value:g} leaves no room for the CUDA context and "
            "fragmentation; out-of-memory errors are likely. 0.50 to 0.98 is the advised range."
        ]
    release_default = default_gpu_memory_utilization(request.vllm_version)
    ours = (DEFAULT_UTILIZATION, CONSUMER_UTILIZATION, release_default)
    if explicit and value not in ours:
        return [
            f"gpu_memory_utilization {value:g} is set explicitly; vLLM "
            f"{request.vllm_version}'s own default is {release_default}."
        ]
    return []


def _performance(
    request: PlanRequest,
    meta: ModelMetadata,
    hardware: Hardware,
    c: Candidate,
    weights_total: int,
    quantization: str | None,
) -> PerformanceReport:
    workload = Workload(
        prompt_tokens=request.prompt_tokens,
        gen_tokens=request.gen_tokens,
        concurrency=request.concurrency,
        max_num_seqs=c.settings.max_num_seqs,
        kv_capacity_tokens=c.budget.kv_tokens,
        max_num_batched_tokens=c.settings.max_num_batched_tokens,
        chunked_prefill=vllm_era(c.settings.vllm_version) != "v0",
        kv_capacity_requests=requests_that_fit(
            meta, c.settings, c.budget.num_blocks, request.prompt_tokens + request.gen_tokens
        ),
    )
    inputs = build_inputs(
        meta,
        hardware.spec,
        interconnect=hardware.interconnect,
        weights_bytes=weights_total,
        kv_bytes_per_token_per_gpu=kv_read_bytes_per_token(
            meta, c.settings, request.prompt_tokens + request.gen_tokens // 2
        ),
        tensor_parallel_size=c.tp,
        pipeline_parallel_size=c.pp,
        replicas=max(1, hardware.gpus // (c.tp * c.pp)),
        quantization=quantization,
        workload=workload,
        expert_parallel=c.settings.expert_parallel_size,
    )
    return estimate_performance(inputs)


def _model_report(
    meta: ModelMetadata,
    weights_total: int,
    weight_dtype: str,
    quantization: str | None,
    kv_bytes: float,
) -> ModelReport:
    return ModelReport(
        id=meta.model_id,
        source=meta.source,
        architecture=meta.architecture,
        params_total=meta.params_total,
        params_active=meta.params_active,
        weights_bytes=weights_total,
        weights_source=meta.weights_source,
        num_layers=meta.num_layers,
        hidden_size=meta.hidden_size,
        num_attention_heads=meta.num_attention_heads,
        num_kv_heads=meta.num_kv_heads,
        head_dim=meta.head_dim,
        kv_bytes_per_token=kv_bytes_per_token(meta, kv_bytes),
        max_position_embeddings=meta.max_position_embeddings,
        dtype=weight_dtype,
        quantization=quantization,
    )
