"""`benchmark --url` end to end against a local fake server: figures, --json, --save, errors."""

from __future__ import annotations

import json
import socket
from collections.abc import Iterator

import pytest

from tests.conftest import run_main as _run
from tests.fake_openai import FakeServerState, fake_openai_server
from vllm_wizard.core.corrections import corrections_path, find_performance_factors

MODEL = "meta-llama/Llama-3.1-8B-Instruct"
TTFT_S = 0.25
ITL_S = 0.025
GEN = 6
WORKLOAD = ["--prompt-tokens", "64", "--gen-tokens", str(GEN), "--concurrency", "2"]


@pytest.fixture
def server() -> Iterator[str]:
    """Fast pacing, for tests that do not check the figures against the pacing."""
    with fake_openai_server(FakeServerState(model=MODEL, ttft_s=0.02, itl_s=0.005)) as url:
        yield url


@pytest.fixture
def paced_server() -> Iterator[str]:
    """Slow enough pacing that the measured figures can be held to 10%."""
    with fake_openai_server(FakeServerState(model=MODEL, ttft_s=TTFT_S, itl_s=ITL_S)) as url:
        yield url


def _bench(url: str, *extra: str) -> list[str]:
    return ["benchmark", "--url", url, "--gpu", "H100", *WORKLOAD, "--num-prompts", "4", *extra]


def _plan_json(capsys: pytest.CaptureFixture[str], *extra: str) -> dict[str, object]:
    args = ["plan", "-m", MODEL, "--gpu", "H100", *WORKLOAD, "--json", *extra]
    code, out, _ = _run(args, capsys)
    assert code == 0
    return dict(json.loads(out))


