"""Max concurrency against context length, as vLLM reports it (KV tokens / context)."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from vllm_wizard.core.capacity import concurrency_at_context, concurrency_curve, context_steps


def test_steps_double_and_end_at_the_maximum() -> None:
    assert context_steps(5000) == [512, 1024, 2048, 4096, 5000]
    assert context_steps(300) == [300]
    assert context_steps(0) == []


def test_included_lengths_are_added_once_and_out_of_range_dropped() -> None:
    assert context_steps(4096, include=(3000, 4096, 9000, 0)) == [512, 1024, 2048, 3000, 4096]


def test_concurrency_matches_vllm_log_arithmetic() -> None:
    # vLLM: "GPU KV cache size: 457,248 tokens" -> "Maximum concurrency for 8,192 tokens: 55.82x"
    assert round(concurrency_at_context(457_248, 8192), 2) == 55.82
    assert concurrency_at_context(0, 8192) == 0.0


@given(st.integers(0, 10**8), st.integers(1, 10**7))
def test_curve_never_rises_with_context(capacity: int, longest: int) -> None:
    values = [c for _, c in concurrency_curve(capacity, longest)]
    assert values == sorted(values, reverse=True)
