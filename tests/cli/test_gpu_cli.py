"""`vllm-wizard gpus`, `detect` and `plan --gpu auto` / instance names, end to end via main()."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

from tests.cli.test_plan_cli import LLAMA_8B, plan_json, run_cli
from tests.core.test_gpu_detect import FakeTools, _nvidia_tools, _old_driver_tools
from vllm_wizard.core import gpu_detect
from vllm_wizard.core.gpu_catalog import load_gpu_catalog
from vllm_wizard.schemas.gpu import GpuInventory

GPUS_JSON_KEYS = {
    "name", "aliases", "memory_gib", "memory_bandwidth_gbps", "bf16_tflops_dense",
    "fp8_tflops_dense", "int8_tops_dense", "compute_capability", "interconnect",
    "interconnect_gbps", "form_factor", "price_usd_per_hour", "price_as_of", "price_source",
    "source",
}  # fmt: skip


def _fake_detection(monkeypatch: pytest.MonkeyPatch, tools: FakeTools) -> None:
    real = gpu_detect.detect_gpus

    def detect(runner: object = None, *, use_nvml: bool = True) -> GpuInventory:
        return real(tools, use_nvml=False)

    monkeypatch.setattr(gpu_detect, "detect_gpus", detect)


def _no_gpu_machine(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))
    monkeypatch.setitem(sys.modules, "pynvml", None)


def test_gpus_json_lists_the_whole_catalog(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run_cli(capsys, "gpus", "--json")
    assert code == 0
    gpus = json.loads(out)["gpus"]
    assert len(gpus) == len(load_gpu_catalog()) >= 40
    for entry in gpus:
        assert set(entry) >= GPUS_JSON_KEYS, entry["name"]


def test_gpus_query_filters_and_prints_a_table(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run_cli(capsys, "gpus", "h100")
    assert code == 0
    assert "H100 SXM 80GB" in out and "H100 NVL 94GB" in out
    assert "A100" not in out


def test_gpus_unknown_query_exits_2(capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = run_cli(capsys, "gpus", "H1000")
    assert code == 2
    assert "GPU 'H1000' is not in the catalog (closest: 'H200" in err
    assert len(err.strip().splitlines()) == 1


def test_gpus_query_resolves_a_cloud_instance(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run_cli(capsys, "gpus", "p5.48xlarge", "--json")
    assert code == 0
    assert [g["name"] for g in json.loads(out)["gpus"]] == ["H100 SXM 80GB"]
    assert "8x H100 SXM 80GB" in err


def test_detect_without_gpu_exits_1_with_one_line(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    _no_gpu_machine(monkeypatch, tmp_path)
    code, out, err = run_cli(capsys, "detect")
    assert code == 1
    assert out == ""
    assert err.startswith("error: No GPU detected (") and err.count("\n") == 1
    assert "--vram-gb" in err


def test_detect_json(capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    _fake_detection(monkeypatch, _nvidia_tools("nvidia-smi-4xh100.csv"))
    code, out, _ = run_cli(capsys, "detect", "--json")
    assert code == 0
    data = json.loads(out)
    assert (data["count"], data["interconnect"], data["cuda_version"]) == (4, "nvlink", "12.4")
    for entry in data["gpus"]:
        assert GPUS_JSON_KEYS | {"free_memory_gib", "driver_version", "cuda_version"} <= set(entry)


def test_detect_table(capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    _fake_detection(monkeypatch, FakeTools({"rocm-smi": (0, "rocm-smi-7900xt.json")}))
    code, out, _ = run_cli(capsys, "detect")
    assert code == 0
    assert "Radeon RX 7900 XT" in out and "(not in catalog)" in out
    assert "1 GPU(s) via rocm-smi" in out


def test_plan_on_cloud_instance_uses_its_gpu_count(capsys: pytest.CaptureFixture[str]) -> None:
    data = plan_json(capsys, "--model", LLAMA_8B, "--gpu", "p5.48xlarge")
    assert (data["hardware"]["gpu_name"], data["hardware"]["gpus"]) == ("H100 SXM 80GB", 8)
    assert "p5.48xlarge (aws) has 8x H100 SXM 80GB." in data["notes"]
    explicit = plan_json(capsys, "--model", LLAMA_8B, "--gpu", "p5.48xlarge", "--gpus", "2")
    assert explicit["hardware"]["gpus"] == 2


def test_plan_gpu_auto_uses_detected_gpus(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    _fake_detection(monkeypatch, _old_driver_tools())
    data = plan_json(capsys, "--model", LLAMA_8B, "--gpu", "auto", "--max-model-len", "4096")
    hardware = data["hardware"]
    assert (hardware["gpu_name"], hardware["gpus"], hardware["interconnect"]) == (
        "RTX 3090 24GB",
        2,
        "pcie",
    )
    assert data["feasibility"]["will_start"]


def test_plan_gpu_auto_with_busy_gpu_will_not_start(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    # GPU 2 of the recorded 4x H100 has 40 GiB free of 79.18 GiB.
    _fake_detection(monkeypatch, _nvidia_tools("nvidia-smi-4xh100.csv"))
    data = plan_json(capsys, "--model", LLAMA_8B, "--gpu", "auto", "--max-model-len", "8192")
    feasibility = data["feasibility"]
    assert not feasibility["will_start"] and not feasibility["fits"]
    warning = next(w for w in feasibility["warnings"] if "Other processes hold" in w)
    assert "40.0 GiB of 79.18 GiB is free" in warning
    assert "--gpu-memory-utilization 0.49 " in warning
    ok = plan_json(
        capsys, "--model", LLAMA_8B, "--gpu", "auto", "--max-model-len", "8192",
        "--gpu-memory-utilization", warning.split("Use --gpu-memory-utilization ")[1].split()[0],
    )  # fmt: skip
    assert ok["feasibility"]["will_start"]


def test_plan_gpu_auto_without_gpu(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    _no_gpu_machine(monkeypatch, tmp_path)
    code, _, err = run_cli(capsys, "plan", "--model", LLAMA_8B, "--gpu", "auto")
    assert code == 1 and "No GPU detected" in err
    data = plan_json(capsys, "--model", LLAMA_8B, "--gpu", "auto", "--vram-gb", "24")
    assert data["hardware"]["gpu_name"] == "custom"
    assert any("Planned with --vram-gb instead" in note for note in data["notes"])


def test_models_lists_the_catalog_and_filters(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run_cli(capsys, "models", "--json")
    assert code == 0
    models = json.loads(out)["models"]
    ids = [m["id"] for m in models] + [a for m in models for a in m["aliases"]]
    assert "meta-llama/Llama-3.1-8B-Instruct" in ids and len(models) >= 25
    code, out, _ = run_cli(capsys, "models", "llama-3.1-8b")
    assert code == 0 and "meta-llama/Llama-3.1-8B-Instruct" in out and "Qwen" not in out
    code, _, err = run_cli(capsys, "models", "zzz")
    assert code == 2 and err.startswith("error: No catalog model matches 'zzz'")
