"""check-log end to end: the comparison, one-line errors, and saved corrections."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from vllm_wizard.cli.app import main
from vllm_wizard.core.corrections import corrections_path, find_correction

LOG = Path(__file__).parents[1] / "fixtures/logs/v1-llama-8b-h100.log"


def _run(args: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    with pytest.raises(SystemExit) as exc:
        main(args)
    out = capsys.readouterr()
    assert "Traceback (most recent call last)" not in out.err, out.err
    return int(exc.value.code or 0), out.out, out.err


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
