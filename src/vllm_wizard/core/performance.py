"""Decode, prefill and serving speed from a calibrated roofline, always as [low, high] ranges.

One decode step of a replica at batch B and context c takes bytes moved / (HBM bandwidth
x efficiency) plus FLOPs / (tensor rate x efficiency) (its kernels run one after another),
plus two tensor-parallel all-reduces per layer and overheads (per step, per routed expert
and layer). Bytes moved are the weights each GPU reads (for
MoE only the experts a batch of B tokens touches) and the KV cache of the running
sequences. Prefill is 2 x active parameters per token plus attention's quadratic term at
the dense tensor rate x efficiency, in chunks of max_num_batched_tokens. Output
throughput runs a burst of requests through prefill and decode; with varying output
lengths (chat traffic) the batch drains as requests finish, so the longest ones decode
at small batch. Times are seconds, rates tokens/s, bandwidth 10^9 B/s, tensor rates
10^12 FLOP/s.

The efficiencies live in `core/data/perf_calibration.json`, fitted per GPU class by
`benchmarks/perf_accuracy.py --fit` on public vLLM measurements; the range is the
midpoint times / divided by the square root of the fitted spread (at most 2x wide), and
its high end never exceeds the plain roofline.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import lru_cache
from importlib import resources
from typing import Any

from vllm_wizard.core.memory import routed_expert_bytes
from vllm_wizard.schemas.gpu import GpuSpec
from vllm_wizard.schemas.model import ModelMetadata
from vllm_wizard.schemas.plan import PerformanceReport

# GPU-to-GPU bandwidth (10^9 B/s, one direction) when the catalog gives none.
LINK_GBPS = {"nvlink": 300.0, "xgmi": 64.0, "pcie": 25.0, "unknown": 25.0}
ACTIVATION_BYTES = 2  # all-reduces move BF16/FP16 activations
MAX_SPREAD = 2.0  # no range wider than high / low = 2
EULER_GAMMA = 0.5772  # 1 + 1/2 + ... + 1/n = ln(n + 1/2) + this, closely


@dataclass(frozen=True)
class Calibration:
    """Efficiency constants of the model; `gpu_class` keys the per-class bandwidth shares."""

    bandwidth_efficiency: dict[str, float]
    decode_mfu: float
    prefill_mfu: float
    step_overhead_s: float
    expert_overhead_s: float
    allreduce_latency_s: float
    spread: float


CALIBRATION_FILE = "perf_calibration.json"


def calibration_from_dict(raw: dict[str, Any]) -> Calibration:
    """Build a `Calibration` from the fields of the data file (seconds, fractions)."""
    return Calibration(
        bandwidth_efficiency={str(k): float(v) for k, v in raw["bandwidth_efficiency"].items()},
        decode_mfu=float(raw["decode_mfu"]),
        prefill_mfu=float(raw["prefill_mfu"]),
        step_overhead_s=float(raw["step_overhead_s"]),
        expert_overhead_s=float(raw["expert_overhead_s"]),
        allreduce_latency_s=float(raw["allreduce_latency_s"]),
        spread=float(raw["spread"]),
    )


@lru_cache(maxsize=1)
def load_calibration() -> Calibration:
    """The shipped constants, fitted by `benchmarks/perf_accuracy.py --fit`."""
    text = resources.files("vllm_wizard.core.data").joinpath(CALIBRATION_FILE).read_text("utf-8")
    return calibration_from_dict(json.loads(text))


@dataclass(frozen=True)
class PerfInputs:
    """What the estimate needs: one replica's layout, the model's shape and the workload."""

    # Model (whole model, before parallelism)
    weights_bytes: float
    params_total: int
    params_active: int
    num_experts: int
    experts_per_token: int
    num_layers: int
    hidden_size: int
    attention_width: int  # query heads x head_dim
    decode_attention_width: int  # MLA decodes in the latent space: heads x (rank + rope)
    kv_bytes_per_token_per_gpu: int
    # Hardware of one replica
    memory_bandwidth_gbps: float
    matmul_tflops: float
    tensor_parallel_size: int
    pipeline_parallel_size: int
    interconnect: str
    interconnect_gbps: float | None
    gpu_class: str
    replicas: int
    # Engine and workload
    prompt_tokens: int
    gen_tokens: int
    concurrency: int
    max_num_seqs: int
    kv_capacity_tokens: int
    max_num_batched_tokens: int
    assumptions: list[str] = field(default_factory=list)
    # Expert parallelism over TP x DP GPUs (DP ranks of one server): each GPU holds 1/EP of
    # the routed experts (`expert_bytes` of the weights are routed experts).
    expert_parallel: int = 1
    expert_bytes: float = 0.0
    # V1 engine (0.8+): new prompts ride in the decode steps' token budget; V0 without
    # chunked prefill ran them in prefill-only steps.
    chunked_prefill: bool = True
    # Requests of the workload's context the KV cache admits at once (vLLM's block grouping:
    # sliding-window layers hold only their window); None: kv_capacity_tokens / context.
    kv_capacity_requests: int | None = None
    # Output lengths: fixed (every request generates gen_tokens) or varying like chat
    # traffic (exponential around the mean gen_tokens); `requests` is how many arrive
    # at once (0: the concurrency).
    variable_lengths: bool = False
    requests: int = 0


@dataclass(frozen=True)
class Workload:
    """Requests as the user describes them, and the engine caps on one replica."""

    prompt_tokens: int
    gen_tokens: int
    concurrency: int
    max_num_seqs: int
    kv_capacity_tokens: int
    max_num_batched_tokens: int = 8192
    kv_capacity_requests: int | None = None
    chunked_prefill: bool = True


def build_inputs(
    meta: ModelMetadata,
    spec: GpuSpec,
    *,
    interconnect: str,
    weights_bytes: int,
    kv_bytes_per_token_per_gpu: int,
    tensor_parallel_size: int,
    pipeline_parallel_size: int,
    replicas: int,
    quantization: str | None,
    workload: Workload,
    expert_parallel: int = 1,
) -> PerfInputs:
    """Gather the model, GPU and layout facts the estimate needs."""
    link = spec.interconnect_gbps if interconnect == spec.interconnect else None
    return PerfInputs(
        weights_bytes=float(weights_bytes),
        params_total=meta.params_total,
        params_active=meta.params_active,
        num_experts=meta.num_experts,
        experts_per_token=meta.num_experts_per_token,
        num_layers=meta.num_layers,
        hidden_size=meta.hidden_size,
        attention_width=meta.num_attention_heads * meta.head_dim,
        decode_attention_width=meta.num_attention_heads * _decode_head_dim(meta),
        kv_bytes_per_token_per_gpu=kv_bytes_per_token_per_gpu,
        memory_bandwidth_gbps=spec.memory_bandwidth_gbps,
        matmul_tflops=matmul_tflops(spec, quantization),
        tensor_parallel_size=tensor_parallel_size,
        pipeline_parallel_size=pipeline_parallel_size,
        interconnect=interconnect,
        interconnect_gbps=link,
        gpu_class=gpu_class(spec),
        replicas=max(1, replicas),
        prompt_tokens=workload.prompt_tokens,
        gen_tokens=workload.gen_tokens,
        concurrency=workload.concurrency,
        max_num_seqs=workload.max_num_seqs,
        kv_capacity_tokens=workload.kv_capacity_tokens,
        max_num_batched_tokens=workload.max_num_batched_tokens,
        kv_capacity_requests=workload.kv_capacity_requests,
        chunked_prefill=workload.chunked_prefill,
        expert_parallel=expert_parallel,
        expert_bytes=float(routed_expert_bytes(meta, weights_bytes))
        if expert_parallel > 1
        else 0.0,
    )


def _decode_head_dim(meta: ModelMetadata) -> int:
    """Per-head width a decode token attends with: MLA's absorbed weights make each head
    score and sum over the whole latent (kv_lora_rank + rope dims), not head_dim."""
    if meta.attention == "mla" and meta.mla_kv_dim:
        return meta.mla_kv_dim
    return meta.head_dim


def gpu_class(spec: GpuSpec) -> str:
    """Efficiency class: AMD Instinct, NVIDIA with HBM, or NVIDIA with GDDR (consumer, L4/L40)."""
    if spec.vendor == "amd":
        return "amd"
    if spec.consumer or spec.memory_bandwidth_gbps < 1400:
        return "nvidia_gddr"
    return "nvidia_hbm"


def matmul_tflops(spec: GpuSpec, quantization: str | None) -> float:
    """Dense tensor rate the model's GEMMs run at: FP8 where both checkpoint and GPU have it."""
    bf16 = spec.bf16_tflops_dense
    if quantization is None or "fp8" not in quantization.lower():
        return bf16
    if spec.fp8_tflops_dense:
        return spec.fp8_tflops_dense
    return 2 * bf16 if spec.fp8_support else bf16


