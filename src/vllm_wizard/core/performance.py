"""Approximate decode and prefill speed from memory bandwidth and compute.

A plain roofline: one decode step streams the active weights and every running
sequence's KV cache from HBM, or is bound by the matrix FLOPs, whichever is slower.
Efficiencies are ranges, so every figure is a [low, high] pair.
"""

from __future__ import annotations

from dataclasses import dataclass

from vllm_wizard.schemas.model import ModelMetadata
from vllm_wizard.schemas.plan import PerformanceReport

# Share of peak HBM bandwidth a decode step achieves: (pessimistic, optimistic).
BANDWIDTH_EFFICIENCY = (0.55, 0.80)
# Share of dense tensor FLOP/s prefill achieves (MFU).
PREFILL_MFU = (0.35, 0.60)
DECODE_MFU = 0.5
# Each tensor-parallel all-reduce step costs this share of a step on NVLink / PCIe.
TP_PENALTY = {"nvlink": 0.06, "xgmi": 0.08, "pcie": 0.20, "unknown": 0.15}


@dataclass(frozen=True)
class PerfInputs:
    """What the estimate needs, per GPU of one replica."""

    active_weight_bytes_per_gpu: float
    kv_bytes_per_token_per_gpu: int
    memory_bandwidth_gbps: float
    bf16_tflops: float
    tensor_parallel_size: int
    pipeline_parallel_size: int
    interconnect: str
    prompt_tokens: int
    gen_tokens: int
    concurrency: int


def active_weight_bytes(meta: ModelMetadata, weights_total: int, concurrency: int) -> float:
    """Weight bytes one decode step reads: MoE steps touch only the experts routed to."""
    if meta.num_experts == 0 or meta.params_active >= meta.params_total:
        return float(weights_total)
    per_param = weights_total / meta.params_total
    expert_params = meta.params_total - meta.params_active
    touched = min(1.0, concurrency * meta.num_experts_per_token / max(1, meta.num_experts))
    return per_param * (meta.params_active + expert_params * touched)


def _decode_step_s(inp: PerfInputs, params_active: int, efficiency: float) -> float:
    avg_context = inp.prompt_tokens + inp.gen_tokens / 2
    kv_bytes = inp.concurrency * avg_context * inp.kv_bytes_per_token_per_gpu
    memory_s = (inp.active_weight_bytes_per_gpu + kv_bytes) / (
        inp.memory_bandwidth_gbps * 1e9 * efficiency
    )
    flops = 2 * params_active * inp.concurrency / inp.tensor_parallel_size
    compute_s = flops / (inp.bf16_tflops * 1e12 * DECODE_MFU)
    step = max(memory_s, compute_s)
    if inp.tensor_parallel_size > 1:
        step *= 1 + TP_PENALTY.get(inp.interconnect, TP_PENALTY["unknown"])
    return step * inp.pipeline_parallel_size


def estimate_performance(inp: PerfInputs, params_active: int) -> PerformanceReport:
    """Decode tok/s per request and in total, TPOT, prefill tok/s and TTFT as ranges."""
    slow_step = _decode_step_s(inp, params_active, BANDWIDTH_EFFICIENCY[0])
    fast_step = _decode_step_s(inp, params_active, BANDWIDTH_EFFICIENCY[1])

    gpus = inp.tensor_parallel_size
    flops_per_token = 2 * params_active
    prefill_low = inp.bf16_tflops * 1e12 * gpus * PREFILL_MFU[0] / flops_per_token
    prefill_high = inp.bf16_tflops * 1e12 * gpus * PREFILL_MFU[1] / flops_per_token

    ttft_low = (inp.prompt_tokens / prefill_high + fast_step) * 1000
    ttft_high = (inp.prompt_tokens / prefill_low + slow_step) * 1000
    return PerformanceReport(
        decode_toks_per_s_range=(_r(1 / slow_step), _r(1 / fast_step)),
        output_toks_per_s_range=(_r(inp.concurrency / slow_step), _r(inp.concurrency / fast_step)),
        tpot_ms_range=(_r(fast_step * 1000), _r(slow_step * 1000)),
        prefill_toks_per_s_range=(_r(prefill_low), _r(prefill_high)),
        ttft_ms_range=(_r(ttft_low), _r(ttft_high)),
        assumptions=[
            "Approximate: a bandwidth/compute roofline, not a measurement; real performance depends "
            "on kernels, drivers, batching and the vLLM version.",
            f"Decode reads the active weights and the running sequences' KV cache at "
            f"{int(BANDWIDTH_EFFICIENCY[0] * 100)}-{int(BANDWIDTH_EFFICIENCY[1] * 100)}% of peak "
            f"memory bandwidth ({inp.memory_bandwidth_gbps:.0f} GB/s per GPU).",
            f"Prefill runs at {int(PREFILL_MFU[0] * 100)}-{int(PREFILL_MFU[1] * 100)}% of dense "
            f"BF16 tensor throughput ({inp.bf16_tflops:.0f} TFLOP/s per GPU), 2 FLOPs per active "
            "parameter per token.",
            f"{inp.concurrency} concurrent sequence(s) of {inp.prompt_tokens} prompt + "
            f"{inp.gen_tokens} generated tokens, all decoding together.",
            "TTFT assumes an idle server: no queueing behind other prompts.",
        ],
    )


def _r(value: float) -> float:
    return round(value, 1)
