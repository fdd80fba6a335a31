"""Shared fixtures: a deterministic environment and small model metadata builders."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from vllm_wizard.core.memory import EngineSettings
from vllm_wizard.schemas.model import ModelMetadata

FIXTURES = Path(__file__).parent / "fixtures"
CONFIGS = FIXTURES / "configs"


@pytest.fixture(autouse=True)
def _isolated_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """No colour, fixed width, an empty HF cache and config folder, the Hub unreachable."""
    monkeypatch.setenv("NO_COLOR", "1")
    monkeypatch.setenv("COLUMNS", "200")
    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf-home"))
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("VLLM_WIZARD_CONFIG_DIR", str(tmp_path / "vllm-wizard-config"))
    monkeypatch.delenv("VLLM_WIZARD_DEBUG", raising=False)


def llama_meta(**overrides: Any) -> ModelMetadata:
    """Llama-3.1-8B's shape (32 layers, 32 q / 8 kv heads, head_dim 128), editable."""
    base: dict[str, Any] = dict(
        model_id="test/llama-8b",
        source="local",
        architecture="LlamaForCausalLM",
        model_type="llama",
        num_layers=32,
        hidden_size=4096,
        num_attention_heads=32,
        num_kv_heads=8,
        head_dim=128,
        intermediate_size=14336,
        vocab_size=128256,
        max_position_embeddings=131072,
        torch_dtype="bfloat16",
        kv_layers=32,
        params_total=8_030_261_248,
        params_active=8_030_261_248,
        weights_source="config",
    )
    base.update(overrides)
    return ModelMetadata(**base)


def engine_settings(**overrides: Any) -> EngineSettings:
    """Engine settings with test defaults (8K context, 16 sequences, bf16), editable."""
    base: dict[str, Any] = dict(
        max_model_len=8192,
        max_num_seqs=16,
        max_num_batched_tokens=8192,
        block_size=16,
        enforce_eager=False,
        gpu_memory_utilization=0.9,
        weight_dtype_bytes=2,
        kv_dtype_bytes=2,
    )
    base.update(overrides)
    return EngineSettings(**base)


def run_main(args: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    """Run the CLI entry point: (exit code, stdout, stderr); never a traceback on stderr."""
    from vllm_wizard.cli.app import main

    with pytest.raises(SystemExit) as exc:
        main(args)
    out = capsys.readouterr()
    assert "Traceback (most recent call last)" not in out.err, out.err
    return int(exc.value.code or 0), out.out, out.err
