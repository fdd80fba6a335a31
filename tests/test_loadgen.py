"""The load generator against a local streaming server with known timings."""

from __future__ import annotations

import socket

import pytest

from tests.fake_openai import FakeServerState, fake_openai_server
from vllm_wizard.core.benchmark import summarize
from vllm_wizard.errors import (
    InvalidParameterError,
    NotOpenAICompatibleError,
    ServerUnreachableError,
)
from vllm_wizard.loadgen import normalize_base_url, probe_server, run_workload
from vllm_wizard.schemas.benchmark import BenchmarkWorkload

# Long enough that thread scheduling on a loaded runner stays small beside them.
TTFT_S = 0.25
ITL_S = 0.025
WORKLOAD = BenchmarkWorkload(prompt_tokens=48, gen_tokens=6, concurrency=4, num_prompts=8, seed=3)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_measures_known_timings() -> None:
    """Two rounds of four requests, paced by the server: figures in the right units and order.

    The 10% accuracy figure is an evaluation, not a unit test (it depends on how loaded the
    machine is): benchmarks/benchmark_hook_accuracy.py measures and prints it.
    """
    state = FakeServerState(model="m", ttft_s=TTFT_S, itl_s=ITL_S)
    with fake_openai_server(state) as url:
        run = run_workload(url, "m", WORKLOAD)
    m = summarize(run.records, run.duration_s)
    request_s = TTFT_S + (WORKLOAD.gen_tokens - 1) * ITL_S
    rounds = WORKLOAD.num_prompts / WORKLOAD.concurrency
    paced_throughput = WORKLOAD.num_prompts * WORKLOAD.gen_tokens / (rounds * request_s)

    assert m.completed == WORKLOAD.num_prompts and m.failed == 0
    assert m.total_output_tokens == WORKLOAD.num_prompts * WORKLOAD.gen_tokens
    # The server never answers faster than it was told to; scheduling only adds time.
    assert TTFT_S * 1000 * 0.97 <= m.median_ttft_ms <= TTFT_S * 1000 * 3
    assert ITL_S * 1000 * 0.9 <= m.median_tpot_ms <= ITL_S * 1000 * 3
    assert ITL_S * 1000 * 0.9 <= m.median_itl_ms <= ITL_S * 1000 * 3
    assert paced_throughput / 3 <= m.output_toks_per_s <= paced_throughput * 1.03


def test_sends_the_planned_workload() -> None:
    state = FakeServerState(model="m", ttft_s=0.0, itl_s=0.0)
    with fake_openai_server(state) as url:
        run_workload(url, "m", WORKLOAD)
    warm_up = state.requests[: WORKLOAD.concurrency]
    sent = state.requests[WORKLOAD.concurrency :]
    assert len(sent) == WORKLOAD.num_prompts
    assert all(body["max_tokens"] <= 2 for body in warm_up)
    for body in sent:
        assert body["stream"] is True and body["ignore_eos"] is True
        assert body["max_tokens"] == WORKLOAD.gen_tokens
        assert len(body["prompt"]) == WORKLOAD.prompt_tokens
        assert body["model"] == "m"
    assert len({tuple(b["prompt"]) for b in state.requests}) == len(state.requests)
    assert state.max_in_flight <= WORKLOAD.concurrency


def test_concurrency_is_reached() -> None:
    state = FakeServerState(model="m", ttft_s=0.03, itl_s=0.005)
    with fake_openai_server(state) as url:
        run_workload(url, "m", WORKLOAD)
    assert state.max_in_flight == WORKLOAD.concurrency


def test_progress_callback_once_per_request() -> None:
    seen: list[bool] = []
    state = FakeServerState(model="m", ttft_s=0.0, itl_s=0.0)
    with fake_openai_server(state) as url:
        run_workload(url, "m", WORKLOAD, on_request_done=lambda r: seen.append(r.ok))
    assert seen == [True] * WORKLOAD.num_prompts


def test_probe_reads_models_and_version() -> None:
    with fake_openai_server(FakeServerState(model="org/x", ttft_s=0, itl_s=0)) as url:
        info = probe_server(normalize_base_url(url + "/v1/"))
    assert info.models == ["org/x"] and info.vllm_version == "0.33.0"


def test_unreachable_url() -> None:
    url = f"http://127.0.0.1:{_free_port()}"
    with pytest.raises(ServerUnreachableError, match="does not answer"):
        probe_server(url, timeout_s=2)


def test_html_server_is_not_openai_compatible() -> None:
    with (
        fake_openai_server(FakeServerState(model="m", ttft_s=0, itl_s=0, mode="html")) as url,
        pytest.raises(NotOpenAICompatibleError, match="OpenAI"),
    ):
        probe_server(url)


def test_completions_answering_html_fails_the_check_request() -> None:
    state = FakeServerState(model="m", ttft_s=0, itl_s=0)
    with fake_openai_server(state) as url:
        state.mode = "html"
        with pytest.raises(NotOpenAICompatibleError, match="did not stream"):
            run_workload(url, "m", WORKLOAD)


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        ("http://h:8000", "http://h:8000"),
        ("http://h:8000/", "http://h:8000"),
        ("http://h:8000/v1", "http://h:8000"),
        (" https://h/proxy/v1/ ", "https://h/proxy"),
    ],
)
def test_normalize_base_url(given: str, expected: str) -> None:
    assert normalize_base_url(given) == expected


@pytest.mark.parametrize("bad", ["localhost:8000", "ftp://h", "http://"])
def test_normalize_rejects_non_http(bad: str) -> None:
    with pytest.raises(InvalidParameterError, match="--url"):
        normalize_base_url(bad)
