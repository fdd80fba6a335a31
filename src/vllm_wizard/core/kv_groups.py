"""How vLLM 0.33 groups a model's KV-cache layers into one block pool (hybrid KV manager).

Full-attention layers cost `block_size` tokens per page; sliding-window layers reserve only a
window-bounded number of blocks per request; Mamba and linear-attention layers hold a fixed
state per request. vLLM makes every page the same size (raising the attention block size for
Mamba hybrids), splits layers into groups of equal layer count, and draws every group's
blocks from one pool. This module replays that arithmetic for one GPU (VLLM-NOTES 2.3-2.7).

All sizes are bytes of one GPU (one TP rank, one PP stage).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from typing import Literal

AttentionKind = Literal["full", "sliding", "chunked"]

# FlashAttention / FlashInfer / Triton accept block sizes in multiples of 16.
KERNEL_BLOCK_ALIGN = 16


@dataclass(frozen=True)
class AttentionLayers:
    """`count` attention layers alike: their KV bytes per token (K and V) on one GPU."""

    kind: AttentionKind
    count: int
    bytes_per_token: int
    window: int | None = None


@dataclass(frozen=True)
class StateLayers:
    """`count` Mamba / linear-attention layers: the fixed state bytes of one request on one GPU."""

    count: int
    state_bytes: int
    checkpoint_blocks: int = 0
    checkpoint_alignment: int = 1


@dataclass(frozen=True)
class CacheSettings:
    """The engine settings the grouping depends on."""

    block_size: int
    max_model_len: int
    max_num_batched_tokens: int
    max_concurrent_batches: int = 2
    hybrid_manager: bool = True
    prefix_caching: bool = True


@dataclass(frozen=True)
class KvGroup:
    """One KV-cache group: `layers` layers of one kind sharing block ids."""

    kind: Literal["full", "sliding", "chunked", "state"]
    layers: int
    block_size: int
    blocks_per_request: int
    tokens_held: int | None


@dataclass(frozen=True)
class KvLayout:
    """The groups, the unified page, and what one request and one block cost."""

    groups: tuple[KvGroup, ...]
    block_size: int
    page_bytes: int
    group_size: int
    bytes_per_block: int
    blocks_per_request: int
    padding_layers: int
    state_bytes_per_request: int

    @property
    def hybrid(self) -> bool:
        """More than one group, or any layer that is not full attention."""
        return len(self.groups) > 1 or any(g.kind != "full" for g in self.groups)


@dataclass(frozen=True)
class _Spec:
    kind: Literal["full", "sliding", "chunked", "state"]
    count: int
    bytes_per_token: int
    window: int | None
    state_bytes: int
    checkpoint_blocks: int = 0
    checkpoint_alignment: int = 1


def plan_kv_layout(
    attention: Sequence[AttentionLayers],
    states: Sequence[StateLayers],
    settings: CacheSettings,
) -> KvLayout:
    """Group the layers as vLLM does and cost one block and one request.

    Raises ValueError when there is no layer with a cache at all.
    """
    specs = _specs(attention, states, settings.hybrid_manager)
    if not specs:
        raise ValueError("a model needs at least one layer with a KV cache or state")
    if len(specs) > 1 and all(s.kind == "full" for s in specs):
        return _uniform_type_layout(specs, settings)

    block_size = _aligned_block_size(specs, settings)
    page = _unified_page(specs, block_size)
    group_size = _group_size([s.count for s in specs])

    groups: list[KvGroup] = []
    padding = 0
    for spec in specs:
        spec_block = _spec_block_size(spec, block_size, page)
        per_request = _blocks_per_request(spec, spec_block, settings)
        held = (
            None if spec.kind == "state" else min(per_request * spec_block, settings.max_model_len)
        )
        n_groups = math.ceil(spec.count / group_size)
        padding += n_groups * group_size - spec.count
        groups.extend(
            KvGroup(
                spec.kind,
                min(group_size, spec.count - i * group_size),
                spec_block,
                per_request,
                held,
            )
            for i in range(n_groups)
        )

    return KvLayout(
        groups=tuple(groups),
        block_size=block_size,
        page_bytes=page,
        group_size=group_size,
        bytes_per_block=group_size * page,
        blocks_per_request=sum(g.blocks_per_request for g in groups),
        padding_layers=padding,
        state_bytes_per_request=sum(s.count * s.state_bytes for s in specs if s.kind == "state"),
    )


def _uniform_type_layout(specs: list[_Spec], settings: CacheSettings) -> KvLayout:
    """Full-attention layers of different head shapes: one group whose pages add up."""
    layers = sum(s.count for s in specs)
    page = settings.block_size * sum(s.count * s.bytes_per_token for s in specs)
    per_request = math.ceil(settings.max_model_len / settings.block_size)
    group = KvGroup("full", layers, settings.block_size, per_request, settings.max_model_len)
    return KvLayout(
        groups=(group,),
        block_size=settings.block_size,
        page_bytes=page,
        group_size=layers,
        bytes_per_block=page,
        blocks_per_request=per_request,
        padding_layers=0,
        state_bytes_per_request=0,
    )


def kv_capacity(
    layout: KvLayout, available_bytes: int, max_model_len: int
) -> tuple[int, float, int]:
    """num_blocks, "Maximum concurrency" and "GPU KV cache size" tokens, as vLLM logs them."""
    num_blocks = max(0, available_bytes) // layout.bytes_per_block
    concurrency = num_blocks / layout.blocks_per_request
    return num_blocks, concurrency, int(concurrency * max_model_len)


def max_len_that_fits(
    layout_for: Callable[[int], KvLayout], available_bytes: int, upper: int
) -> int:
    """The longest max_model_len whose one request fits, by bisection (vLLM's estimate)."""
    low, high = 0, upper
    while low < high:
        mid = (low + high + 1) // 2
        layout = layout_for(mid)
        if layout.blocks_per_request * layout.bytes_per_block <= available_bytes:
            low = mid
        else:
            high = mid - 1
    return low


def _specs(
    attention: Sequence[AttentionLayers], states: Sequence[StateLayers], hybrid_manager: bool
) -> list[_Spec]:
    """Merge alike layers; without the hybrid manager, local layers in a model that also has
    full-attention layers cost as much as full ones (an all-sliding model keeps its window)."""
    counts: dict[_Spec, int] = {}
    mixed = any(a.kind == "full" and a.count > 0 for a in attention)
    for layers in attention:
        if layers.count <= 0:
            continue
        keep = hybrid_manager or not mixed
        local = keep and layers.window is not None and layers.kind != "full"
        key = _Spec(
            kind=layers.kind if local else "full",
            count=0,
            bytes_per_token=layers.bytes_per_token,
            window=layers.window if local else None,
            state_bytes=0,
        )
        counts[key] = counts.get(key, 0) + layers.count
    for state in states:
        if state.count > 0:
            key = _Spec(
                "state",
                0,
                0,
                None,
                state.state_bytes,
                state.checkpoint_blocks,
                state.checkpoint_alignment,
            )
            counts[key] = counts.get(key, 0) + state.count
    ordered = sorted(counts.items(), key=lambda item: _KIND_ORDER[item[0].kind])
    return [replace(spec, count=count) for spec, count in ordered]


_KIND_ORDER = {"full": 0, "sliding": 1, "chunked": 2, "state": 3}


def _aligned_block_size(specs: list[_Spec], settings: CacheSettings) -> int:
    """Mamba hybrids: raise the attention block size until its page holds the state page.

    With prefix caching, prefill checkpoints land on block boundaries, so the kernel
    alignment also takes the states' checkpoint alignment (FlashInfer GDN: 64 tokens).
    """
    block = settings.block_size
    state_page = max((s.state_bytes for s in specs if s.kind == "state"), default=0)
    attention = [s.bytes_per_token for s in specs if s.kind != "state"]
    if state_page and attention:
        align = max(KERNEL_BLOCK_ALIGN, block)
        if settings.prefix_caching:
            align = math.lcm(align, *(s.checkpoint_alignment for s in specs if s.kind == "state"))
        per_token = min(attention)
        needed = align * math.ceil(state_page / (align * per_token))
        block = max(block, needed)
    return block


def _unified_page(specs: list[_Spec], block_size: int) -> int:
    """Every page is made as large as the largest one."""
    pages = [s.bytes_per_token * block_size for s in specs if s.kind != "state"]
    pages += [s.state_bytes for s in specs if s.kind == "state"]
    return max(pages)


def _spec_block_size(spec: _Spec, block_size: int, page: int) -> int:
    """A smaller attention page that divides the unified one holds proportionally more tokens."""
    if spec.kind == "state":
        return block_size
    own = spec.bytes_per_token * block_size
    return block_size * (page // own) if page % own == 0 else block_size


def _group_size(counts: list[int]) -> int:
    """Layers per group: the smallest type's count, or the largest when they are close."""
    if len(counts) == 1:
        return counts[0]
    low, high = min(counts), max(counts)
    return high if high < 1.5 * low else low


def _blocks_per_request(spec: _Spec, block_size: int, settings: CacheSettings) -> int:
    """Blocks one request of max_model_len takes from one group of this kind."""
    length = settings.max_model_len
    in_flight = settings.max_concurrent_batches * settings.max_num_batched_tokens
    if spec.kind == "state":
        # Prefix caching ("align" mode): running and cached state, plus prefill checkpoints.
        return 2 + spec.checkpoint_blocks if settings.prefix_caching else 1
    if spec.kind == "sliding" and spec.window:
        tokens = min(spec.window - 1 + in_flight, length)
        return math.ceil(tokens / block_size) + 1
    if spec.kind == "chunked" and spec.window:
        return math.ceil(min(spec.window + in_flight, length) / block_size)
    return math.ceil(length / block_size)
