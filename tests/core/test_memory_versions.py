"""Version-aware accounting: eras, release defaults, and the start-up verdicts."""

from __future__ import annotations

import dataclasses

import pytest

from tests.conftest import engine_settings, llama_meta
from vllm_wizard.core.memory import (
    EngineSettings,
    activation_peak_bytes,
    cuda_graph_bytes,
    default_batch_limits,
    default_gpu_memory_utilization,
    parse_vllm_version,
    plan_gpu_budget,
    vllm_era,
)
from vllm_wizard.errors import InvalidParameterError
from vllm_wizard.units import GiB


@pytest.mark.parametrize(
    ("text", "era"),
    [
        ("0.4.1", "v0"),
        ("v0.7.2", "v0"),
        ("dev (Dec 2024, ~v0.6.4)", "v0"),
        ("0.8.0", "v1"),
        ("0.15.2rc1.dev93+g11a4c9d30", "v1"),
        ("0.20.2", "v1"),
        ("0.21.0rc1", "v1-graphs"),
        ("0.33.0", "v1-graphs"),
    ],
)
def test_eras(text: str, era: str) -> None:
    assert vllm_era(text) == era


def test_bad_version_is_a_user_error() -> None:
    with pytest.raises(InvalidParameterError):
        parse_vllm_version("latest")


def test_release_defaults() -> None:
    assert default_gpu_memory_utilization("0.20.0") == 0.90
    assert default_gpu_memory_utilization("0.21.0") == 0.92
    h100, a100 = 80 * GiB, 80 * GiB
    assert default_batch_limits("0.33.0", h100, "H100 SXM 80GB", 16000) == (1024, 8192)
    assert default_batch_limits("0.33.0", a100, "A100 80GB", 16000) == (256, 2048)
    assert default_batch_limits("0.33.0", 180 * GiB, "B200", 16000) == (1024, 16384)
    assert default_batch_limits("0.9.0", h100, "H100", 16000) == (256, 2048)
    # V0: the profile batch is the whole context, or 2048 once chunked prefill turns on.
    assert default_batch_limits("0.6.0", h100, "H100", 20000) == (256, 20000)
    assert default_batch_limits("0.6.0", h100, "H100", 131072) == (256, 2048)
    # never more batched tokens than max_num_seqs x max_model_len
    assert default_batch_limits("0.33.0", h100, "H100", 4) == (1024, 4096)


def _settings(version: str, **kw: object) -> EngineSettings:
    return engine_settings(
        **{"max_model_len": 16000, "max_num_seqs": 1024, "vllm_version": version, **kw}
    )


def test_graphs_deducted_only_from_021() -> None:
    meta = llama_meta()
    assert cuda_graph_bytes(meta, _settings("0.20.0")) == 0
    assert cuda_graph_bytes(meta, _settings("0.21.0")) > 0
    assert cuda_graph_bytes(meta, _settings("0.21.0", enforce_eager=True)) == 0


def test_v1_activation_grows_with_sampler_rows_and_vocab() -> None:
    meta = llama_meta()
    big = activation_peak_bytes(meta, _settings("0.15.0"))
    small = activation_peak_bytes(meta, _settings("0.15.0", max_num_seqs=16))
    wide = activation_peak_bytes(llama_meta(vocab_size=256000), _settings("0.15.0"))
    assert small < big < wide
    # Llama-3.1-8B on H100 printed 4.76 GiB with 1024 sequences and 8192 batched tokens.
    assert big / GiB == pytest.approx(4.76, rel=0.05)


def test_v0_activation_follows_the_profile_batch() -> None:
    meta = llama_meta()
    short = activation_peak_bytes(
        meta, _settings("0.6.0", max_num_seqs=256, max_num_batched_tokens=2048)
    )
    long = activation_peak_bytes(
        meta, _settings("0.6.0", max_num_seqs=256, max_num_batched_tokens=20000)
    )
    assert long > 5 * short


def test_failures_use_vllm_wording() -> None:
    meta = llama_meta()
    v1 = plan_gpu_budget(meta, 24 * GiB, int(16 * GiB), _settings("0.15.0", max_model_len=131072))
    assert not v1.will_start
    assert v1.failure is not None and "estimated maximum model length is" in v1.failure
    assert str(v1.estimated_max_model_len) in v1.failure
    v0 = plan_gpu_budget(
        meta,
        24 * GiB,
        int(16 * GiB),
        _settings("0.6.0", max_model_len=131072, max_num_seqs=256, max_num_batched_tokens=2048),
    )
    assert v0.failure is not None and "maximum number of tokens that can be stored" in v0.failure
    none_left = plan_gpu_budget(meta, 18 * GiB, int(15 * GiB), _settings("0.15.0"))
    assert none_left.failure is not None and "No available memory" in none_left.failure
    fits = plan_gpu_budget(meta, 80 * GiB, int(15 * GiB), _settings("0.15.0"))
    assert fits.will_start and fits.estimated_max_model_len >= 16000


def test_corrections_shift_the_budget() -> None:
    from vllm_wizard.core.memory import ComponentCorrection

    meta = llama_meta()
    s = _settings("0.15.0")
    shifted = dataclasses.replace(s, corrections=ComponentCorrection(activation_bytes=GiB))
    a = plan_gpu_budget(meta, 80 * GiB, int(15 * GiB), s)
    b = plan_gpu_budget(meta, 80 * GiB, int(15 * GiB), shifted)
    assert a.kv_available_bytes - b.kv_available_bytes == GiB


