"""Properties every plan keeps, and parsers that fail only with the project's own errors."""

from __future__ import annotations

import contextlib
import json
import math
from typing import Any

import jsonschema
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.bad_inputs import LLAMA_CONFIG
from vllm_wizard.core.gpu_detect import parse_nvidia_smi_csv, parse_rocm_smi_json
from vllm_wizard.core.model_metadata import parse_model_config
from vllm_wizard.core.planner import plan
from vllm_wizard.core.startup_log import parse_startup_log
from vllm_wizard.errors import WizardError
from vllm_wizard.schemas.plan import PlanResult
from vllm_wizard.schemas.request import PlanRequest

MODEL = "meta-llama/Llama-3.1-8B-Instruct"
FAST = settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])

json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**70), max_value=2**70)
    | st.floats(allow_nan=True, allow_infinity=True)
    | st.text(max_size=12),
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4)
    ),
    max_leaves=12,
)


def _plan(**fields: Any) -> PlanResult:
    return plan(PlanRequest(model=MODEL, **fields))


@FAST
@given(vram=st.floats(min_value=18, max_value=200), extra=st.floats(min_value=0.5, max_value=100))
def test_more_memory_never_lowers_kv_capacity(vram: float, extra: float) -> None:
    small = _plan(vram_gb=vram, max_model_len=8192, concurrency=4)
    large = _plan(vram_gb=vram + extra, max_model_len=8192, concurrency=4)

    assert large.feasibility.kv_cache_capacity_tokens >= small.feasibility.kv_cache_capacity_tokens


@FAST
@given(concurrency=st.integers(min_value=1, max_value=256), more=st.integers(1, 256))
def test_more_concurrency_never_raises_max_context(concurrency: int, more: int) -> None:
    few = _plan(gpu="A100 SXM 80GB", max_model_len=32768, concurrency=concurrency)
    many = _plan(gpu="A100 SXM 80GB", max_model_len=32768, concurrency=concurrency + more)

    assert many.feasibility.max_context_at_concurrency <= few.feasibility.max_context_at_concurrency


def test_per_gpu_weights_never_grow_with_tp() -> None:
    weights = [
        _plan(gpu="H100 SXM", gpus=tp, tensor_parallel_size=tp).feasibility.per_gpu.weights_gb
        for tp in (1, 2, 4, 8)
    ]

    assert weights == sorted(weights, reverse=True)
    assert weights[0] > weights[-1]


@FAST
@given(
    gpus=st.sampled_from([1, 2, 4, 8]),
    max_model_len=st.integers(min_value=256, max_value=131072),
    concurrency=st.integers(min_value=1, max_value=512),
    kv=st.sampled_from(["auto", "fp8"]),
)
def test_json_output_validates_against_its_schema(
    gpus: int, max_model_len: int, concurrency: int, kv: str
) -> None:
    result = _plan(
        gpu="L40S",
        gpus=gpus,
        max_model_len=max_model_len,
        concurrency=concurrency,
        kv_cache_dtype=kv,
    )

    document = json.loads(result.model_dump_json())
    jsonschema.validate(document, PlanResult.model_json_schema(mode="serialization"))
    assert all(math.isfinite(v) for v in document["performance"]["decode_toks_per_s_range"])


@settings(max_examples=200, deadline=None)
@given(config=st.dictionaries(st.text(max_size=30), json_values, max_size=12))
def test_config_parser_raises_only_project_errors_on_arbitrary_json(
    config: dict[str, Any],
) -> None:
    with contextlib.suppress(WizardError):
        parse_model_config(config, model_id="fuzz/any", source="local")


REAL_CONFIG: dict[str, Any] = json.loads(LLAMA_CONFIG.read_text())


@settings(max_examples=300, deadline=None)
@given(
    edits=st.dictionaries(st.sampled_from(sorted(REAL_CONFIG)), json_values, min_size=1, max_size=4)
)
def test_config_parser_on_a_damaged_real_config(edits: dict[str, Any]) -> None:
    try:
        meta = parse_model_config({**REAL_CONFIG, **edits}, model_id="fuzz/llama", source="local")
    except WizardError:
        return
    assert meta.num_layers > 0 and meta.num_kv_heads > 0 and meta.head_dim > 0


@settings(max_examples=200, deadline=None)
@given(text=st.text(max_size=400))
def test_log_and_tool_parsers_raise_only_project_errors(text: str) -> None:
    for parse in (parse_startup_log, parse_nvidia_smi_csv, parse_rocm_smi_json):
        with contextlib.suppress(WizardError):
            parse(text)
