"""`size`: search GPU type x node shape x TP/PP x weight precision x KV dtype, then rank.

Memory comes from the cheap core functions: weights per GPU first (most combinations stop
there), then one vLLM start-up budget per concurrency tried, never a full `plan()`. Speed
comes from the performance module through `_estimate_speed`, the one place that reads its
outputs. Each surviving layout gets the largest per-replica concurrency that fits and meets
the latency limits, then as many data-parallel replicas as the target needs.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field, replace
from typing import Any

from vllm_wizard.core import dtypes
from vllm_wizard.core.gpu_catalog import load_gpu_catalog, resolve_gpu
from vllm_wizard.core.memory import (
    DEFAULT_BLOCK_SIZE,
    EngineSettings,
    GpuBudget,
    kv_read_bytes_per_token,
    model_weights_bytes,
    mxfp4_moe_kernel,
    plan_gpu_budget,
    replica_headroom_bytes,
    replica_kv_bytes_per_token,
    replica_request_kv_bytes,
    requests_that_fit,
    vllm_era,
    weights_bytes_per_gpu,
)
from vllm_wizard.core.model_source import load_model_metadata
from vllm_wizard.core.performance import Workload, build_inputs, estimate_performance
from vllm_wizard.core.planner import CONTEXT_ROUNDING, DEFAULT_MAX_MODEL_LEN
from vllm_wizard.core.recommend import (
    is_valid_tp,
    recommend_max_num_batched_tokens,
    recommend_max_num_seqs,
    resolve_weight_dtype,
)
from vllm_wizard.errors import InvalidParameterError
from vllm_wizard.schemas.gpu import GpuSpec
from vllm_wizard.schemas.model import ModelMetadata
from vllm_wizard.schemas.request import PlanRequest
from vllm_wizard.schemas.size import (
    SizeOption,
    SizeRequest,
    SizeResult,
    SizeSearchStats,
    WeightPrecision,
)
from vllm_wizard.units import bytes_to_gib, gib_to_bytes

GPUS_PER_NODE = (1, 2, 4, 8)
MULTI_NODE_GPUS_PER_NODE = (4, 8)
# Most sequences one replica is asked to run; below vLLM's default max_num_seqs of 1024
# on large GPUs.
MAX_REPLICA_CONCURRENCY = 512
# Bisections over concurrency stop once the bracket is within 1/5 of the value found.
CONCURRENCY_TOLERANCE = 5
FOUR_BIT_METHOD = "awq"
# Minimum compute capability (x10) of vLLM's FP8 (Marlin weight-only below 8.9) and AWQ kernels.
FP8_WEIGHTS_MIN_CC = 75
AWQ_MIN_CC = 75
FP8_KV_MIN_CC = 80
SECONDS_PER_HOUR = 3600


@dataclass(frozen=True)
class _Precision:
    """One way to hold the weights: the checkpoint's own, online FP8, or a 4-bit checkpoint."""

    name: WeightPrecision
    quantization: str | None
    needs_checkpoint: bool
    weights_total_bytes: int


@dataclass(frozen=True)
class _Layout:
    """One replica's shape: nodes of `gpus_per_node` GPUs, split TP x PP."""

    gpus_per_node: int
    nodes: int
    tp: int
    pp: int

    @property
    def gpus(self) -> int:
        """GPUs of one replica."""
        return self.tp * self.pp


@dataclass(frozen=True)
class _Speed:
    """The pessimistic ends of the performance ranges for one replica."""

    output_toks_per_s: float
    ttft_ms: float
    tpot_ms: float


# Stands in for the speed of a layout that does not fit (never estimated, never kept).
_NO_SPEED = _Speed(output_toks_per_s=0.0, ttft_ms=math.inf, tpot_ms=math.inf)


@dataclass(frozen=True)
class _Evaluation:
    """One layout at one per-replica concurrency; its speed is estimated on first use."""

    concurrency: int
    fits: bool
    headroom_bytes: int
    ok: bool
    estimate: Callable[[], _Speed] = field(compare=False, repr=False)

    @functools.cached_property
    def speed(self) -> _Speed:
        """Pessimistic speed ends of one replica (only estimated when someone reads it)."""
        return self.estimate()


