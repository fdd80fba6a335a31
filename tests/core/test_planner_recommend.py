"""Recommendation rules of issue 5: derived context, TP reasons, remedies, GPU limits."""

from __future__ import annotations

from typing import Any

import pytest

from vllm_wizard.core.planner import plan
from vllm_wizard.errors import InvalidParameterError
from vllm_wizard.schemas.request import PlanRequest

LLAMA_8B = "meta-llama/Llama-3.1-8B-Instruct"


@pytest.mark.parametrize(("gpu", "concurrency"), [("L4", 1), ("L4", 4), ("A100 80GB", 16)])
def test_derived_max_model_len_leaves_the_policy_headroom(gpu: str, concurrency: int) -> None:
    result = plan(PlanRequest(model=LLAMA_8B, gpu=gpu, concurrency=concurrency))
    f = result.feasibility
    assert f.fits, f.warnings
    assert f.headroom_gb >= 1.0
    assert result.vllm_args["max_model_len"] % 16 == 0


def test_remedies_come_in_order_each_with_its_plan() -> None:
    result = plan(PlanRequest(model=LLAMA_8B, gpu="T4", max_model_len=8192))
    f = result.feasibility
    assert not f.fits
    labels = [line.split(":")[0] for line in f.remedies]
    # T4 (7.5): vLLM can quantize to FP8 weight-only, but has no fp8 KV backend below 8.0.
    assert labels[0].startswith("1. FP8 weights")
    assert not any("fp8 KV" in label for label in labels)
    assert "more GPUs (--gpus 2)" in labels[2]
    assert labels[-1].startswith(f"{len(labels)}. last resort, slow")
    assert "fits (TP 1" in f.remedies[0]
    assert "still does not fit" in f.remedies[1]  # 8B fp16 weights alone exceed the T4
    four_bit = next(line for line in f.remedies if "4-bit" in line)
    assert "fits (TP 1" in four_bit  # about 5 GiB of AWQ weights


def test_fitting_plan_has_no_remedies() -> None:
    assert plan(PlanRequest(model=LLAMA_8B, gpu="H100")).feasibility.remedies == []


def test_t4_gets_float16_and_fp8_kv_warning() -> None:
    result = plan(PlanRequest(model=LLAMA_8B, gpu="T4", kv_cache_dtype="fp8_e4m3fn"))
    assert result.vllm_args["dtype"] == "float16"
    assert result.vllm_args["kv_cache_dtype"] == "fp8_e4m3"
    assert any("older spelling" in n for n in result.notes)
    assert any("need 8+" in w for w in result.feasibility.warnings)


def test_quantization_below_its_minimum_capability_exits_2() -> None:
    with pytest.raises(InvalidParameterError, match=r"compute capability 7\.5 or newer"):
        plan(PlanRequest(model=LLAMA_8B, gpu="V100", quantization="fp8"))
    with pytest.raises(InvalidParameterError, match="experts_int8 needs compute capability 8"):
        plan(PlanRequest(model=LLAMA_8B, gpu="V100", quantization="experts_int8"))


def test_max_model_len_above_the_limit_needs_the_opt_in() -> None:
    with pytest.raises(InvalidParameterError, match="131072"):
        plan(PlanRequest(model=LLAMA_8B, gpu="H100", max_model_len=200_000))
    result = plan(
        PlanRequest(
            model=LLAMA_8B, gpu="H100", max_model_len=200_000, allow_long_max_model_len=True
        )
    )
    assert result.vllm_args["max_model_len"] == 200_000


def test_gpu_memory_utilization_is_always_emitted_lower_on_consumer_cards() -> None:
    consumer = plan(PlanRequest(model="Qwen/Qwen3-0.6B", gpu="RTX 4090"))
    assert consumer.vllm_args["gpu_memory_utilization"] == 0.88
    datacenter = plan(PlanRequest(model="Qwen/Qwen3-0.6B", gpu="L4"))
    assert datacenter.vllm_args["gpu_memory_utilization"] == 0.9
    assert not any("set explicitly" in w for w in datacenter.feasibility.warnings)
    chosen = plan(PlanRequest(model="Qwen/Qwen3-0.6B", gpu="RTX 4090", gpu_memory_utilization=0.8))
    assert chosen.vllm_args["gpu_memory_utilization"] == 0.8
    assert any("set explicitly" in w for w in chosen.feasibility.warnings)


def test_enforce_eager_only_when_cuda_graph_memory_breaks_the_fit() -> None:
    def args(length: int) -> dict[str, object]:
        return plan(PlanRequest(model=LLAMA_8B, gpu="L4", max_model_len=length)).vllm_args

    assert "enforce_eager" not in args(16384)  # fits with CUDA graphs
    assert args(24576).get("enforce_eager") is True  # short by less than the graphs' memory
    assert "enforce_eager" not in args(32768)  # eager would not save it either
    explicit = PlanRequest(model=LLAMA_8B, gpu="L4", max_model_len=24576, enforce_eager=False)
    assert "enforce_eager" not in plan(explicit).vllm_args