def _mxfp4_overhead(cc: str, vendor: str = "nvidia", tp: int = 1, version: str = "0.33.0") -> int:
    from vllm_wizard.core.catalog import catalog_metadata
    from vllm_wizard.core.memory import mxfp4_load_overhead_bytes, mxfp4_moe_kernel

    meta = catalog_metadata("openai/gpt-oss-20b")
    assert meta is not None and meta.quantization == "mxfp4"
    settings = engine_settings(
        tensor_parallel_size=tp,
        moe_kernel=mxfp4_moe_kernel(cc, vendor, version),
        vllm_version=version,
    )
    return mxfp4_load_overhead_bytes(meta, settings)


def test_mxfp4_experts_are_padded_to_the_gpus_moe_kernel_tile() -> None:
    # Marlin (Ampere): hidden 2880 -> 3072, expert width 2880 -> 2944, 24 layers x 32 experts
    marlin = 24 * 32 * 3 * (3072 * 2944 - 2880 * 2880) * (0.5 + 1 / 32)
    assert _mxfp4_overhead("8.0") == int(marlin)
    tp2 = 24 * 32 * 3 * (3072 * 1536 - 2880 * 1440) * (0.5 + 1 / 32)
    assert _mxfp4_overhead("8.0", tp=2) == int(tp2)
    assert _mxfp4_overhead("gfx942", "amd") > _mxfp4_overhead("8.0")


def test_hopper_triton_path_keeps_the_original_block_scales_before_0_25() -> None:
    # 2880 is a multiple of 64, so Hopper pads no values; per expert the swizzled scale rows
    # grow 5760 -> 5888 and 2880 -> 3072 (x 90 scale columns) and the biases go bf16 -> fp32.
    padding = (128 + 192) * 90
    biases = (5760 + 2880) * 2
    scales = (5760 + 2880) * 90
    per_expert_now = padding + biases
    assert _mxfp4_overhead("9.0") == 24 * 32 * per_expert_now
    assert _mxfp4_overhead("9.0", version="0.24.0") == 24 * 32 * (per_expert_now + scales)
    # gpt-oss-20b printed 13.47 GiB on H100 in early-2026 images against a 12.80 GiB checkpoint.
    assert 0.55 * GiB < _mxfp4_overhead("9.0", version="0.14.1") < 0.65 * GiB
    # Before 0.12 a pip install had no triton_kernels: Hopper fell back to Marlin, like Ampere.
    assert _mxfp4_overhead("9.0", version="0.11.0") == _mxfp4_overhead("8.0")


def test_gemma3_on_a_gpu_without_bfloat16_runs_in_float32_not_float16() -> None:
    from vllm_wizard.core.recommend import resolve_weight_dtype

    assert resolve_weight_dtype("auto", "bfloat16", "7.5", "gemma3_text") == "float32"
    assert resolve_weight_dtype("auto", "bfloat16", "7.5", "llama") == "float16"
    assert resolve_weight_dtype("auto", "float16", "8.0", "gemma2") == "bfloat16"
    with pytest.raises(InvalidParameterError, match="refuses float16"):
        resolve_weight_dtype("float16", "bfloat16", "9.0", "gemma3")


def test_decoding_requests_hold_only_their_window_in_sliding_layers() -> None:
    from vllm_wizard.core.catalog import catalog_metadata
    from vllm_wizard.core.memory import requests_that_fit

    meta = catalog_metadata("openai/gpt-oss-120b")
    assert meta is not None
    settings = engine_settings(max_model_len=4096, max_num_batched_tokens=8192)
    # 412 tokens: 26 blocks in the 18 full layers; the 18 sliding layers keep the 128-token
    # window plus the token being decoded: ceil(129 / 16) + 1 = 10 blocks. 36 per request.
    assert requests_that_fit(meta, settings, 3600, 412) == 100
    dense = llama_meta()
    assert requests_that_fit(dense, settings, 3600, 412) == 3600 // 26
    assert requests_that_fit(dense, settings, 0, 412) == 0


def test_decode_reads_only_the_window_of_sliding_layers() -> None:
    from vllm_wizard.core.catalog import catalog_metadata
    from vllm_wizard.core.memory import kv_bytes_per_token, kv_read_bytes_per_token

    meta = catalog_metadata("openai/gpt-oss-120b")
    assert meta is not None
    settings = engine_settings()
    # 18 full layers read 1000 tokens, 18 sliding layers their 128; 2 x 8 x 64 x 2 B per layer.
    assert kv_read_bytes_per_token(meta, settings, 1000) == -(-18 * 2048 * (1000 + 128) // 1000)
    assert kv_read_bytes_per_token(meta, settings, 100) == 36 * 2048  # inside the window
    dense = llama_meta()
    assert kv_read_bytes_per_token(dense, settings, 5000) == kv_bytes_per_token(dense, 2)


def test_expert_parallel_splits_only_the_routed_experts() -> None:
    from vllm_wizard.core.catalog import catalog_metadata
    from vllm_wizard.core.memory import routed_expert_bytes, weights_bytes_per_gpu

    meta = catalog_metadata("mistralai/Mixtral-8x7B-v0.1")
    assert meta is not None
    total = 2 * meta.params_total
    experts = routed_expert_bytes(meta, total)
    assert 0.9 * total < experts < total  # Mixtral is mostly experts
    whole = weights_bytes_per_gpu(meta, total, 1, 1)
    spread = weights_bytes_per_gpu(meta, total, 1, 1, ep=4)
    assert spread == pytest.approx(total - experts + experts / 4, rel=1e-6)
    assert whole == total
