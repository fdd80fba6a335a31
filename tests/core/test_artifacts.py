"""Generated files: every flag and value read back against vLLM 0.33's argument table,
compose files against the Compose specification's JSON schema, profiles round-trip."""

from __future__ import annotations

import functools
import json
import re
import shlex
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml

from vllm_wizard.core.artifacts import DEFAULT_EMIT, parse_emit, render_files
from vllm_wizard.core.catalog import catalog_metadata
from vllm_wizard.core.command_check import (
    check_values_against_lists,
    parse_serve_args,
    serve_tokens,
)
from vllm_wizard.core.corrections import (
    ComponentCorrection,
    PerformanceFactors,
    corrections_path,
    save_correction,
    save_performance_factors,
)
from vllm_wizard.core.planner import plan
from vllm_wizard.core.profile import dump_profile, load_profile
from vllm_wizard.core.vllm_flags import load_flag_table
from vllm_wizard.errors import InvalidParameterError
from vllm_wizard.schemas.request import PlanRequest

from .stub_launch import run_script, serve_args

ROOT = Path(__file__).resolve().parents[2]
CATALOG = json.loads((ROOT / "src/vllm_wizard/core/data/models.json").read_text("utf-8"))
CATALOG_IDS = [m["id"] for m in CATALOG["models"]]
EXAMPLES = sorted((ROOT / "examples" / "profiles").glob("*.yaml"))


@functools.cache
def compose_schema() -> dict[str, Any]:
    """The Compose specification's JSON schema (draft 7), vendored: see fixtures/MANIFEST.md."""
    text = (ROOT / "tests/fixtures/schemas/compose-spec.json").read_text("utf-8")
    return json.loads(text)  # type: ignore[no-any-return]


def assert_valid_command(command: str) -> None:
    table = load_flag_table()
    parsed = parse_serve_args(serve_tokens(command))
    check_values_against_lists(parsed, table.quantization_methods, table.kv_cache_dtypes)
    assert parsed.errors == [], (command, parsed.errors)
    assert parsed.notes == []
    assert parsed.model


def example_request(path: Path, monkeypatch: pytest.MonkeyPatch) -> PlanRequest:
    monkeypatch.chdir(ROOT)  # example profiles name local models relative to the repo
    return load_profile(path.read_text("utf-8"), str(path))


COMPOSE_VARIABLES = {"NODE_RANK": "1", "HEAD_IP": "10.0.0.1"}


def compose_expand(word: str) -> str:
    """Compose's `${VAR:?message}` interpolation, with sample values for the node inputs."""
    return re.sub(r"\$\{(\w+)[^}]*\}", lambda m: COMPOSE_VARIABLES[m.group(1)], word)


def check_files(request: PlanRequest, tmp_path: Path) -> dict[str, str]:
    result = plan(request)
    files = render_files(result, request, list(DEFAULT_EMIT))
    assert_valid_command(result.artifacts.serve_command)
    for name in ("serve_command.sh", "docker-run.sh"):
        argv = run_script(files[name], tmp_path, NODE_RANK="0", HEAD_IP="10.0.0.1")
        assert_valid_command(shlex.join(["vllm", "serve", *serve_args(argv)]))
        assert "set -euo pipefail" in files[name]
    assert "HF_TOKEN" in files["serve_command.sh"]
    compose = yaml.safe_load(files["docker-compose.yaml"])
    jsonschema.Draft7Validator(compose_schema()).validate(compose)
    for service in compose["services"].values():
        command = [compose_expand(word) for word in service["command"]]
        assert_valid_command(shlex.join(["vllm", "serve", *command]))
        assert service["image"] == f"vllm/vllm-openai:v{result.vllm_version}"
    assert load_profile(files["profile.yaml"]) == request
    return files


@pytest.mark.parametrize("model", CATALOG_IDS)
def test_catalog_model_files_parse_and_validate(model: str, tmp_path: Path) -> None:
    meta = catalog_metadata(model)
    assert meta is not None
    request = PlanRequest(
        model=model,
        gpu="H200",
        gpus=8,
        concurrency=8,
        trust_remote_code=meta.requires_remote_code,
    )
    check_files(request, tmp_path)


