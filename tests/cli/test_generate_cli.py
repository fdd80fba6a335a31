"""`generate`, `plan --output-dir/--profile` and `check-command` as a user runs them."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from tests.cli.test_plan_cli import run_cli

LLAMA_8B = "meta-llama/Llama-3.1-8B-Instruct"


def test_generate_writes_default_files_and_prints_paths(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    out_dir = tmp_path / "out"
    code, out, err = run_cli(
        capsys, "generate", "-m", LLAMA_8B, "--gpu", "L4", "--output-dir", str(out_dir)
    )
    assert code == 0, err
    names = sorted(Path(line).name for line in out.splitlines())
    assert names == sorted(
        ["serve_command.sh", "profile.yaml", "docker-run.sh", "docker-compose.yaml", "bench.sh"]
    )
    assert os.access(out_dir / "serve_command.sh", os.X_OK)
    assert not os.access(out_dir / "profile.yaml", os.X_OK)
    assert "Next steps" in err
    code, _, err = run_cli(
        capsys, "generate", "-m", LLAMA_8B, "--gpu", "L4", "--output-dir", str(out_dir)
    )
    assert code == 2 and "--force" in err
    code, _, err = run_cli(
        capsys, "generate", "-m", LLAMA_8B, "--gpu", "L4", "--output-dir", str(out_dir), "--force"
    )
    assert code == 0, err


def test_profile_reload_reproduces_the_plan_and_cli_options_override(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    args = ["-m", LLAMA_8B, "--gpu", "A10G", "--concurrency", "6", "--prompt-tokens", "3000"]
    code, _, err = run_cli(
        capsys, "plan", *args, "--output-dir", str(tmp_path), "--emit", "profile", "--json"
    )
    assert code == 0, err
    code, direct, _ = run_cli(capsys, "plan", *args, "--json")
    code, reloaded, _ = run_cli(
        capsys, "plan", "--profile", str(tmp_path / "profile.yaml"), "--json"
    )
    assert code == 0
    assert json.loads(reloaded) == json.loads(direct)
    code, changed, _ = run_cli(
        capsys, "plan", "--profile", str(tmp_path / "profile.yaml"), "--concurrency", "2", "--json"
    )
    assert json.loads(changed)["vllm_args"]["max_num_seqs"] == 2


def test_generate_needs_output_dir_and_plan_needs_a_model(
    capsys: pytest.CaptureFixture[str],
) -> None:
    code, _, err = run_cli(capsys, "generate", "-m", LLAMA_8B, "--gpu", "L4")
    assert code == 2 and "--output-dir" in err
    code, _, err = run_cli(capsys, "plan", "--gpu", "L4")
    assert code == 2 and "--model" in err


def test_check_command_exit_codes_and_files(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    code, out, _ = run_cli(capsys, "check-command", f"vllm serve {LLAMA_8B} --swap-space 4")
    assert code == 1
    assert out.splitlines()[-1] == f"vllm serve {LLAMA_8B}"
    compose = tmp_path / "docker-compose.yaml"
    run_cli(capsys, "generate", "-m", LLAMA_8B, "--gpu", "L4", "--output-dir", str(tmp_path))
    for name in ("docker-compose.yaml", "serve_command.sh", "docker-run.sh"):
        code, out, _ = run_cli(capsys, "check-command", str(tmp_path / name))
        assert code == 0, out
    assert compose.is_file()


def test_generate_from_its_own_profile_writes_identical_files(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    first, second = tmp_path / "a", tmp_path / "b"
    args = ["-m", "mistralai/Mixtral-8x7B-Instruct-v0.1", "--gpu", "A100 80GB", "--gpus", "4"]
    code, _, err = run_cli(
        capsys, "generate", *args, "--concurrency", "12", "--output-dir", str(first)
    )
    assert code == 0, err
    code, _, err = run_cli(
        capsys, "generate", "--profile", str(first / "profile.yaml"), "--output-dir", str(second)
    )
    assert code == 0, err
    for path in sorted(first.iterdir()):
        assert (second / path.name).read_text() == path.read_text(), path.name


def test_emit_picks_files_and_k8s_writes_a_folder(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    base = ["generate", "-m", LLAMA_8B, "--gpu", "L4", "--output-dir", str(tmp_path)]
    code, _, _ = run_cli(capsys, *base, "--emit", "compose,bench")
    assert code == 0
    assert sorted(p.name for p in tmp_path.iterdir()) == ["bench.sh", "docker-compose.yaml"]
    code, out, err = run_cli(capsys, *base, "--emit", "k8s,command", "--force")
    assert code == 0, err
    written = sorted(str(p.relative_to(tmp_path)) for p in tmp_path.rglob("*") if p.is_file())
    assert written == [
        "bench.sh",
        "docker-compose.yaml",
        "k8s/deployment.yaml",
        "k8s/pvc.yaml",
        "k8s/service.yaml",
        "serve_command.sh",
    ]
    assert str(tmp_path / "k8s" / "deployment.yaml") in out.splitlines()
    assert "kubectl apply -f" in err
    assert not list(tmp_path.rglob(".*.tmp"))


def test_plan_emit_needs_an_output_dir(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    code, _, err = run_cli(capsys, "plan", "-m", LLAMA_8B, "--gpu", "L4", "--emit", "profile")
    assert code == 2 and "--output-dir" in err
    assert list(tmp_path.iterdir()) == []