@dataclass(frozen=True)
class _Found:
    """A layout that reaches the target, before ranking."""

    spec: GpuSpec
    price: float | None
    precision: _Precision
    kv_cache_dtype: str
    layout: _Layout
    replicas: int
    evaluation: _Evaluation
    single: _Evaluation
    # Lowers the concurrency to what the target needs; None once done (or not needed).
    refine: Callable[[], _Evaluation] | None = field(default=None, compare=False)

    @property
    def usd_per_hour(self) -> float | None:
        return None if self.price is None else self.price * self.layout.gpus * self.replicas

    @property
    def output_toks_per_s(self) -> float:
        return self.evaluation.speed.output_toks_per_s * self.replicas

    @property
    def usd_per_million_output_tokens(self) -> float | None:
        cost, tps = self.usd_per_hour, self.output_toks_per_s
        if cost is None or tps <= 0:
            return None
        return cost / (tps * SECONDS_PER_HOUR) * 1e6


@dataclass
class _Search:
    """Fixed inputs of one search plus its counters."""

    request: SizeRequest
    meta: ModelMetadata
    max_model_len: int
    target_concurrency: int | None
    target_output_tps: float | None
    plan_requests: dict[int, PlanRequest] = field(default_factory=dict)
    layouts: int = 0
    pruned: int = 0
    budgeted: int = 0

    def plan_request(self, concurrency: int) -> PlanRequest:
        """The planner's request at a per-replica concurrency (for its batch-size rules)."""
        if concurrency not in self.plan_requests:
            self.plan_requests[concurrency] = PlanRequest(
                model=self.request.model,
                prompt_tokens=self.request.prompt_tokens,
                gen_tokens=self.request.gen_tokens,
                concurrency=concurrency,
            )
        return self.plan_requests[concurrency]


def size(request: SizeRequest) -> SizeResult:
    """Search every GPU x layout x precision x KV dtype; return the top options, best first."""
    notes: list[str] = []
    meta = load_model_metadata(request.model, params_b=request.params_b, revision=request.revision)
    notes += meta.notes
    search = _new_search(request, meta, notes)
    shortlist = _shortlist(request, notes)
    precisions = _precisions(meta)

    found = [
        hit for spec, price in shortlist for hit in _search_gpu(search, spec, price, precisions)
    ]
    found = _refine_where_it_shows(found, request.top, search.target_output_tps)
    ranked = _rank(found)
    pareto = _pareto_set(ranked)
    options = [
        _option(search, i + 1, hit, id(hit) in pareto)
        for i, hit in enumerate(ranked[: request.top])
    ]
    if not found:
        notes.append(_nothing_fits_hint())
    if meta.num_experts:
        notes.append(
            "MoE model: the search tries TP/PP layouts and separate replicas only. On the same "
            "GPUs `plan` may serve it as data-parallel ranks with --enable-expert-parallel "
            "(experts spread, less memory per GPU); run `plan --gpus N` on a row to compare."
        )
    return SizeResult(
        model=request.model,
        target=_target_dict(search),
        options=options,
        pareto_ranks=[i + 1 for i, hit in enumerate(ranked) if id(hit) in pareto],
        search=SizeSearchStats(
            gpu_types=len(shortlist),
            layouts=search.layouts,
            pruned_by_weights=search.pruned,
            budgeted=search.budgeted,
            kept=len(found),
        ),
        assumptions=_assumptions(request),
        notes=notes,
    )