@pytest.mark.parametrize("path", EXAMPLES, ids=[p.stem for p in EXAMPLES])
def test_example_profile_files_parse_and_validate(
    path: Path, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    check_files(example_request(path, monkeypatch), tmp_path)


def test_there_are_six_example_scenarios() -> None:
    assert len(EXAMPLES) >= 6


def test_profile_round_trip_is_exact_for_every_field() -> None:
    request = PlanRequest(
        model="meta-llama/Llama-3.1-8B-Instruct",
        revision="main",
        dtype="fp16",
        quantization="fp8",
        kv_cache_dtype="fp8",
        max_model_len=4096,
        gpu="A100 80GB",
        gpus=4,
        gpus_per_node=4,
        vram_gb=79.5,
        interconnect="nvlink",
        tensor_parallel_size=2,
        pipeline_parallel_size=2,
        prompt_tokens=300,
        gen_tokens=700,
        concurrency=12,
        target_latency_ms=40,
        streaming=False,
        batching_mode="throughput",
        gpu_memory_utilization=0.85,
        overhead_gb=3,
        fragmentation_factor=1.2,
        headroom_gb=2,
        max_num_seqs=20,
        max_num_batched_tokens=4096,
        block_size=32,
        enforce_eager=True,
        disable_hybrid_kv_cache_manager=True,
        enable_prefix_caching=False,
        params_b=8.1,
        use_corrections=False,
        recorded_corrections={"activation_bytes": 2**28, "tpot": 1.2},
    )
    explicit = request.model_dump(exclude_unset=True)
    assert set(explicit) | {"trust_remote_code", "tokenizer", "allow_long_max_model_len"} >= set(
        PlanRequest.model_fields
    ) - {"vllm_version"}
    text = dump_profile(request, ["profile"], {"model": request.model})
    assert load_profile(text) == request
    assert yaml.safe_load(text)["overrides"]["pipeline_parallel_size"] == 2


def test_profile_ignores_outputs_and_rejects_unknown_keys() -> None:
    request = PlanRequest(model="Qwen/Qwen3-0.6B", gpu="L4")
    data = yaml.safe_load(dump_profile(request, ["profile"], {"model": "other"}))
    data["outputs"]["vllm_args"] = {"tensor_parallel_size": 8}
    assert load_profile(yaml.safe_dump(data)) == request
    data["hardware"]["gpu_count"] = 2
    with pytest.raises(InvalidParameterError, match=r"hardware\.gpu_count"):
        load_profile(yaml.safe_dump(data))
    with pytest.raises(InvalidParameterError, match="profile_version"):
        load_profile("profile_version: 9\n")


def test_long_max_model_len_needs_opt_in_and_sets_the_env_var() -> None:
    base = {"model": "meta-llama/Llama-2-7b-chat-hf", "gpu": "H100", "max_model_len": 8192}
    with pytest.raises(InvalidParameterError, match="4096"):
        plan(PlanRequest(**base))
    request = PlanRequest(**base, allow_long_max_model_len=True)
    files = render_files(plan(request), request, list(DEFAULT_EMIT))
    assert "export VLLM_ALLOW_LONG_MAX_MODEL_LEN=1" in files["serve_command.sh"]
    assert "-e VLLM_ALLOW_LONG_MAX_MODEL_LEN=1" in files["docker-run.sh"]
    env = yaml.safe_load(files["docker-compose.yaml"])["services"]["vllm"]["environment"]
    assert env["VLLM_ALLOW_LONG_MAX_MODEL_LEN"] == "1"


def test_other_vllm_version_says_flags_were_checked_against_the_known_table() -> None:
    request = PlanRequest(model="Qwen/Qwen3-0.6B", gpu="L4", vllm_version="0.35.0")
    files = render_files(plan(request), request, ["command", "docker"])
    assert "checked against vLLM 0.33.0's table, not 0.35.0's" in files["serve_command.sh"]
    assert "vllm/vllm-openai:v0.35.0" in files["docker-run.sh"]


def test_emit_parsing() -> None:
    assert parse_emit(None) == list(DEFAULT_EMIT)
    assert "k8s" not in parse_emit(None)
    assert parse_emit("profile, command,profile") == ["profile", "command"]
    with pytest.raises(InvalidParameterError, match="helm"):
        parse_emit("command,helm")


def test_bench_script_measures_the_planned_workload() -> None:
    request = PlanRequest(
        model="Qwen/Qwen3-8B", gpu="L40S", prompt_tokens=2000, gen_tokens=300, concurrency=6
    )
    bench = render_files(plan(request), request, ["bench"])["bench.sh"]
    assert "vllm bench serve" in bench
    for expected in ("--random-input-len 2000", "--random-output-len 300", "--max-concurrency 6"):
        assert expected in bench


def test_compose_schema_rejects_a_misplaced_gpu_reservation() -> None:
    request = PlanRequest(model="Qwen/Qwen3-0.6B", gpu="L4")
    compose = yaml.safe_load(
        render_files(plan(request), request, ["compose"])["docker-compose.yaml"]
    )
    compose["services"]["vllm"]["gpus_count"] = 1
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.Draft7Validator(compose_schema()).validate(compose)


def test_profile_keeps_an_unset_gpu_count_unset() -> None:
    request = PlanRequest(model="Qwen/Qwen3-0.6B", gpu="p4d.24xlarge")
    text = dump_profile(request, ["profile"], {})
    assert yaml.safe_load(text)["hardware"]["gpus"] is None
    reloaded = load_profile(text)
    assert "gpus" not in reloaded.model_fields_set
    assert plan(reloaded) == plan(request)
    assert plan(reloaded).hardware.gpus == 8


@pytest.mark.parametrize(
    "extra",
    [
        {"kv_cache_dtype": "fp8", "quantization": "fp8", "block_size": 32, "enforce_eager": True},
        {"revision": "main", "tokenizer": "meta-llama/Llama-3.1-8B", "trust_remote_code": True},
        {
            "gpus": 16,
            "gpus_per_node": 8,
            "pipeline_parallel_size": 2,
            "max_model_len": 200_000,
            "allow_long_max_model_len": True,
        },
    ],
    ids=["fp8-eager", "revision-tokenizer", "pipeline-long"],
)
def test_every_optional_flag_parses(extra: dict[str, Any], tmp_path: Path) -> None:
    request = PlanRequest(model="meta-llama/Llama-3.1-70B-Instruct", gpu="H100", **extra)
    files = check_files(request, tmp_path)
    command = files["serve_command.sh"]
    for key in extra:
        if key not in ("gpus", "gpus_per_node", "allow_long_max_model_len"):
            assert "--" + key.replace("_", "-") in command, key


def test_local_model_is_mounted_into_the_containers(monkeypatch: pytest.MonkeyPatch) -> None:
    request = example_request(ROOT / "examples/profiles/gptq-13b-rtx4090.yaml", monkeypatch)
    files = render_files(plan(request), request, ["docker", "compose"])
    inside = "/models/TheBloke--Llama-2-13B-chat-GPTQ"
    mount = f"{ROOT}/examples/models/TheBloke--Llama-2-13B-chat-GPTQ:{inside}:ro"
    assert f"-v {mount} " in files["docker-run.sh"]
    service = yaml.safe_load(files["docker-compose.yaml"])["services"]["vllm"]
    assert mount in service["volumes"]
    assert service["command"][0] == inside
    assert parse_serve_args(serve_tokens(files["docker-run.sh"])).model == inside


def test_a_profile_replays_the_corrections_its_plan_used(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("VLLM_WIZARD_CONFIG_DIR", str(tmp_path))
    request = PlanRequest(model="meta-llama/Llama-3.1-8B-Instruct", gpu="H100 SXM", concurrency=8)
    save_correction("H100 SXM 80GB", "llama", "0.33.0", ComponentCorrection(2**30), "a log")
    factors = PerformanceFactors(ttft=1.5, tpot=1.25, output_throughput=0.8)
    save_performance_factors("H100 SXM 80GB", request.model, "0.33.0", factors, "a run")
    with_store = plan(request)
    assert with_store.corrections_applied is not None
    profile = render_files(with_store, request, ["profile"])["profile.yaml"]

    corrections_path().unlink()  # another machine, without the store
    replayed = plan(load_profile(profile))

    assert replayed.feasibility == with_store.feasibility
    assert replayed.performance == with_store.performance
    assert any("from the profile" in note for note in replayed.notes)
    assert plan(request).feasibility != with_store.feasibility


def test_bench_script_and_benchmark_command_send_the_same_workload() -> None:
    from vllm_wizard.core.benchmark import default_num_prompts, equivalent_bench_command
    from vllm_wizard.schemas.benchmark import BenchmarkWorkload

    request = PlanRequest(
        model="Qwen/Qwen3-8B", gpu="L40S", prompt_tokens=2000, gen_tokens=300, concurrency=16
    )
    bench = render_files(plan(request), request, ["bench"])["bench.sh"]
    workload = BenchmarkWorkload(
        prompt_tokens=2000,
        gen_tokens=300,
        concurrency=16,
        num_prompts=default_num_prompts(16),
        seed=0,
    )
    ours = shlex.split(
        equivalent_bench_command("http://localhost:8000", request.model, request.model, workload)
    )

    def value(tokens: list[str], flag: str) -> str:
        return tokens[tokens.index(flag) + 1]

    script = shlex.split(bench.replace("\\\n", " "), comments=True)
    for flag in ("--random-input-len", "--random-output-len", "--max-concurrency", "--num-prompts"):
        assert value(script, flag) == value(ours, flag), flag
    assert "--ignore-eos" in script and "--ignore-eos" in ours
