"""Geometry of the page's two SVG charts, in SVG user units; the templates draw them.

Memory values come in GiB (2^30 bytes) from the plan JSON; the charts only place them.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from vllm_wizard.core.capacity import concurrency_curve
from vllm_wizard.schemas.plan import PlanResult

BAR_WIDTH = 600.0
CHART_WIDTH = 600.0
CHART_HEIGHT = 220.0
CHART_TOP = 20.0
CHART_BOTTOM = 40.0

SEGMENTS = (
    ("weights", "Weights", "seg-weights"),
    ("activation", "Activation peak", "seg-activation"),
    ("non_torch", "Non-torch (NCCL, allocator)", "seg-nontorch"),
    ("cuda_graph", "CUDA graphs", "seg-graphs"),
    ("kv_cache", "KV cache", "seg-kv"),
)


@dataclass(frozen=True)
class BarSegment:
    """One coloured block of the VRAM bar."""

    key: str
    label: str
    css: str
    gib: float
    x: float
    width: float


@dataclass(frozen=True)
class VramBar:
    """The stacked per-GPU VRAM bar with the budget line (vLLM's target allocation)."""

    segments: list[BarSegment]
    total_gib: float
    budget_gib: float
    budget_x: float
    width: float
    overflow: bool


@dataclass(frozen=True)
class ConcurrencyBar:
    """One context length's bar in the max-concurrency chart."""

    context_tokens: int
    concurrency: float
    x: float
    y: float
    width: float
    height: float
    planned: bool


@dataclass(frozen=True)
class ConcurrencyChart:
    """Max concurrency (log scale) against context length, with the requested concurrency."""

    bars: list[ConcurrencyBar]
    requested: int
    requested_y: float | None
    width: float
    height: float
    baseline_y: float


def vram_bar(result: PlanResult) -> VramBar:
    """Per-GPU segments scaled to the GPU's memory (or the sum, when it does not fit)."""
    g = result.feasibility.per_gpu
    sizes = {
        "weights": g.weights_gb,
        "activation": g.activation_gb,
        "non_torch": g.non_torch_gb,
        "cuda_graph": g.cuda_graph_gb,
        "kv_cache": max(0.0, g.kv_cache_capacity_gb),
    }
    used = sum(sizes.values())
    scale_gib = max(g.vram_gb, used, 1e-9)
    x = 0.0
    segments = []
    for key, label, css in SEGMENTS:
        width = sizes[key] / scale_gib * BAR_WIDTH
        segments.append(BarSegment(key, label, css, sizes[key], x, width))
        x += width
    return VramBar(
        segments=segments,
        total_gib=g.vram_gb,
        budget_gib=g.target_alloc_gb,
        budget_x=g.target_alloc_gb / scale_gib * BAR_WIDTH,
        width=g.vram_gb / scale_gib * BAR_WIDTH,
        overflow=used > g.target_alloc_gb + 1e-6,
    )


def concurrency_chart(result: PlanResult, requested: int) -> ConcurrencyChart:
    """Bars of vLLM's max concurrency per context length, up to the model's longest context."""
    planned = int(result.vllm_args.get("max_model_len") or 0)
    longest = max(planned, result.model.max_position_embeddings or 0)
    points = concurrency_curve(
        result.feasibility.kv_cache_capacity_tokens, longest, include=(planned,)
    )
    plot_height = CHART_HEIGHT - CHART_TOP - CHART_BOTTOM
    baseline = CHART_HEIGHT - CHART_BOTTOM
    top = max([_log_height(c) for _, c in points] + [_log_height(requested), 1.0])
    slot = CHART_WIDTH / max(1, len(points))
    bars = []
    for i, (context, concurrency) in enumerate(points):
        height = _log_height(concurrency) / top * plot_height
        bars.append(
            ConcurrencyBar(
                context_tokens=context,
                concurrency=concurrency,
                x=i * slot + slot * 0.15,
                y=baseline - height,
                width=slot * 0.7,
                height=height,
                planned=context == planned,
            )
        )
    requested_y = baseline - _log_height(requested) / top * plot_height if requested > 0 else None
    return ConcurrencyChart(bars, requested, requested_y, CHART_WIDTH, CHART_HEIGHT, baseline)


def _log_height(value: float) -> float:
    """log2(1 + value): 0 stays 0, and 1, 10 and 1000 requests all stay readable."""
    return math.log2(1.0 + max(0.0, value))