def _new_search(request: SizeRequest, meta: ModelMetadata, notes: list[str]) -> _Search:
    """Resolve the target and the context length to plan every option for."""
    model_max = meta.max_position_embeddings or DEFAULT_MAX_MODEL_LEN
    wanted = request.prompt_tokens + request.gen_tokens
    if (request.max_model_len or 0) > model_max:
        raise InvalidParameterError(
            f"--max-model-len {request.max_model_len} exceeds the {model_max} tokens "
            f"{meta.model_id} supports; use --max-model-len {model_max} or less.",
            field="max_model_len",
        )
    context = request.max_model_len or math.ceil(wanted / CONTEXT_ROUNDING) * CONTEXT_ROUNDING
    context = min(context, model_max)
    if context < wanted:
        raise InvalidParameterError(
            f"--prompt-tokens + --gen-tokens = {wanted} tokens do not fit in a context of "
            f"{context}; shorten them or raise --max-model-len (the model supports {model_max}).",
            field="max_model_len",
        )
    _check_one_target(request)
    tps = request.target_output_tps
    if request.target_rps is not None:
        tps = request.target_rps * request.gen_tokens
    concurrency = request.concurrency
    if tps is None and concurrency is None:
        concurrency = 1
        notes.append("No target given; sized for --concurrency 1.")
    return _Search(
        request=request,
        meta=meta,
        max_model_len=context,
        target_concurrency=concurrency,
        target_output_tps=tps,
    )


def _check_one_target(request: SizeRequest) -> None:
    given = [
        "--" + name.replace("_", "-")
        for name in ("concurrency", "target_rps", "target_output_tps")
        if getattr(request, name) is not None
    ]
    if len(given) > 1:
        raise InvalidParameterError(
            f"{' and '.join(given)} each set a target; give only one of them.", field="target"
        )


def _shortlist(request: SizeRequest, notes: list[str]) -> list[tuple[GpuSpec, float | None]]:
    """GPUs to search with their USD per GPU-hour: --gpu names, or every priced catalog GPU."""
    prices = _price_overrides(request.prices)
    if request.gpus:
        specs: list[GpuSpec] = []
        for name in request.gpus:
            match = resolve_gpu(name)
            if match.note:
                notes.append(match.note)
            if match.spec not in specs:
                specs.append(match.spec)
        return [(s, prices.get(s.name, s.price_usd_per_hour)) for s in specs]
    chosen: list[tuple[GpuSpec, float | None]] = []
    unpriced: list[str] = []
    for spec in load_gpu_catalog():
        price = prices.get(spec.name, spec.price_usd_per_hour)
        if price is None:
            unpriced.append(spec.name)
        else:
            chosen.append((spec, price))
    if unpriced:
        notes.append(
            "Skipped GPUs with no catalog price (give --price NAME=USD or --gpu NAME): "
            + ", ".join(unpriced)
            + "."
        )
    return chosen


def _price_overrides(prices: dict[str, float]) -> dict[str, float]:
    """--price keys resolved to catalog names; prices must be positive."""
    resolved = {}
    for name, usd in prices.items():
        if usd <= 0:
            raise InvalidParameterError(
                f"--price {name}={usd}: a price must be a positive USD per GPU-hour; "
                "write it like --price H100=2.49.",
                field="price",
            )
        resolved[resolve_gpu(name).spec.name] = usd
    return resolved


def _precisions(meta: ModelMetadata) -> list[_Precision]:
    """The checkpoint's own weights; for unquantized checkpoints also FP8 and 4-bit."""
    own_bytes = dtypes.dtype_bytes(resolve_weight_dtype("auto", meta.torch_dtype, None))
    own = model_weights_bytes(meta, own_bytes, None, None)
    found = [_Precision("checkpoint", None, False, own)]
    if meta.quantization is None:
        alternatives: tuple[tuple[WeightPrecision, str, bool], ...] = (
            ("fp8", "fp8", False),
            ("4bit", FOUR_BIT_METHOD, True),
        )
        for name, method, needs in alternatives:
            per_param = dtypes.weight_bytes_per_param(method)
            total = model_weights_bytes(meta, own_bytes, method, per_param)
            found.append(_Precision(name, method, needs, total))
    return found


def _capability(spec: GpuSpec) -> int | None:
    """NVIDIA compute capability x10 (e.g. 89); None for AMD gfx names."""
    try:
        return round(float(spec.compute_capability) * 10)
    except ValueError:
        return None


def _precision_runs(precision: _Precision, spec: GpuSpec) -> bool:
    """vLLM has kernels for this weight format on this GPU."""
    cc = _capability(spec)
    if precision.name == "fp8":
        return spec.fp8_support if cc is None else cc >= FP8_WEIGHTS_MIN_CC
    if precision.name == "4bit":
        return cc is not None and cc >= AWQ_MIN_CC
    return True