def test_json_puts_measured_beside_estimate(
    paced_server: str, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, _ = _run([*_bench(paced_server), "--json"], capsys)
    assert code == 0
    data = json.loads(out)
    m = data["measured"]
    assert data["served_model"] == MODEL and data["server_vllm_version"] == "0.33.0"
    # Paced by the server: never faster than told, scheduling only adds time (the 10%
    # accuracy figure is measured by benchmarks/benchmark_hook_accuracy.py).
    request_s = TTFT_S + (GEN - 1) * ITL_S
    assert TTFT_S * 1000 * 0.97 <= m["median_ttft_ms"] <= TTFT_S * 1000 * 3
    assert ITL_S * 1000 * 0.9 <= m["median_tpot_ms"] <= ITL_S * 1000 * 3
    assert 2 * GEN / request_s / 3 <= m["output_toks_per_s"] <= 2 * GEN / request_s * 1.03
    plan = _plan_json(capsys)
    assert data["estimate"] == plan["performance"]
    by_metric = {c["metric"]: c for c in data["comparison"]}
    assert set(by_metric) == {"ttft_ms", "tpot_ms", "output_toks_per_s", "e2e_latency_ms"}
    assert request_s * 1000 * 0.97 <= m["median_e2e_latency_ms"] <= request_s * 1000 * 3
    assert by_metric["tpot_ms"]["measured"] == m["median_tpot_ms"]
    assert data["factors_saved_to"] is None


def test_text_report_and_equivalent_command(
    server: str, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, _ = _run(_bench(server), capsys)
    assert code == 0
    assert "time per output token (median)" in out and "measured / estimate" in out
    assert (
        "vllm bench serve --backend vllm --base-url " + server + f" --model {MODEL} "
        "--dataset-name random --random-input-len 64 --random-output-len 6 --max-concurrency 2 "
        "--num-prompts 4 --ignore-eos"
    ) in out


def test_save_changes_next_plan_and_no_corrections_ignores(
    server: str, capsys: pytest.CaptureFixture[str]
) -> None:
    before = _plan_json(capsys)
    code, out, _ = _run([*_bench(server), "--save", "--json"], capsys)
    assert code == 0
    saved = json.loads(out)
    assert saved["factors_saved_to"] == str(corrections_path())
    found = find_performance_factors("H100 SXM 80GB", MODEL, "0.33.0")
    assert found is not None and "concurrency 2" in found[1]
    _, out, _ = _run([*_bench(server), "--json"], capsys)
    assert any("Applied measured performance" in n for n in json.loads(out)["notes"])

    after = _plan_json(capsys)
    ignored = _plan_json(capsys, "--no-corrections")
    assert any("Applied measured performance factors" in n for n in after["notes"])  # type: ignore[attr-defined]
    assert not any("performance factors" in n for n in ignored["notes"])  # type: ignore[attr-defined]
    assert ignored["performance"] == before["performance"]
    perf = after["performance"]
    assert perf != before["performance"]
    # The corrected range is centred (geometrically) on what was measured.
    for metric, key in (("tpot_ms", "tpot_ms_range"), ("ttft_ms", "ttft_ms_range")):
        low, high = perf[key]  # type: ignore[index]
        measured = {c["metric"]: c["measured"] for c in saved["comparison"]}[metric]
        assert (low * high) ** 0.5 == pytest.approx(measured, rel=0.02)


def test_saving_twice_does_not_compound(server: str, capsys: pytest.CaptureFixture[str]) -> None:
    """The second run compares against the corrected estimate; its factor still relates the
    measurement to the uncorrected one."""
    _run([*_bench(server), "--save", "--json"], capsys)
    _, out, _ = _run([*_bench(server), "--save", "--json"], capsys)
    second = json.loads(out)
    found = find_performance_factors("H100 SXM 80GB", MODEL, "0.33.0")
    raw = _plan_json(capsys, "--no-corrections")["performance"]
    assert found is not None
    for metric, key, factor in (
        ("tpot_ms", "tpot_ms_range", found[0].tpot),
        ("ttft_ms", "ttft_ms_range", found[0].ttft),
    ):
        low, high = raw[key]  # type: ignore[index]
        measured = {c["metric"]: c["measured"] for c in second["comparison"]}[metric]
        assert factor == pytest.approx(measured / (low * high) ** 0.5, rel=0.02)


def test_measure_only_without_gpu(server: str, capsys: pytest.CaptureFixture[str]) -> None:
    args = ["benchmark", "--url", server, *WORKLOAD, "--num-prompts", "2", "--json"]
    code, out, _ = _run(args, capsys)
    data = json.loads(out)
    assert code == 0 and data["estimate"] is None and data["comparison"] == []
    assert any("No estimate" in n for n in data["notes"])


def test_save_without_gpu_is_a_user_error(server: str, capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = _run(["benchmark", "--url", server, "--save"], capsys)
    assert code == 2 and "--save needs --gpu" in err


def test_unreachable_url_exits_1(capsys: pytest.CaptureFixture[str]) -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    code, out, err = _run(["benchmark", "--url", f"http://127.0.0.1:{port}"], capsys)
    assert code == 1 and out == ""
    assert len(err.strip().splitlines()) == 1 and "does not answer" in err


def test_non_openai_server_exits_1(capsys: pytest.CaptureFixture[str]) -> None:
    state = FakeServerState(model=MODEL, ttft_s=0, itl_s=0, mode="html")
    with fake_openai_server(state) as url:
        code, _, err = _run(["benchmark", "--url", url], capsys)
    assert code == 1
    assert len(err.strip().splitlines()) == 1 and "OpenAI-compatible" in err


def test_bad_url_exits_2(capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = _run(["benchmark", "--url", "localhost:8000"], capsys)
    assert code == 2 and "--url" in err


def test_non_streaming_server_exits_1(capsys: pytest.CaptureFixture[str]) -> None:
    state = FakeServerState(model=MODEL, ttft_s=0, itl_s=0, mode="no-stream")
    with fake_openai_server(state) as url:
        code, _, err = _run(["benchmark", "--url", url], capsys)
    assert code == 1 and "did not stream an OpenAI completion" in err


def test_api_key(capsys: pytest.CaptureFixture[str]) -> None:
    state = FakeServerState(model=MODEL, ttft_s=0, itl_s=0, api_key="sesame")
    with fake_openai_server(state) as url:
        code, _, err = _run(["benchmark", "--url", url], capsys)
        assert code == 1 and "--api-key" in err
        args = ["benchmark", "--url", url, "--api-key", "sesame", "--num-prompts", "2", "--json"]
        code, out, _ = _run(args, capsys)
    assert code == 0 and json.loads(out)["measured"]["completed"] == 2


def test_renamed_served_model(capsys: pytest.CaptureFixture[str]) -> None:
    state = FakeServerState(model="my-llama", ttft_s=0, itl_s=0)
    with fake_openai_server(state) as url:
        code, out, _ = _run([*_bench(url), "-m", MODEL, "--json"], capsys)
    data = json.loads(out)
    assert code == 0 and data["served_model"] == "my-llama"
    assert {body["model"] for body in state.requests} == {"my-llama"}
    assert data["estimate"] is not None
    assert "--served-model-name my-llama" in data["equivalent_command"]
    assert any("as 'my-llama'" in n for n in data["notes"])
