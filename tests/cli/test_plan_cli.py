"""`vllm-wizard plan` end to end, as a user runs it (subprocess-free, via main())."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from tests.conftest import CONFIGS
from vllm_wizard import __version__
from vllm_wizard.cli.app import main
from vllm_wizard.schemas.plan import PlanResult

LLAMA_8B = "meta-llama/Llama-3.1-8B-Instruct"


def run_cli(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    with pytest.raises(SystemExit) as exit_info:
        main(list(args))
    out, err = capsys.readouterr()
    code = exit_info.value.code
    # Every CLI test goes through here: no error output anywhere may carry a traceback.
    assert "Traceback (most recent call last)" not in err, err
    assert "internal failure" not in err, err
    return (code if isinstance(code, int) else 1), out, err


def plan_json(capsys: pytest.CaptureFixture[str], *args: str) -> dict:  # type: ignore[type-arg]
    code, out, err = run_cli(capsys, "plan", *args, "--json")
    assert code == 0, err
    return json.loads(out)  # type: ignore[no-any-return]


def test_version(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run_cli(capsys, "--version")
    assert code == 0 and __version__ in out


def test_llama_8b_on_a100_matches_vllm_weights_and_kv(capsys: pytest.CaptureFixture[str]) -> None:
    data = plan_json(capsys, "--model", LLAMA_8B, "--gpu", "A100 80GB")
    PlanResult.model_validate(data)
    assert data["schema_version"] == 1 and data["tool_version"] == __version__
    assert data["model"]["source"] == "catalog"
    assert data["feasibility"]["per_gpu"]["weights_gb"] == pytest.approx(14.96, rel=0.01)
    assert data["feasibility"]["per_gpu"]["kv_bytes_per_token"] == 131072
    assert data["model"]["kv_bytes_per_token"] == 131072


def test_tp2_halves_weights_and_kv(capsys: pytest.CaptureFixture[str]) -> None:
    data = plan_json(
        capsys,
        "--model",
        LLAMA_8B,
        "--gpu",
        "A100 80GB",
        "--gpus",
        "2",
        "--tensor-parallel-size",
        "2",
    )
    assert data["feasibility"]["per_gpu"]["weights_gb"] == pytest.approx(14.96 / 2, rel=0.01)
    assert data["feasibility"]["per_gpu"]["kv_bytes_per_token"] == 65536
    assert data["hardware"]["tensor_parallel_size"] == 2
    assert data["vllm_args"]["tensor_parallel_size"] == 2


def test_issue_example_fits_and_emits_command(capsys: pytest.CaptureFixture[str]) -> None:
    data = plan_json(
        capsys,
        "--model",
        LLAMA_8B,
        "--gpu",
        "A100 80GB",
        "--max-model-len",
        "8192",
        "--concurrency",
        "16",
    )
    f = data["feasibility"]
    assert f["fits"] and f["will_start"]
    assert f["max_concurrency_at_context"] >= 16
    assert f["max_context_at_concurrency"] >= 8192
    assert data["vllm_args"]["max_model_len"] == 8192
    assert data["vllm_args"]["gpu_memory_utilization"] == 0.9
    cmd = data["artifacts"]["serve_command"]
    assert cmd.startswith(f"vllm serve {LLAMA_8B} ") and "--max-model-len 8192" in cmd
    assert data["performance"]["approximate"] is True
    low, high = data["performance"]["decode_toks_per_s_range"]
    assert 0 < low < high


def test_fits_boundary_on_a_small_card(capsys: pytest.CaptureFixture[str]) -> None:
    # 8B bf16 weights (~15 GiB) fit a 24 GiB card at 4k context but not in 16 GiB.
    fits = plan_json(capsys, "--model", LLAMA_8B, "--vram-gb", "24", "--max-model-len", "4096")
    assert fits["feasibility"]["fits"]
    too_small = plan_json(capsys, "--model", LLAMA_8B, "--vram-gb", "16", "--max-model-len", "4096")
    assert not too_small["feasibility"]["fits"]
    assert not too_small["feasibility"]["will_start"]
    assert too_small["feasibility"]["oom_risk"] == "high"


def test_auto_tp_picks_the_smallest_size_that_fits(capsys: pytest.CaptureFixture[str]) -> None:
    data = plan_json(
        capsys,
        "--model",
        "meta-llama/Llama-3.3-70B-Instruct",
        "--gpu",
        "H100",
        "--gpus",
        "8",
        "--max-model-len",
        "8192",
        "--concurrency",
        "8",
    )
    hw = data["hardware"]
    assert hw["tensor_parallel_size"] in (2, 4)
    assert hw["replicas"] == 8 // hw["tensor_parallel_size"]
    assert data["feasibility"]["fits"]


def test_local_folder_and_config_path(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    folder = tmp_path / "my-model"
    shutil.copytree(CONFIGS / "meta-llama--Meta-Llama-3.1-8B", folder)
    data = plan_json(capsys, "--model", str(folder), "--gpu", "H100", "--gpus", "2")
    assert data["model"]["source"] == "local"
    assert data["model"]["params_total"] == pytest.approx(8.03e9, rel=0.01)
    by_path = plan_json(capsys, "--model", str(folder / "config.json"), "--gpu", "H100")
    assert by_path["model"]["num_kv_heads"] == 8


@pytest.mark.parametrize("fmt", ["yaml", "text"])
def test_other_formats(capsys: pytest.CaptureFixture[str], fmt: str) -> None:
    code, out, err = run_cli(
        capsys, "plan", "--model", LLAMA_8B, "--gpu", "L4", "--format", fmt, "--explain"
    )
    assert code == 0, err
    assert "vllm serve" in out
    if fmt == "text":
        assert "FIT" in out and "approximate" in out.lower()


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        (["--model", LLAMA_8B, "--gpu", "Quantum 9000"], "--vram-gb"),
        (["--model", LLAMA_8B], "--gpu"),
        (["--model", LLAMA_8B, "--gpu", "H100", "--gpus", "-1"], "--gpus"),
        (["--model", LLAMA_8B, "--gpu", "H100", "--concurrency", "0"], "--concurrency"),
        (["--model", "./no/such/folder", "--gpu", "H100"], "--model"),
        (
            ["--model", LLAMA_8B, "--gpu", "H100", "--tensor-parallel-size", "3", "--gpus", "3"],
            "--tensor-parallel-size",
        ),
        (["--model", LLAMA_8B, "--gpu", "H100", "--max-model-len", "999999"], "--max-model-len"),
        (["--model", LLAMA_8B, "--gpu", "H100", "--kv-cache-dtype", "fp7"], "--kv-cache-dtype"),
        (["--model", LLAMA_8B, "--gpu", "H100", "--gpus", "many"], "--gpus"),
    ],
)
def test_bad_input_is_one_line_and_exit_2(
    capsys: pytest.CaptureFixture[str], args: list[str], needle: str
) -> None:
    code, out, err = run_cli(capsys, "plan", *args)
    assert code == 2
    assert out == ""
    lines = [ln for ln in err.splitlines() if ln.strip()]
    assert len(lines) == 1, err
    assert needle in lines[0]
    assert "Traceback" not in err


def test_config_missing_a_field_names_it(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    config = json.loads((CONFIGS / "meta-llama--Meta-Llama-3.1-8B" / "config.json").read_text())
    del config["num_attention_heads"]
    (tmp_path / "config.json").write_text(json.dumps(config))
    code, _, err = run_cli(capsys, "plan", "--model", str(tmp_path), "--gpu", "H100")
    assert code == 2
    assert "num_attention_heads" in err and len(err.strip().splitlines()) == 1


def test_custom_code_config_needs_trust_remote_code(capsys: pytest.CaptureFixture[str]) -> None:
    folder = str(CONFIGS / "THUDM--chatglm2-6b")
    code, _, err = run_cli(capsys, "plan", "--model", folder, "--gpu", "H100")
    assert code == 2
    assert "--trust-remote-code" in err and len(err.strip().splitlines()) == 1
    data = plan_json(capsys, "--model", folder, "--gpu", "H100", "--trust-remote-code")
    assert data["vllm_args"]["trust_remote_code"] is True


def test_bitsandbytes_checkpoint_is_not_supported(capsys: pytest.CaptureFixture[str]) -> None:
    folder = str(CONFIGS / "reubzdubz--Molmo7B_D_NF4Quant")
    code, _, err = run_cli(capsys, "plan", "--model", folder, "--gpu", "H100")
    assert code == 2
    assert "not supported" in err and "bitsandbytes" in err
