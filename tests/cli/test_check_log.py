"""check-log end to end: the comparison, one-line errors, and saved corrections."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.conftest import run_main as _run
from vllm_wizard.core.corrections import corrections_path, find_correction

LOG = Path(__file__).parents[1] / "fixtures/logs/v1-llama-8b-h100.log"


def test_side_by_side(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = _run(["check-log", str(LOG), "--gpu", "H100"], capsys)
    assert code == 0
    assert "vLLM 0.10.1.1" in out
    assert "kv_cache" in out and "51.38" in out and "14.99" in out
    assert "starts: predicted yes, log yes" in out


def test_log_without_memory_lines(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    empty = tmp_path / "x.log"
    empty.write_text("INFO starting\n")
    code, _, err = _run(["check-log", str(empty)], capsys)
    assert code == 2
    assert len(err.strip().splitlines()) == 1 and "memory lines" in err


def test_missing_model_and_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    log = tmp_path / "x.log"
    log.write_text("Available KV cache memory: 3.0 GiB\n")
    code, _, err = _run(["check-log", str(log), "--gpu", "H100"], capsys)
    assert code == 2 and "--model" in err
    code, _, err = _run(["check-log", str(tmp_path / "missing.log")], capsys)
    assert code == 2 and "does not exist" in err


def test_save_then_plan_applies_and_can_ignore(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = _run(["check-log", str(LOG), "--gpu", "H100", "--save"], capsys)
    assert code == 0 and "saved corrections" in out
    assert corrections_path().exists()
    found = find_correction("H100 SXM 80GB", "llama", "0.10.1")
    assert found is not None and found[0].activation_bytes > 0
    plan = [
        "plan",
        "-m",
        "meta-llama/Llama-3.1-8B-Instruct",
        "--gpu",
        "H100",
        "--vllm-version",
        "0.10.1",
        "--max-model-len",
        "16000",
        "--json",
    ]
    _, with_c, _ = _run(plan, capsys)
    _, without, _ = _run([*plan, "--no-corrections"], capsys)
    a, b = json.loads(with_c), json.loads(without)
    assert any("Applied saved corrections" in n for n in a["notes"])
    assert not any("Applied saved corrections" in n for n in b["notes"])
    assert (
        a["feasibility"]["per_gpu"]["kv_cache_capacity_gb"]
        < b["feasibility"]["per_gpu"]["kv_cache_capacity_gb"]
    )
    # A plan for another release does not use them, and says where they are.
    other = [arg if arg != "0.10.1" else "0.33.0" for arg in plan]
    _, out, _ = _run(other, capsys)
    notes = json.loads(out)["notes"]
    assert not any("Applied saved corrections" in n for n in notes)
    assert any("exist for vLLM 0.10, not this plan's 0.33.0" in n for n in notes)


GPT_OSS_LOG = """\
INFO 01-20 10:00:01 [api_server.py:1805] vLLM API server version 0.14.1
INFO 01-20 10:00:01 [utils.py:326] non-default args: {'model': 'openai/gpt-oss-120b', 'max_model_len': 16000}
INFO 01-20 10:00:30 [gpu_model_runner.py:1953] Model loading took 64.38 GiB memory and 14.3 seconds
INFO 01-20 10:00:50 [gpu_model_runner.py:2100] Graph capturing finished in 9 secs, took 0.84 GiB
INFO 01-20 10:00:40 [gpu_worker.py:276] Available KV cache memory: 3.33 GiB
"""


def test_saved_corrections_replay_the_log_at_its_settings(
    capsys: pytest.CaptureFixture[str],
) -> None:
    code, _, _ = _run(["check-log", str(LOG), "--gpu", "H100", "--save"], capsys)
    assert code == 0
    replay = ["plan", "-m", "meta-llama/Llama-3.1-8B-Instruct", "--gpu", "H100"]
    replay += ["--vllm-version", "0.10.1.1", "--max-model-len", "16000", "--json"]
    # The settings check-log states it assumed (0.10.1's defaults).
    replay += ["--gpu-memory-utilization", "0.9", "--max-num-seqs", "256"]
    replay += ["--max-num-batched-tokens", "2048"]
    _, out, _ = _run(replay, capsys)
    assert json.loads(out)["feasibility"]["per_gpu"]["kv_cache_capacity_gb"] == pytest.approx(
        51.38, abs=0.02
    )


def test_figures_that_do_not_add_up_are_flagged(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    log = tmp_path / "gptoss.log"
    log.write_text(GPT_OSS_LOG)
    code, out, _ = _run(["check-log", str(log), "--gpu", "H100"], capsys)
    assert code == 0 and "add up to utilization 0.95" in out
    # 0.14 captures CUDA graphs after the KV cache: the row is not a mismatch.
    assert "not part of the budget" in out
    # Utilization 0.95 explains the figures; with it there is nothing left to correct.
    code, out, _ = _run(
        ["check-log", str(log), "--gpu", "H100", "--gpu-memory-utilization", "0.95"], capsys
    )
    assert "add up to utilization" not in out and "kv_cache" in out
    assert "starts: predicted yes, log yes" in out


def test_a_correction_that_would_make_a_component_negative_is_refused(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    log = tmp_path / "gptoss.log"
    log.write_text(GPT_OSS_LOG.replace("3.33 GiB", "12.5 GiB"))
    code, _, err = _run(["check-log", str(log), "--gpu", "H100", "--save"], capsys)
    assert code == 1 and "not saved" in err and "below zero" in err
    assert not corrections_path().exists()


def test_a_failed_start_is_reported_as_one(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    log = tmp_path / "oom.log"
    log.write_text(
        GPT_OSS_LOG.replace("3.33 GiB", "-0.49 GiB")
        + "ValueError: No available memory for the cache blocks. Try increasing "
        "`gpu_memory_utilization` when initializing the engine.\n"
    )
    code, out, _ = _run(["check-log", str(log), "--gpu", "H100"], capsys)
    assert code == 0
    assert "starts: predicted no, log no (no memory left for the KV cache)" in out


def test_a_folder_is_not_a_log(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = _run(["check-log", str(tmp_path)], capsys)
    assert code == 2 and "is a folder" in err


def test_an_unknown_model_named_by_the_log_is_blamed_on_the_log(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    log = tmp_path / "x.log"
    log.write_text(GPT_OSS_LOG.replace("openai/gpt-oss-120b", "acme/unknown-7b"))
    code, _, err = _run(["check-log", str(log), "--gpu", "H100"], capsys)
    assert code != 0 and len(err.strip().splitlines()) == 1
    assert "the model the log names, 'acme/unknown-7b'" in err and "Pass --model" in err


def test_a_large_correction_resting_on_an_assumed_utilization_is_refused(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    log = tmp_path / "v033.log"
    text = LOG.read_text().replace("0.10.1.1", "0.33.0").replace("51.38 GiB", "45.0 GiB")
    log.write_text(text.replace(", 'gpu_memory_utilization': 0.9", ""))
    code, _, err = _run(["check-log", str(log), "--gpu", "H100", "--save"], capsys)
    assert code == 1 and "assumed utilization 0.92" in err
    assert not corrections_path().exists()
