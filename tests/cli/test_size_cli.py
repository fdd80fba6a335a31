"""`vllm-wizard size` as a user runs it: table, --json contract, --pick and errors."""

from __future__ import annotations

import json

import jsonschema
import pytest

from tests.cli.test_plan_cli import run_cli
from vllm_wizard.schemas.plan import PlanResult
from vllm_wizard.schemas.size import SizeResult

LLAMA_70B = "meta-llama/Llama-3.3-70B-Instruct"
REQUIRED_OPTION_KEYS = {
    "gpu_name",
    "gpus_per_node",
    "nodes",
    "tensor_parallel_size",
    "pipeline_parallel_size",
    "replicas",
    "fits",
    "output_toks_per_s",
    "ttft_ms",
    "tpot_ms",
    "usd_per_hour",
    "usd_per_million_output_tokens",
    "pareto",
    "plan_args",
}


def test_json_has_the_fields_scripts_rely_on(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run_cli(
        capsys, "size", "--model", LLAMA_70B, "--target-output-tps", "5000", "--json"
    )
    assert code == 0, err
    data = json.loads(out)
    jsonschema.validate(data, SizeResult.model_json_schema(mode="serialization"))
    SizeResult.model_validate(data)
    assert len(data["options"]) == 10
    for option in data["options"]:
        assert set(option) >= REQUIRED_OPTION_KEYS
        assert option["plan_args"]["model"] == LLAMA_70B
    costs = [o["usd_per_hour"] for o in data["options"]]
    assert costs == sorted(costs)


def test_table_marks_the_pareto_front(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run_cli(
        capsys, "size", "--model", LLAMA_70B, "--concurrency", "64", "--top", "5"
    )
    assert code == 0
    assert "Pareto front" in out and "approximate" in out
    assert out.count("\n│ ") >= 5


def test_pick_prints_the_plan_of_that_row(capsys: pytest.CaptureFixture[str]) -> None:
    args = ["size", "--model", "deepseek-ai/DeepSeek-V3", "--gpu", "H100"]
    args += ["--target-output-tps", "2000"]
    code, out, err = run_cli(capsys, *args, "--json")
    assert code == 0, err
    second = json.loads(out)["options"][1]
    code, out, err = run_cli(capsys, *args, "--pick", "2", "--json")
    assert code == 0, err
    picked = PlanResult.model_validate(json.loads(out))
    assert picked.hardware.pipeline_parallel_size == second["pipeline_parallel_size"] > 1
    assert picked.hardware.gpus == second["plan_args"]["gpus"] == second["gpus_total"]
    assert picked.performance.tpot_ms_range[1] == second["tpot_ms"]


def test_pick_of_a_4bit_option_says_it_needs_a_quantized_checkpoint(
    capsys: pytest.CaptureFixture[str],
) -> None:
    args = ["size", "--model", LLAMA_70B, "--target-output-tps", "5000", "--top", "100"]
    code, out, _ = run_cli(capsys, *args, "--json")
    ranks = [o["rank"] for o in json.loads(out)["options"] if o["needs_quantized_checkpoint"]]
    assert ranks
    code, _, err = run_cli(capsys, *args, "--pick", str(ranks[0]))
    assert code == 2
    assert "4-bit" in err and len(err.strip().splitlines()) == 1


@pytest.mark.parametrize(
    ("extra", "needle"),
    [
        (["--concurrency", "4", "--target-rps", "2"], "--target-rps"),
        (["--price", "H100:2.5"], "--price"),
        (["--pick", "0"], "--pick"),
        (["--gpu", "H100", "--pick", "500", "--top", "500"], "--pick"),
    ],
)
def test_bad_input_is_one_line_and_exit_2(
    capsys: pytest.CaptureFixture[str], extra: list[str], needle: str
) -> None:
    code, _, err = run_cli(capsys, "size", "--model", LLAMA_70B, *extra)
    assert code == 2
    assert needle in err
    assert len(err.strip().splitlines()) == 1