def _kv_dtypes(spec: GpuSpec) -> tuple[str, ...]:
    """KV cache dtypes to try: the model's own, and FP8 where vLLM's kernels take it."""
    cc = _capability(spec)
    fp8_ok = spec.fp8_support if cc is None else cc >= FP8_KV_MIN_CC
    return ("auto", "fp8") if fp8_ok else ("auto",)


def _search_gpu(
    search: _Search, spec: GpuSpec, price: float | None, precisions: list[_Precision]
) -> Iterator[_Found]:
    """Every precision x KV dtype x layout on one GPU type that reaches the target."""
    budget_bytes = math.ceil(spec.memory_bytes * search.request.gpu_memory_utilization)
    for precision in precisions:
        if not _precision_runs(precision, spec):
            continue
        for layout in _layouts(search, spec, precision, budget_bytes):
            for kv_dtype in _kv_dtypes(spec):
                search.layouts += 1
                hit = _search_layout(search, spec, price, precision, kv_dtype, layout)
                if hit is not None:
                    yield hit


def _layouts(
    search: _Search, spec: GpuSpec, precision: _Precision, budget_bytes: int
) -> Iterator[_Layout]:
    """Replica shapes whose weights fit: TP inside a node, else PP across nodes.

    A node uses TP over all its GPUs; PP splits a node only when the model's heads do not
    divide over all of them (the performance model charges every PP stage a full step, so
    in a node it never beats TP). Multi-node shapes (TP = GPUs per node of 4 or 8, PP =
    nodes) are tried only when no 8-GPU node holds the weights: the smallest node count
    that does, and one more.
    """
    meta = search.meta
    single_node_fits = False
    for per_node in GPUS_PER_NODE:
        tp = max(t for t in GPUS_PER_NODE if t <= per_node and is_valid_tp(meta, t))
        layout = _Layout(per_node, 1, tp, per_node // tp)
        if layout.pp > meta.num_layers or not _weights_fit(search, precision, layout, budget_bytes):
            search.pruned += 1
            continue
        single_node_fits = single_node_fits or per_node == GPUS_PER_NODE[-1]
        yield layout
    if single_node_fits:
        return
    for per_node in MULTI_NODE_GPUS_PER_NODE:
        if is_valid_tp(meta, per_node):
            yield from _multi_node_layouts(search, precision, per_node, budget_bytes)


def _multi_node_layouts(
    search: _Search, precision: _Precision, per_node: int, budget_bytes: int
) -> Iterator[_Layout]:
    top = min(search.request.max_nodes, search.meta.num_layers)
    first: int | None = None
    for nodes in range(2, top + 1):
        layout = _Layout(per_node, nodes, per_node, nodes)
        if first is None and not _weights_fit(search, precision, layout, budget_bytes):
            search.pruned += 1
            continue
        first = first or nodes
        if nodes > first + 1:
            return
        yield layout


def _weights_fit(search: _Search, precision: _Precision, layout: _Layout, budget: int) -> bool:
    per_gpu = weights_bytes_per_gpu(
        search.meta, precision.weights_total_bytes, layout.tp, layout.pp
    )
    return per_gpu < budget


def _search_layout(
    search: _Search,
    spec: GpuSpec,
    price: float | None,
    precision: _Precision,
    kv_dtype: str,
    layout: _Layout,
) -> _Found | None:
    """Largest per-replica concurrency that fits and meets the limits, then the replicas."""

    seen: dict[int, _Evaluation] = {}

    def at(concurrency: int) -> _Evaluation:
        if concurrency not in seen:
            seen[concurrency] = _evaluate(search, spec, precision, kv_dtype, layout, concurrency)
        return seen[concurrency]

    cap = min(search.target_concurrency or MAX_REPLICA_CONCURRENCY, MAX_REPLICA_CONCURRENCY)
    best = _best_concurrency(
        cap,
        at,
        _sequence_kv_bytes(search, spec, kv_dtype, layout),
        gib_to_bytes(search.request.headroom_gb),
    )
    if best is None:
        return None
    refine = None
    if search.target_concurrency is not None:
        replicas = math.ceil(search.target_concurrency / best.concurrency)
        final = at(math.ceil(search.target_concurrency / replicas))
    else:
        tps = search.target_output_tps or 0.0
        replicas = max(1, math.ceil(tps / best.speed.output_toks_per_s))
        final = best
        refine = functools.partial(_enough_concurrency, at, at(1), best, tps / replicas)
    if not final.ok or layout.gpus * replicas > search.request.max_gpus:
        return None
    return _Found(spec, price, precision, kv_dtype, layout, replicas, final, at(1), refine)


def _sequence_kv_bytes(search: _Search, spec: GpuSpec, kv_dtype: str, layout: _Layout) -> float:
    """Workload KV bytes one more sequence adds to a replica (context x fragmentation)."""
    weight_dtype = resolve_weight_dtype(
        "auto", search.meta.torch_dtype, spec.compute_capability, search.meta.model_type
    )
    kv_bytes = dtypes.kv_dtype_bytes(kv_dtype, weight_dtype)
    per_token = replica_kv_bytes_per_token(search.meta, kv_bytes, layout.tp, layout.pp)
    return search.max_model_len * search.request.fragmentation_factor * per_token


def _best_concurrency(
    top: int,
    at: Callable[[int], _Evaluation],
    sequence_bytes: float,
    min_headroom_bytes: int,
) -> _Evaluation | None:
    """About the largest concurrency up to `top` that is ok (within 20%); ok falls as it grows.

    The spare memory at one sequence bounds how many more fit; that bound is tried first,
    then the bound less the sequences the growing activation peak took, then a bisection.
    Most layouts settle in two to four budgets.
    """
    first = at(1)
    if not first.ok:
        return None
    spare = first.headroom_bytes - min_headroom_bytes
    high = int(min(top, 1 + spare // sequence_bytes)) if sequence_bytes > 0 else top
    if high <= 1:
        return first
    upper = at(high)
    if upper.ok:
        return upper
    low, guess = first, high
    if not upper.fits and sequence_bytes > 0:
        shortfall = min_headroom_bytes - upper.headroom_bytes
        guess = high - max(1, math.ceil(shortfall / sequence_bytes))
    while high - low.concurrency > max(1, low.concurrency // CONCURRENCY_TOLERANCE):
        mid = guess if low.concurrency < guess < high else (low.concurrency + high) // 2
        guess = 0
        evaluation = at(mid)
        if evaluation.ok:
            low = evaluation
        else:
            high = mid
    return low


def _enough_concurrency(
    at: Callable[[int], _Evaluation], single: _Evaluation, best: _Evaluation, share: float
) -> _Evaluation:
    """About the lowest concurrency up to `best` whose tok/s covers a replica's `share`.

    A decode step never gets shorter with more sequences, so tok/s per sequence falls as
    concurrency grows: `share` over the tok/s of one sequence (`single`) is a lower bound,
    `share` over the per-sequence tok/s at `best` an upper bound, and a bisection between
    them (within 20%) finds where throughput saturates.
    """

    def enough(evaluation: _Evaluation) -> bool:
        return evaluation.ok and evaluation.speed.output_toks_per_s >= share

    per_sequence = best.speed.output_toks_per_s / best.concurrency
    bound = min(best.concurrency, max(1, math.ceil(share / per_sequence)))
    chosen = best
    if bound < best.concurrency:
        upper = at(bound)
        chosen = upper if enough(upper) else best
    low = max(0, math.ceil(share / max(single.speed.output_toks_per_s, 1e-9)) - 1)
    while chosen.concurrency - low > max(1, chosen.concurrency // CONCURRENCY_TOLERANCE):
        evaluation = at((low + chosen.concurrency) // 2)
        if enough(evaluation):
            chosen = evaluation
        else:
            low = evaluation.concurrency
    return chosen


def _evaluate(
    search: _Search,
    spec: GpuSpec,
    precision: _Precision,
    kv_dtype: str,
    layout: _Layout,
    concurrency: int,
) -> _Evaluation:
    """Budget one layout the way `plan` does, then estimate its speed."""
    search.budgeted += 1
    request, meta = search.request, search.meta
    weight_dtype = resolve_weight_dtype(
        "auto", meta.torch_dtype, spec.compute_capability, meta.model_type
    )
    kv_bytes = dtypes.kv_dtype_bytes(kv_dtype, weight_dtype)
    plan_request = search.plan_request(concurrency)
    seqs = recommend_max_num_seqs(plan_request)
    settings = EngineSettings(
        max_model_len=search.max_model_len,
        max_num_seqs=seqs,
        max_num_batched_tokens=recommend_max_num_batched_tokens(
            plan_request, seqs, spec.memory_bytes, search.max_model_len
        ),
        block_size=DEFAULT_BLOCK_SIZE,
        enforce_eager=False,
        gpu_memory_utilization=request.gpu_memory_utilization,
        weight_dtype_bytes=dtypes.dtype_bytes(weight_dtype),
        kv_dtype_bytes=kv_bytes,
        tensor_parallel_size=layout.tp,
        pipeline_parallel_size=layout.pp,
        vllm_version=request.vllm_version,
        moe_kernel=mxfp4_moe_kernel(spec.compute_capability, spec.vendor, request.vllm_version),
    )
    budget = plan_gpu_budget(meta, spec.memory_bytes, precision.weights_total_bytes, settings)
    per_request = replica_request_kv_bytes(meta, settings, search.max_model_len)
    workload = per_request * concurrency * request.fragmentation_factor
    headroom = replica_headroom_bytes(budget, layout.gpus, workload)
    fits = budget.will_start and headroom >= gib_to_bytes(request.headroom_gb)
    if not fits:
        return _Evaluation(concurrency, fits, headroom, ok=False, estimate=lambda: _NO_SPEED)

    def estimate() -> _Speed:
        return _estimate_speed(search, spec, precision, layout, settings, budget, concurrency)

    evaluation = _Evaluation(concurrency, fits, headroom, ok=True, estimate=estimate)
    if request.max_tpot_ms is None and request.max_ttft_ms is None:
        return evaluation
    speed = evaluation.speed
    ok = (request.max_tpot_ms is None or speed.tpot_ms <= request.max_tpot_ms) and (
        request.max_ttft_ms is None or speed.ttft_ms <= request.max_ttft_ms
    )
    return replace(evaluation, ok=ok) if not ok else evaluation


def _estimate_speed(
    search: _Search,
    spec: GpuSpec,
    precision: _Precision,
    layout: _Layout,
    settings: EngineSettings,
    budget: GpuBudget,
    concurrency: int,
) -> _Speed:
    """Adapter to core.performance: the one place that builds its inputs and reads its ranges.

    One replica's figures, pessimistic ends: low output tok/s, high TTFT and TPOT (ms).
    """
    meta, request = search.meta, search.request
    workload = Workload(
        prompt_tokens=request.prompt_tokens,
        gen_tokens=request.gen_tokens,
        concurrency=concurrency,
        max_num_seqs=settings.max_num_seqs,
        kv_capacity_tokens=budget.kv_tokens,
        max_num_batched_tokens=settings.max_num_batched_tokens,
        chunked_prefill=vllm_era(settings.vllm_version) != "v0",
        kv_capacity_requests=requests_that_fit(
            meta, settings, budget.num_blocks, request.prompt_tokens + request.gen_tokens
        ),
    )
    inputs = build_inputs(
        meta,
        spec,
        interconnect=spec.interconnect,
        weights_bytes=precision.weights_total_bytes,
        kv_bytes_per_token_per_gpu=kv_read_bytes_per_token(
            meta, settings, request.prompt_tokens + request.gen_tokens // 2
        ),
        tensor_parallel_size=layout.tp,
        pipeline_parallel_size=layout.pp,
        replicas=1,
        quantization=precision.quantization or meta.quantization,
        workload=workload,
    )
    report = estimate_performance(inputs)
    return _Speed(
        output_toks_per_s=report.output_toks_per_s_range[0],
        ttft_ms=report.ttft_ms_range[1],
        tpot_ms=report.tpot_ms_range[1],
    )


def _refine_where_it_shows(found: list[_Found], top: int, target_tps: float | None) -> list[_Found]:
    """Lower the concurrency of the options whose figures can show: the `top` cheapest per
    hour (their cost is fixed already) and any that could be on the Pareto front.

    The rest keep the concurrency that reached the target first; they are ranked below the
    table by cost, and some option provably dominates them whatever refinement would give.
    """
    pending = [f for f in found if f.refine is not None]
    if not pending or target_tps is None:
        return found
    by_cost = sorted(found, key=lambda f: (f.usd_per_hour is None, f.usd_per_hour or 0.0))
    cutoff = by_cost[min(top, len(by_cost)) - 1].usd_per_hour
    dominated = _surely_dominated(found, target_tps)
    out = []
    for f in found:
        shows = cutoff is None or f.usd_per_hour is None or f.usd_per_hour <= cutoff
        if f.refine is not None and (shows or id(f) not in dominated):
            f = replace(f, evaluation=f.refine(), refine=None)
        out.append(f)
    return out


def _surely_dominated(found: list[_Found], target_tps: float) -> set[int]:
    """ids of options some other option beats on both axes whatever refinement gives.

    Refinement lowers concurrency: TPOT falls to no less than at one sequence, and USD per
    million tokens rises to no more than at exactly the target throughput.
    """
    bounds = []
    for f in found:
        cost = f.usd_per_hour
        if cost is None or f.usd_per_million_output_tokens is None:
            continue
        worst_cost = cost / (target_tps * SECONDS_PER_HOUR) * 1e6
        best_cost = f.usd_per_million_output_tokens
        bounds.append(
            (worst_cost, f.evaluation.speed.tpot_ms, best_cost, f.single.speed.tpot_ms, f)
        )
    by_worst = sorted(bounds, key=lambda b: b[0])
    dominated: set[int] = set()
    fastest, i = math.inf, 0
    for _, _, best_cost, best_tpot, f in sorted(bounds, key=lambda b: b[2]):
        while i < len(by_worst) and by_worst[i][0] < best_cost:
            fastest = min(fastest, by_worst[i][1])
            i += 1
        if fastest < best_tpot:
            dominated.add(id(f))
    return dominated


def _rank(found: list[_Found]) -> list[_Found]:
    """Cheapest per hour first (unpriced last), then the most headroom, then the fastest.

    Cost compares to the cent, as it is shown: float noise must not outrank headroom.
    """
    return sorted(
        found,
        key=lambda f: (
            f.usd_per_hour is None,
            round(f.usd_per_hour or 0.0, 2),
            -f.evaluation.headroom_bytes,
            f.evaluation.speed.tpot_ms,
        ),
    )


def _pareto_set(found: list[_Found]) -> set[int]:
    """ids of options no other option beats on both USD per million tokens and TPOT."""
    priced = [f for f in found if f.usd_per_million_output_tokens is not None]
    priced.sort(key=lambda f: (f.usd_per_million_output_tokens, f.evaluation.speed.tpot_ms))
    front: set[int] = set()
    best_tpot, best_cost = math.inf, math.inf
    for f in priced:
        cost, tpot = f.usd_per_million_output_tokens or 0.0, f.evaluation.speed.tpot_ms
        if tpot < best_tpot:
            best_tpot, best_cost = tpot, cost
            front.add(id(f))
        elif tpot == best_tpot and cost == best_cost:
            front.add(id(f))
    return front


def _option(search: _Search, rank: int, hit: _Found, pareto: bool) -> SizeOption:
    e, lay = hit.evaluation, hit.layout
    cost, per_million = hit.usd_per_hour, hit.usd_per_million_output_tokens
    return SizeOption(
        rank=rank,
        gpu_name=hit.spec.name,
        gpus_per_node=lay.gpus_per_node,
        nodes=lay.nodes,
        tensor_parallel_size=lay.tp,
        pipeline_parallel_size=lay.pp,
        replicas=hit.replicas,
        gpus_total=lay.gpus * hit.replicas,
        weight_precision=hit.precision.name,
        quantization=hit.precision.quantization,
        needs_quantized_checkpoint=hit.precision.needs_checkpoint,
        kv_cache_dtype=hit.kv_cache_dtype,
        concurrency_per_replica=e.concurrency,
        max_model_len=search.max_model_len,
        fits=e.fits,
        headroom_gb=bytes_to_gib(e.headroom_bytes),
        output_toks_per_s=round(hit.output_toks_per_s, 1),
        ttft_ms=e.speed.ttft_ms,
        tpot_ms=e.speed.tpot_ms,
        usd_per_hour=None if cost is None else round(cost, 2),
        usd_per_million_output_tokens=None if per_million is None else round(per_million, 3),
        pareto=pareto,
        plan_args=_plan_args(search, hit),
        notes=_option_notes(hit),
    )


def _plan_args(search: _Search, hit: _Found) -> dict[str, Any]:
    """`plan` options (PlanRequest fields) that reproduce one replica of this option.

    Every replica is the same vLLM instance; the option runs `replicas` of them.
    """
    r, lay = search.request, hit.layout
    args: dict[str, Any] = {
        "model": r.model,
        "gpu": hit.spec.name,
        "gpus": lay.gpus,
        "gpus_per_node": lay.gpus_per_node,
        "tensor_parallel_size": lay.tp,
        "pipeline_parallel_size": lay.pp,
        "max_model_len": search.max_model_len,
        "prompt_tokens": r.prompt_tokens,
        "gen_tokens": r.gen_tokens,
        "concurrency": hit.evaluation.concurrency,
        "gpu_memory_utilization": r.gpu_memory_utilization,
        "headroom_gb": r.headroom_gb,
        "fragmentation_factor": r.fragmentation_factor,
        "vllm_version": r.vllm_version,
        "use_corrections": False,
    }
    if hit.precision.quantization:
        args["quantization"] = hit.precision.quantization
    if hit.kv_cache_dtype != "auto":
        args["kv_cache_dtype"] = hit.kv_cache_dtype
    if r.revision:
        args["revision"] = r.revision
    if r.params_b:
        args["params_b"] = r.params_b
    return args


def _option_notes(hit: _Found) -> list[str]:
    notes = []
    if hit.precision.name == "4bit":
        notes.append(
            "Needs a 4-bit (AWQ/GPTQ) checkpoint of this model; vLLM cannot quantize to 4 bits "
            "while loading."
        )
    elif hit.precision.name == "fp8":
        notes.append(
            "FP8 weights: vLLM quantizes the checkpoint while loading (--quantization fp8), "
            "or use an FP8 checkpoint."
        )
    if hit.layout.nodes > 1:
        notes.append(
            f"Each replica spans {hit.layout.nodes} nodes (pipeline parallel): start a Ray "
            "cluster and add --distributed-executor-backend ray."
        )
    if hit.price is None:
        notes.append("No price known for this GPU; pass --price to rank it by cost.")
    return notes


def _target_dict(search: _Search) -> dict[str, float]:
    r = search.request
    if search.target_concurrency is not None:
        return {"concurrency": float(search.target_concurrency)}
    target = {"output_toks_per_s": search.target_output_tps or 0.0}
    if r.target_rps is not None:
        target["requests_per_s"] = r.target_rps
    return target


def _assumptions(request: SizeRequest) -> list[str]:
    return [
        "Approximate: speeds are the performance module's calibrated ranges at each "
        "replica's concurrency; output tok/s is the low end x replicas, TTFT (which includes "
        "queueing behind a burst) and TPOT the high ends.",
        f"Every replica is planned for max_model_len = prompt + gen rounded up, "
        f"{request.gpu_memory_utilization:g} GPU memory utilization, vLLM "
        f"{request.vllm_version} start-up accounting, no saved corrections.",
        "Replicas are independent vLLM instances behind a load balancer; no queueing is "
        "modelled. Cost is GPU-hours only (no CPU, network or storage).",
        "Prices are the catalog's approximate on-demand USD per GPU-hour unless --price "
        "overrides them.",
        "Expert parallel with data-parallel attention (MoE) is not searched yet.",
    ]


def _nothing_fits_hint() -> str:
    return (
        "No layout fits and meets the limits; try more --max-nodes or --max-gpus, a shorter "
        "--max-model-len, looser --max-tpot-ms / --max-ttft-ms, or other --gpu types."
    )