def active_weight_bytes(
    weights_bytes: float,
    params_total: int,
    params_active: int,
    experts: int,
    per_token: int,
    tokens: int,
) -> float:
    """Weight bytes one step over `tokens` tokens reads: MoE reads only the experts routed to.

    With E experts and k per token, a batch of T tokens leaves an expert untouched with
    probability (1 - k/E)^T under uniform routing.
    """
    if experts == 0 or per_token == 0 or params_active >= params_total:
        return float(weights_bytes)
    share = per_token / experts
    expert_params = (params_total - params_active) / (1 - share) if share < 1 else 0.0
    dense_params = params_total - expert_params
    touched = 1 - (1 - share) ** max(1, tokens)
    per_param = weights_bytes / params_total
    return per_param * (dense_params + expert_params * touched)


def effective_concurrency(inp: PerfInputs) -> int:
    """Sequences one replica decodes together: requested, capped by max_num_seqs and the KV cache."""
    per_replica = math.ceil(inp.concurrency / max(1, inp.replicas))
    context = inp.prompt_tokens + inp.gen_tokens
    if inp.kv_capacity_requests is not None:
        kv_cap = max(1, inp.kv_capacity_requests)
    elif inp.kv_capacity_tokens > 0:
        kv_cap = max(1, inp.kv_capacity_tokens // max(1, context))
    else:
        kv_cap = 1
    return max(1, min(per_replica, inp.max_num_seqs, kv_cap))


@dataclass(frozen=True)
class PointEstimate:
    """Midpoint figures of one estimate (seconds and tokens/s)."""

    batch: int
    decode_step_s: float
    roofline_step_s: float
    prefill_toks_per_s: float
    roofline_prefill_toks_per_s: float
    single_prefill_toks_per_s: float
    roofline_single_prefill_toks_per_s: float
    output_toks_per_s: float
    roofline_output_toks_per_s: float
    allreduce_s: float


def _allreduce_s(inp: PerfInputs, tokens: int, latency_s: float) -> float:
    """Two all-reduces per layer of this GPU's stage, ring algorithm over the GPU link."""
    tp = inp.tensor_parallel_size
    if tp <= 1:
        return 0.0
    link = inp.interconnect_gbps or LINK_GBPS.get(inp.interconnect, LINK_GBPS["unknown"])
    message = tokens * inp.hidden_size * ACTIVATION_BYTES
    per_call = latency_s + 2 * (tp - 1) / tp * message / (link * 1e9)
    layers = inp.num_layers / inp.pipeline_parallel_size
    return 2 * layers * per_call


def _expert_params(inp: PerfInputs) -> float:
    """Routed-expert parameters of the whole model (0 for a dense model)."""
    if inp.num_experts == 0 or inp.experts_per_token == 0 or inp.params_active >= inp.params_total:
        return 0.0
    share = inp.experts_per_token / inp.num_experts
    return (inp.params_total - inp.params_active) / (1 - share) if share < 1 else 0.0


def _touched_experts(inp: PerfInputs, tokens: int) -> float:
    """Experts per MoE layer that a step over `tokens` tokens routes to (uniform routing)."""
    if inp.num_experts == 0 or inp.experts_per_token == 0:
        return 0.0
    share = min(1.0, inp.experts_per_token / inp.num_experts)
    return inp.num_experts * (1 - (1 - share) ** max(1, tokens))


def _server_tokens(inp: PerfInputs, tokens: int) -> int:
    """Tokens the experts of one GPU see: with expert parallelism every DP rank routes its
    tokens to every GPU's experts."""
    ranks = max(1, inp.expert_parallel // inp.tensor_parallel_size)
    return tokens * ranks if inp.expert_parallel > 1 else tokens


def _weights_read_per_gpu(inp: PerfInputs, tokens: int) -> float:
    """Weight bytes one GPU reads in a step over `tokens` tokens of its replica (MoE: only
    the experts routed to; expert parallelism: of the GPU's own 1/EP of them)."""
    gpus = inp.tensor_parallel_size * inp.pipeline_parallel_size
    if inp.expert_parallel <= 1 or inp.num_experts == 0:
        return (
            active_weight_bytes(
                inp.weights_bytes,
                inp.params_total,
                inp.params_active,
                inp.num_experts,
                inp.experts_per_token,
                tokens,
            )
            / gpus
        )
    touched = _touched_experts(inp, _server_tokens(inp, tokens)) / inp.num_experts
    dense = (inp.weights_bytes - inp.expert_bytes) / gpus
    return dense + inp.expert_bytes / (inp.expert_parallel * inp.pipeline_parallel_size) * touched


def _experts_run_per_gpu(inp: PerfInputs, tokens: int) -> float:
    """Experts per MoE layer one GPU runs in a step over `tokens` tokens of its replica."""
    if inp.expert_parallel <= 1:
        return _touched_experts(inp, tokens)
    return _touched_experts(inp, _server_tokens(inp, tokens)) / inp.expert_parallel


def _all_to_all_s(inp: PerfInputs, tokens: int, latency_s: float) -> float:
    """Expert parallelism's dispatch and combine: two exchanges per layer of each token's
    top-k hidden states with the other GPUs of the server, over the GPU link."""
    ep = inp.expert_parallel
    if ep <= 1 or inp.num_experts == 0:
        return 0.0
    link = inp.interconnect_gbps or LINK_GBPS.get(inp.interconnect, LINK_GBPS["unknown"])
    sent = tokens * inp.experts_per_token * inp.hidden_size * ACTIVATION_BYTES * (ep - 1) / ep
    layers = inp.num_layers / inp.pipeline_parallel_size
    return 2 * layers * (latency_s + sent / (link * 1e9))


def _stage_step_s(inp: PerfInputs, batch: int, cal: Calibration | None, bw_eff: float) -> float:
    """One decode step of one pipeline stage over `batch` sequences (seconds).

    Calibrated: memory time plus compute time plus overheads, since a step's kernels run
    one after another and each is bound by bandwidth or by the tensor rate, not both at
    once. With `cal` None this is the plain roofline: the larger of the two at full
    bandwidth and tensor rate, no overheads.
    """
    gpus = inp.tensor_parallel_size * inp.pipeline_parallel_size
    weights = _weights_read_per_gpu(inp, batch)
    context = inp.prompt_tokens + inp.gen_tokens / 2
    kv = batch * context * inp.kv_bytes_per_token_per_gpu
    memory_s = (weights + kv) / (inp.memory_bandwidth_gbps * 1e9 * bw_eff)
    expert_active = _expert_params(inp) * inp.experts_per_token / max(1, inp.num_experts)
    expert_flops = 2 * expert_active * batch / gpus
    attention_flops = 4 * inp.decode_attention_width * inp.num_layers * context * batch
    dense_flops = (2 * (inp.params_active - expert_active) * batch + attention_flops) / gpus
    rate = inp.matmul_tflops * 1e12
    if cal is None:
        return max(memory_s, (dense_flops + expert_flops) / rate)
    compute_s = (dense_flops + expert_flops) / (rate * cal.decode_mfu)
    layers = inp.num_layers / inp.pipeline_parallel_size
    moe_s = cal.expert_overhead_s * layers * _experts_run_per_gpu(inp, batch)
    return memory_s + compute_s + cal.step_overhead_s + moe_s


def _prefill_rate(inp: PerfInputs, tokens: int, cal: Calibration | None, bw_eff: float) -> float:
    """Prompt tokens/s of one replica when `tokens` prompt tokens wait, in chunks.

    Each scheduler step carries at most max_num_batched_tokens prompt tokens; a step costs
    the larger of its FLOPs (2 x active parameters plus attention over the prompt, per
    token) at the tensor rate and one read of the weights, plus the step overhead and the
    all-reduces. With `cal` None: the plain roofline.
    """
    chunk = max(1, min(tokens, inp.max_num_batched_tokens))
    gpus = inp.tensor_parallel_size * inp.pipeline_parallel_size
    per_token = 2 * inp.params_active + 2 * inp.attention_width * inp.num_layers * inp.prompt_tokens
    rate = inp.matmul_tflops * 1e12
    weights = _weights_read_per_gpu(inp, chunk)
    bandwidth = inp.memory_bandwidth_gbps * 1e9
    if cal is None:
        return chunk / max(chunk * per_token / gpus / rate, weights / bandwidth)
    compute_s = chunk * per_token / gpus / (rate * cal.prefill_mfu)
    memory_s = weights / (bandwidth * bw_eff)
    comm_s = _allreduce_s(inp, chunk, cal.allreduce_latency_s)
    comm_s += _all_to_all_s(inp, chunk, cal.allreduce_latency_s)
    layers = inp.num_layers / inp.pipeline_parallel_size
    moe_s = cal.expert_overhead_s * layers * _experts_run_per_gpu(inp, chunk)
    return chunk / (max(compute_s, memory_s) + cal.step_overhead_s + comm_s + moe_s)


def _piggyback_s(inp: PerfInputs, cal: Calibration | None) -> float:
    """Seconds one prompt token adds to a decode step it rides on (chunked prefill): its
    FLOPs only, the weights being read for the decode tokens anyway."""
    gpus = inp.tensor_parallel_size * inp.pipeline_parallel_size
    per_token = 2 * inp.params_active + 2 * inp.attention_width * inp.num_layers * inp.prompt_tokens
    mfu = cal.prefill_mfu if cal is not None else 1.0
    return per_token / gpus / (inp.matmul_tflops * 1e12 * mfu)


def point_estimate(inp: PerfInputs, cal: Calibration | None = None) -> PointEstimate:
    """Midpoint decode step, prefill rate and output rate, with the plain roofline beside them."""
    cal = cal or load_calibration()
    batch = effective_concurrency(inp)
    pp = inp.pipeline_parallel_size
    bw_eff = cal.bandwidth_efficiency.get(inp.gpu_class, cal.bandwidth_efficiency["nvidia_hbm"])

    def step(b: int) -> float:
        return _step_s(inp, b, cal, bw_eff)

    def roof_step(b: int) -> float:
        return pp * _stage_step_s(inp, max(1, math.ceil(b / pp)), None, 1.0)

    packed = batch * inp.prompt_tokens
    prefill = _prefill_rate(inp, packed, cal, bw_eff)
    peak_prefill = _prefill_rate(inp, packed, None, 1.0)
    micro = max(1, math.ceil(batch / pp))
    return PointEstimate(
        batch=batch,
        decode_step_s=step(batch),
        roofline_step_s=roof_step(batch),
        prefill_toks_per_s=prefill,
        roofline_prefill_toks_per_s=peak_prefill,
        single_prefill_toks_per_s=_prefill_rate(inp, inp.prompt_tokens, cal, bw_eff),
        roofline_single_prefill_toks_per_s=_prefill_rate(inp, inp.prompt_tokens, None, 1.0),
        output_toks_per_s=_output_rate(inp, batch, step, prefill, _piggyback_s(inp, cal)),
        roofline_output_toks_per_s=_output_rate(
            inp, batch, roof_step, peak_prefill, _piggyback_s(inp, None)
        ),
        allreduce_s=pp * _allreduce_s(inp, micro, cal.allreduce_latency_s),
    )


def _step_s(inp: PerfInputs, batch: int, cal: Calibration, bw_eff: float) -> float:
    """One decode step of the whole replica over `batch` sequences (seconds)."""
    pp = inp.pipeline_parallel_size
    micro = max(1, math.ceil(batch / pp))
    comm = _allreduce_s(inp, micro, cal.allreduce_latency_s)
    comm += _all_to_all_s(inp, micro, cal.allreduce_latency_s)
    return pp * (_stage_step_s(inp, micro, cal, bw_eff) + comm)


def _drain_s(inp: PerfInputs, batch: int, step: Callable[[int], float]) -> float:
    """Decode time of `batch` requests started together whose lengths vary (seconds).

    With exponential output lengths of mean g, the gap between the (j+1)-th and the j-th
    last request to finish is g / j on average, so the batch shrinks from `batch` to 1
    and the time is the sum over j of g / j x step(j); summed here over doubling bands.
    """
    total, low = 0.0, 1
    while low <= batch:
        high = min(batch, 2 * low - 1)
        if low > 1:
            weight = math.log((high + 0.5) / (low - 0.5))
        else:
            weight = math.log(high + 0.5) + EULER_GAMMA
        total += inp.gen_tokens * weight * step(round(math.sqrt(low * high)))
        low = high + 1
    return total


def _output_rate(
    inp: PerfInputs,
    batch: int,
    step: Callable[[int], float],
    prefill_toks_per_s: float,
    piggyback_s_per_token: float,
) -> float:
    """All replicas' output tok/s over one burst of requests (prefill, then decode).

    Fixed lengths: the batch decodes gen_tokens steps together. Varying lengths: while
    requests wait, the batch stays full; once the queue is empty it drains as requests
    finish, so the last ones decode at small batch. With chunked prefill the first batch's
    prompts run alone and later prompts ride in decode steps, adding only their FLOPs.
    """
    if not inp.variable_lengths:
        cycle = batch * inp.prompt_tokens / prefill_toks_per_s + inp.gen_tokens * step(batch)
        return inp.replicas * batch * inp.gen_tokens / cycle
    waiting = math.ceil((inp.requests or inp.concurrency) / inp.replicas)
    requests = max(batch, waiting)
    if inp.chunked_prefill:
        prefill = batch * inp.prompt_tokens / prefill_toks_per_s
        prefill += (requests - batch) * inp.prompt_tokens * piggyback_s_per_token
    else:
        prefill = requests * inp.prompt_tokens / prefill_toks_per_s
    full = (requests - batch) * inp.gen_tokens * step(batch) / batch
    decode = full + _drain_s(inp, batch, step)
    return inp.replicas * requests * inp.gen_tokens / (prefill + decode)


def estimate_performance(inp: PerfInputs, cal: Calibration | None = None) -> PerformanceReport:
    """Decode tok/s per request and in total, TPOT, prefill tok/s, TTFT, requests/s, e2e."""
    cal = cal or load_calibration()
    est = point_estimate(inp, cal)
    half = math.sqrt(min(cal.spread, MAX_SPREAD))

    decode = _band(1 / est.decode_step_s, half, 1 / est.roofline_step_s)
    output = _band(est.output_toks_per_s, half, est.roofline_output_toks_per_s)
    prefill = _band(est.prefill_toks_per_s, half, est.roofline_prefill_toks_per_s)
    tpot = (1000 / decode[1], 1000 / decode[0])
    # TTFT: alone on the server (low) up to waiting behind the other prompts of a burst of
    # `batch` arrivals, on average half of them (high).
    prompt = inp.prompt_tokens
    single = _band(est.single_prefill_toks_per_s, half, est.roofline_single_prefill_toks_per_s)
    alone = prompt / single[1] + 1 / decode[1]
    queued = prompt / single[0] + (est.batch - 1) / 2 * prompt / prefill[0] + 1 / decode[0]
    ttft = (alone, max(alone, queued))
    gen = max(1, inp.gen_tokens)
    e2e = (ttft[0] + (gen - 1) / decode[1], ttft[1] + (gen - 1) / decode[0])
    return PerformanceReport(
        decode_toks_per_s_range=(_r(decode[0]), _r(decode[1])),
        output_toks_per_s_range=(_r(output[0]), _r(output[1])),
        tpot_ms_range=(_r(tpot[0]), _r(tpot[1])),
        prefill_toks_per_s_range=(_r(prefill[0]), _r(prefill[1])),
        ttft_ms_range=(_r(ttft[0] * 1000), _r(ttft[1] * 1000)),
        requests_per_s_range=(round(output[0] / gen, 3), round(output[1] / gen, 3)),
        e2e_latency_ms_range=(_r(e2e[0] * 1000), _r(e2e[1] * 1000)),
        assumptions=_assumptions(inp, est, cal),
    )


def _band(mid: float, half: float, ceiling: float) -> tuple[float, float]:
    """[mid / half, mid x half], the high end capped at the roofline, rounded inwards to 0.1."""
    high = math.floor(min(mid * half, ceiling) * 10) / 10
    low = math.ceil(mid / half * 10) / 10
    return min(low, high), high


def _assumptions(inp: PerfInputs, est: PointEstimate, cal: Calibration) -> list[str]:
    bw = cal.bandwidth_efficiency.get(inp.gpu_class, cal.bandwidth_efficiency["nvidia_hbm"])
    lines = [
        "Approximate: a roofline calibrated on public vLLM benchmarks, not a measurement; real "
        "performance depends on kernels, drivers, batching and the vLLM version.",
        f"A decode step reads each GPU's weights and the running sequences' KV cache at "
        f"{bw:.0%} of {inp.memory_bandwidth_gbps:.0f} GB/s, then runs its matmuls at "
        f"{cal.decode_mfu:.0%} of {inp.matmul_tflops:.0f} TFLOP/s (the two add up), plus "
        f"{cal.step_overhead_s * 1000:.2f} ms per step (scheduling, sampling, launches).",
        f"Prefill runs at {cal.prefill_mfu:.0%} of the dense tensor rate: 2 FLOPs per active "
        "parameter per token plus attention over the prompt, in chunks of "
        f"{inp.max_num_batched_tokens} tokens (max_num_batched_tokens), each step at least "
        "one read of the weights.",
        f"{est.batch} sequence(s) per replica decode together ({inp.concurrency} requested"
        + (f", split over {inp.replicas} replicas" if inp.replicas > 1 else "")
        + "; at most max_num_seqs and what the KV cache holds), each with "
        f"{inp.prompt_tokens} prompt + {inp.gen_tokens} generated tokens"
        + (
            " on average (lengths vary: the batch drains as requests finish)."
            if inp.variable_lengths
            else " (fixed lengths, as with --ignore-eos)."
        ),
        "Ranges span 80% of the calibration's errors, widened for the constants fitted "
        "(at most 2x high/low); the high end "
        "never exceeds the plain bandwidth/compute roofline. On GPUs and models left out of "
        "the fit, two thirds of measured values fell inside; 78-81% on cases or "
        "publications left out (benchmarks/results).",
        "TTFT: low is an idle server; high waits behind half a burst of prompts. Under "
        "saturation TTFT is mostly queueing.",
    ]
    if inp.num_experts:
        lines.append(
            f"MoE: a step over {est.batch} token(s) reads only the experts they route to "
            f"({inp.experts_per_token} of {inp.num_experts} per token, uniform routing), and "
            f"pays {cal.expert_overhead_s * 1e6:.0f} us per layer for each expert it runs."
        )
    if inp.expert_parallel > 1:
        lines.append(
            f"Expert parallel over {inp.expert_parallel} GPUs: each reads only its share of "
            "the experts, for the tokens of every DP rank, and exchanges tokens with the "
            "others twice per layer (dispatch and combine)."
        )
    if inp.tensor_parallel_size > 1:
        lines.append(
            f"Tensor parallel {inp.tensor_parallel_size}: two all-reduces per layer over "
            f"{inp.interconnect} cost {est.allreduce_s * 1000:.2f} ms per decode step."
        )
    if inp.pipeline_parallel_size > 1:
        lines.append(
            f"Pipeline parallel {inp.pipeline_parallel_size}: a token passes every stage in "
            "turn; stages work on different micro-batches at once."
        )
    return lines + inp.assumptions


def _r(value: float) -> float:
    return round(value, 1)
