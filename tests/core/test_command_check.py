"""check-command's reading of real-world commands (written the way people write them)."""

from __future__ import annotations

import pytest

from vllm_wizard.core.command_check import parse_serve_args, serve_tokens
from vllm_wizard.core.command_review import review_command


def test_underscores_equals_and_negative_forms_parse() -> None:
    parsed = parse_serve_args(
        serve_tokens(
            "CUDA_VISIBLE_DEVICES=0,1 vllm serve Qwen/Qwen3-8B --max_model_len=8192 "
            "-tp 2 --no-enable-prefix-caching --disable-log-stats --enforce-eager"
        )
    )
    assert parsed.errors == []
    assert parsed.model == "Qwen/Qwen3-8B"
    assert parsed.args["max_model_len"] == "8192"
    assert parsed.args["tensor_parallel_size"] == "2"
    assert parsed.args["enable_prefix_caching"] is False
    assert parsed.args["enforce_eager"] is True


def test_docker_command_is_read_after_the_image() -> None:
    text = (
        "docker run --gpus all -p 8000:8000 vllm/vllm-openai:latest \\\n"
        "  python -m vllm.entrypoints.openai.api_server --model mistralai/Mistral-7B-v0.3 \\\n"
        "  --max-num-seqs 64"
    )
    parsed = parse_serve_args(serve_tokens(text))
    assert parsed.errors == []
    assert parsed.model == "mistralai/Mistral-7B-v0.3"


@pytest.mark.parametrize(
    ("flag", "needle"),
    [
        ("--swap-space 16", "--swap-space was removed"),
        ("--num-scheduler-steps 8", "--num-scheduler-steps was removed"),
        ("--use-v2-block-manager", "--use-v2-block-manager was removed"),
        ("--max-num-partial-prefills 2", "--max-num-partial-prefills was removed"),
        ("--dtype bf16", "'bf16' is not one of"),
        ("--quantization bitsandbytes", "(removed)"),
        ("--kv-cache-dtype fp4", "'fp4' is not one of"),
        ("--enable-lora-bias", "not a `vllm serve` flag"),
        ('--rope-scaling \'{"type": "yarn"}\'', "--hf-overrides"),
        ("--guided-decoding-backend outlines", "--structured-outputs-config.backend"),
        ("--worker-use-ray", "--distributed-executor-backend ray"),
    ],
)
def test_review_flags_errors(flag: str, needle: str) -> None:
    review = review_command(f"vllm serve meta-llama/Llama-3.1-8B-Instruct {flag}")
    assert review.errors >= 1
    assert any(needle in f for f in review.findings), review.findings
    assert flag.split()[0] not in review.corrected or "dtype" in flag or "kv-cache" in flag


def test_review_catches_unshardable_tp_and_long_context() -> None:
    review = review_command(
        "vllm serve Qwen/Qwen2.5-7B-Instruct --tensor-parallel-size 8 --max-model-len 64k"
    )
    text = "\n".join(review.findings)
    assert "--tensor-parallel-size 8 cannot shard" in text  # 28 heads
    assert "exceeds" in text and "32768" in text
    assert review.errors == 2


def test_review_maps_old_spelling_and_plans_on_a_gpu() -> None:
    review = review_command(
        "vllm serve meta-llama/Llama-3.1-8B-Instruct --kv-cache-dtype fp8_e4m3fn "
        "--max-model-len 8192",
        gpu="H100",
    )
    assert review.errors == 0, review.findings
    assert any("fp8_e4m3" in f and f.startswith("note") for f in review.findings)
    assert "--kv-cache-dtype fp8_e4m3 " in review.corrected + " "
    assert any(f.startswith("ok: vLLM should start on 1x H100") for f in review.findings)


def test_review_says_a_model_too_big_will_not_start() -> None:
    review = review_command("vllm serve meta-llama/Llama-3.1-70B-Instruct", gpu="L4")
    assert review.errors == 1
    assert any("would not start" in f for f in review.findings)


def test_api_server_module_with_model_flag_and_several_errors() -> None:
    review = review_command(
        "python3 -m vllm.entrypoints.openai.api_server --model meta-llama/Llama-3.1-70B-Instruct "
        "--tensor-parallel-size 3 --swap-space 16 --max-model-len 200000"
    )
    text = "\n".join(review.findings)
    assert review.errors == 3, text
    assert "3 does not divide the 64 attention heads" in text
    assert "limit of 131072" in text
    assert "--swap-space" not in review.corrected


