"""check-log's parser on every quote of vLLM output in the reference start-ups."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from vllm_wizard.core.startup_log import parse_startup_log

REFERENCE = Path(__file__).resolve().parents[3] / "shared/reference/vllm-startup-memory.jsonl"
# Evidence that quotes a summary table or prose rather than vLLM's own lines.
NOT_VLLM_OUTPUT = {
    "vmc-029",
    "vmc-042",
    "vmc-043",
    "vmc-045",
    "vmc-046",
    "vmc-048",
    "vmc-050",
    "vmc-063",
    "vmc-064",
    "vmc-004",
}
FIELDS = {
    "weights_gib": "weights_gib",
    "kv_cache_gib": "kv_cache_gib",
    "num_gpu_blocks": "num_gpu_blocks",
    "kv_cache_tokens": "kv_cache_tokens",
    "max_concurrency_x": "max_concurrency",
    "non_torch_gib": "non_torch_gib",
    "estimated_max_model_len": "estimated_max_model_len",
    "kv_capacity_tokens_from_error": "kv_capacity_tokens_from_error",
}


def _cases() -> list[dict[str, object]]:
    if not REFERENCE.exists():
        return []
    return [json.loads(line) for line in REFERENCE.read_text().splitlines() if line.strip()]


@pytest.mark.skipif(not REFERENCE.exists(), reason="shared reference data not present")
@pytest.mark.parametrize("case", _cases(), ids=lambda c: str(c["case_id"]))
def test_reads_every_reference_quote(case: dict[str, object]) -> None:
    if case["case_id"] in NOT_VLLM_OUTPUT:
        pytest.skip("evidence is a summary table or prose")
    log = parse_startup_log(str(case["evidence"]))
    assert log.memory_fields, "no memory line recognised"
    for ref_field, log_field in FIELDS.items():
        printed = getattr(log, log_field)
        if printed is not None and case.get(ref_field) is not None:
            assert printed == pytest.approx(case[ref_field], abs=0.01), ref_field


def test_full_v1_log() -> None:
    text = (Path(__file__).parents[1] / "fixtures/logs/v1-llama-8b-h100.log").read_text()
    log = parse_startup_log(text)
    assert log.vllm_version == "0.10.1.1"
    assert log.model == "meta-llama/Llama-3.1-8B-Instruct"
    assert log.engine == "V1"
    assert (log.max_model_len, log.gpu_memory_utilization) == (16000, 0.9)
    assert (log.kv_cache_tokens, log.max_concurrency) == (420912, 26.31)


def test_v0_wording_and_errors() -> None:
    text = (
        "INFO worker.py:267] Memory profiling takes 5.2 seconds\n"
        "total_gpu_memory (22.07GiB) x gpu_memory_utilization (0.90) = 19.86GiB\n"
        "model weights take 14.99GiB; non_torch_memory takes 0.05GiB; PyTorch activation "
        "peak memory takes 0.22GiB; the rest of the memory reserved for KV Cache is 4.60GiB.\n"
        "INFO executor_base.py:111] # cuda blocks: 2356, # CPU blocks: 2048\n"
        "ValueError: The model's max seq len (131072) is larger than the maximum number of "
        "tokens that can be stored in KV cache (37696)."
    )
    log = parse_startup_log(text)
    assert (log.total_gib, log.activation_gib, log.num_gpu_blocks) == (22.07, 0.22, 2356)
    assert log.max_model_len == 131072
    assert log.failed_kv_check
    assert log.engine == "V0"


def test_text_without_memory_lines_is_empty() -> None:
    assert parse_startup_log("INFO starting server on port 8000").memory_fields == {}