def test_moe_explanation_says_when_expert_parallel_helps() -> None:
    result = plan(
        PlanRequest(model="mistralai/Mixtral-8x7B-Instruct-v0.1", gpu="A100 80GB", gpus=2)
    )
    assert result.hardware.tensor_parallel_size == 2
    assert "--enable-expert-parallel" in result.explanations["tensor_parallel_size"]
    assert "enable_expert_parallel" not in result.vllm_args
    dense = plan(PlanRequest(model=LLAMA_8B, gpu="L4", gpus=2, tensor_parallel_size=2))
    assert "expert" not in dense.explanations["tensor_parallel_size"]


def test_fp8_kv_trade_off_only_under_context_pressure_on_capable_gpus() -> None:
    def trade_offs(**kw: Any) -> list[str]:
        warnings = plan(PlanRequest(model=LLAMA_8B, **kw)).feasibility.warnings
        return [w for w in warnings if w.startswith("Trade-off")]

    pressed = trade_offs(gpu="L4", concurrency=4)
    assert len(pressed) == 1 and "max_model_len" in pressed[0]
    assert trade_offs(gpu="H100", max_model_len=8192) == []  # plenty of KV cache
    assert trade_offs(gpu="L4", concurrency=4, kv_cache_dtype="fp8") == []


def test_a_workload_vllm_holds_at_once_is_not_reported_as_queueing() -> None:
    from vllm_wizard.core.planner import plan as run_plan
    from vllm_wizard.schemas.request import PlanRequest

    base = dict(model="meta-llama/Llama-3.1-8B-Instruct", gpu="L4", prompt_tokens=215)
    tight = run_plan(PlanRequest(**base, gen_tokens=196, concurrency=64))
    # 64 requests of 411 tokens fit vLLM's cache; only the plan's own margins are short.
    assert not tight.feasibility.fits and tight.feasibility.will_start
    assert not any("will queue" in w for w in tight.feasibility.warnings)
    assert any("under the 1 GiB asked (--headroom-gb)" in w for w in tight.feasibility.warnings)
    assert tight.vllm_args["max_model_len"] == 416  # 411 rounded up to whole 16-token blocks
    over = run_plan(PlanRequest(**base, gen_tokens=196, concurrency=90))
    assert any("exceeds the" in w and "411 tokens" in w for w in over.feasibility.warnings)


def test_data_parallel_moe_counts_each_gpus_share_of_the_experts() -> None:
    from vllm_wizard.core.planner import plan as run_plan
    from vllm_wizard.schemas.request import PlanRequest

    result = run_plan(PlanRequest(model="openai/gpt-oss-120b", gpu="H100", gpus=2, concurrency=64))
    assert result.vllm_args["data_parallel_size"] == 2
    assert result.vllm_args["enable_expert_parallel"] is True
    # ~57 GiB of MXFP4 experts split in two, plus ~4 GiB of BF16 attention/embeddings whole.
    assert 30 < result.feasibility.per_gpu.weights_gb < 35
    assert "1/2 of the routed experts" in result.explanations["enable_expert_parallel"]


def test_each_copy_of_the_model_plans_for_its_share_of_the_concurrency() -> None:
    from vllm_wizard.core.planner import plan as run_plan
    from vllm_wizard.schemas.request import PlanRequest

    base = dict(model="meta-llama/Llama-3.1-8B-Instruct", gpu="H100", prompt_tokens=1000)
    one = run_plan(PlanRequest(**base, gen_tokens=300, concurrency=16))
    two = run_plan(PlanRequest(**base, gen_tokens=300, concurrency=32, gpus=2))
    # Two replicas behind a balancer each see 16 requests: the same per-GPU plan as one GPU.
    assert two.vllm_args["max_num_seqs"] == one.vllm_args["max_num_seqs"] == 16
    assert two.vllm_args["max_model_len"] == one.vllm_args["max_model_len"]


def test_oom_risk_follows_the_workload_not_the_context_the_plan_fills() -> None:
    from vllm_wizard.core.planner import plan as run_plan
    from vllm_wizard.schemas.request import PlanRequest

    result = run_plan(
        PlanRequest(
            model="openai/gpt-oss-120b",
            gpu="H100",
            prompt_tokens=1000,
            gen_tokens=300,
            concurrency=32,
        )
    )
    # max_model_len is derived to fill the KV cache (about 1 GiB of headroom left), but 32
    # requests of 1,300 tokens use a fraction of it.
    assert result.feasibility.headroom_gb < 2 and result.feasibility.oom_risk == "low"
    assert "trades concurrency for context" in result.explanations["max_model_len"]