def test_long_context_is_a_note_when_the_env_var_allows_it() -> None:
    command = "vllm serve meta-llama/Llama-3.1-8B-Instruct --max-model-len 200000"
    assert review_command(command).errors == 1
    allowed = review_command("VLLM_ALLOW_LONG_MAX_MODEL_LEN=1 " + command, gpu="H200")
    assert allowed.errors == 0, allowed.findings
    assert any("allowed by VLLM_ALLOW_LONG_MAX_MODEL_LEN=1" in f for f in allowed.findings)


def test_bad_choice_is_corrected_to_the_closest_valid_one() -> None:
    review = review_command("vllm serve Qwen/Qwen3-0.6B --dtype bf16 --load-format safetensor")
    assert review.errors == 1
    assert (
        review.corrected == "vllm serve Qwen/Qwen3-0.6B --dtype bfloat16 --load-format safetensor"
    )
    unknown = review_command("vllm serve Qwen/Qwen3-0.6B --dtype int3")
    assert unknown.corrected == "vllm serve Qwen/Qwen3-0.6B"


def test_command_is_read_from_a_script_up_to_the_end_of_its_line() -> None:
    script = (
        "#!/usr/bin/env bash\nset -euo pipefail\n"
        "pip install vllm && vllm serve Qwen/Qwen3-0.6B \\\n"
        "  -tp 1 --hf-overrides '{\"rope_theta\": 1e6}'  # tuned\n"
        "echo 'started'\n"
    )
    assert serve_tokens(script) == [
        "Qwen/Qwen3-0.6B",
        "-tp",
        "1",
        "--hf-overrides",
        '{"rope_theta": 1e6}',
    ]
    assert serve_tokens("vllm serve m --max-model-len 10 | tee log") == [
        "m",
        "--max-model-len",
        "10",
    ]
    assert review_command("echo \"it's\nvllm serve Qwen/Qwen3-0.6B --swap-space 4").errors == 1


@pytest.mark.parametrize(
    "flag",
    ["--max-num-seqs many", "--gpu-memory-utilization 90%", "--compilation-config {mode:3}"],
)
def test_values_the_parser_types_reject(flag: str) -> None:
    review = review_command(f"vllm serve Qwen/Qwen3-0.6B {flag}")
    assert any("is not a valid" in f for f in review.findings), review.findings
    assert flag.split()[0] not in review.corrected


def test_values_the_parser_types_accept() -> None:
    command = "vllm serve Qwen/Qwen3-0.6B -tp 1 --compilation-config '{\"mode\": 3}' -cc.mode=3"
    assert review_command(command).errors == 0


def test_human_readable_sizes_reach_the_plan() -> None:
    review = review_command(
        "vllm serve meta-llama/Llama-3.1-8B-Instruct --max-model-len 200k", gpu="H100"
    )
    assert any("200000 exceeds" in f for f in review.findings), review.findings
    ok = review_command(
        "vllm serve meta-llama/Llama-3.1-8B-Instruct --max-model-len 8K --max-num-batched-tokens 8k",
        gpu="H100",
    )
    assert ok.errors == 0, ok.findings


def test_corrected_command_replaces_an_unshardable_tp_and_an_overlong_context() -> None:
    review = review_command(
        "vllm serve meta-llama/Llama-3.1-8B-Instruct --swap-space 4 "
        "--tensor-parallel-size=3 --max-model-len 200000",
        gpu="A100 80GB",
        gpus=4,
    )

    assert review.errors == 3
    assert "--swap-space" not in review.corrected
    assert "--tensor-parallel-size 2" in review.corrected
    assert "--max-model-len 131072" in review.corrected
    assert any("should start" in f for f in review.findings)


def test_float16_for_a_gemma3_command_is_an_error_with_a_bfloat16_correction() -> None:
    review = review_command("vllm serve google/gemma-3-1b-it --dtype float16", gpu="A100 80GB")

    assert review.errors == 1
    assert "refuses float16 for model type gemma3" in review.findings[0]
    assert review.corrected.endswith("--dtype bfloat16")


def test_data_parallel_ranks_count_their_gpus_and_share_the_experts() -> None:
    from vllm_wizard.core.command_review import review_command

    command = (
        "vllm serve openai/gpt-oss-120b --tensor-parallel-size 1 --data-parallel-size 2 "
        "--enable-expert-parallel --max-model-len 16384"
    )
    review = review_command(command, gpu="H100")
    started = [f for f in review.findings if f.startswith("ok: vLLM should start on 2x")]
    assert started and "(each of 2 DP ranks)" in started[0]
