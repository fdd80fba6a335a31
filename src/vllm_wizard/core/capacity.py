"""How many requests vLLM can hold at each context length, from its KV cache size.

vLLM reports "Maximum concurrency for L tokens per request: C x", with C the KV cache
size in tokens divided by L. The web chart plots that figure over a range of lengths.
"""

from __future__ import annotations

MIN_CONTEXT_TOKENS = 512


def context_steps(
    max_context_tokens: int, include: tuple[int, ...] = (), start_tokens: int = MIN_CONTEXT_TOKENS
) -> list[int]:
    """Context lengths in tokens doubling from `start_tokens` up to the maximum, plus `include`.

    The maximum itself is always a step; `include` values outside 1..maximum are dropped.
    """
    if max_context_tokens <= 0:
        return []
    steps = {max_context_tokens, *(n for n in include if 0 < n <= max_context_tokens)}
    length = min(start_tokens, max_context_tokens)
    while length < max_context_tokens:
        steps.add(length)
        length *= 2
    return sorted(steps)


def concurrency_at_context(kv_capacity_tokens: int, context_tokens: int) -> float:
    """vLLM's maximum concurrency: KV cache tokens / context tokens (0 when either is 0)."""
    if kv_capacity_tokens <= 0 or context_tokens <= 0:
        return 0.0
    return kv_capacity_tokens / context_tokens


def concurrency_curve(
    kv_capacity_tokens: int, max_context_tokens: int, include: tuple[int, ...] = ()
) -> list[tuple[int, float]]:
    """(context tokens, maximum concurrency) at each step up to `max_context_tokens`."""
    return [
        (length, concurrency_at_context(kv_capacity_tokens, length))
        for length in context_steps(max_context_tokens, include)
    ]
