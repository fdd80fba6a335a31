"""Recommendation rules of issue 5: derived context, TP reasons, remedies, GPU limits."""

from __future__ import annotations

import pytest

from vllm_wizard.core.planner import plan
from vllm_wizard.schemas.request import PlanRequest

LLAMA_8B = "meta-llama/Llama-3.1-8B-Instruct"


@pytest.mark.parametrize(("gpu", "concurrency"), [("L4", 1), ("L4", 4), ("A100 80GB", 16)])
def test_derived_max_model_len_leaves_the_policy_headroom(gpu: str, concurrency: int) -> None:
    result = plan(PlanRequest(model=LLAMA_8B, gpu=gpu, concurrency=concurrency))
    f = result.feasibility
    assert f.fits, f.warnings
    assert f.headroom_gb >= 1.0
    assert result.vllm_args["max_model_len"] % 16 == 0
