"""A small async load generator for OpenAI-compatible servers (httpx, streaming).

`probe_server` checks the URL answers like an OpenAI-compatible server and lists its
models; `run_workload` sends `num_prompts` streaming /v1/completions requests with at most
`concurrency` in flight and returns one `RequestRecord` per request plus the wall time.
Network I/O lives here so that `core` stays pure.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import httpx

from vllm_wizard.core.benchmark import RequestRecord, completion_payload, prompt_token_ids
from vllm_wizard.errors import (
    InvalidParameterError,
    NotOpenAICompatibleError,
    ServerUnreachableError,
)
from vllm_wizard.schemas.benchmark import BenchmarkWorkload

CONNECT_TIMEOUT_S = 5.0
# Tokens each untimed warm-up request generates before the run.
CHECK_MAX_TOKENS = 2
OPENAI_HINT = (
    "--url must be the base URL of an OpenAI-compatible server such as `vllm serve` "
    "(e.g. http://localhost:8000)"
)


@dataclass(frozen=True)
class ServerInfo:
    """What the server says about itself."""

    models: list[str]
    vllm_version: str | None


@dataclass(frozen=True)
class WorkloadRun:
    """Every request's record and the wall time from the first send to the last answer."""

    records: list[RequestRecord]
    duration_s: float


def normalize_base_url(url: str) -> str:
    """'http://host:8000/v1/' -> 'http://host:8000'; only http(s) URLs with a host."""
    parts = urlsplit(url.strip())
    if parts.scheme not in {"http", "https"} or not parts.netloc:
        raise InvalidParameterError(
            f"--url {url!r} is not an http(s) URL; pass e.g. --url http://localhost:8000.",
            field="url",
        )
    path = parts.path.rstrip("/")
    if path.endswith("/v1"):
        path = path[: -len("/v1")]
    return f"{parts.scheme}://{parts.netloc}{path}"


def probe_server(base_url: str, timeout_s: float = 10.0, api_key: str | None = None) -> ServerInfo:
    """GET /v1/models (required) and /version (vLLM only, optional)."""
    timeout = httpx.Timeout(timeout_s, connect=min(timeout_s, CONNECT_TIMEOUT_S))
    with httpx.Client(timeout=timeout, headers=_auth_headers(api_key)) as client:
        models = _served_models(client, base_url)
        return ServerInfo(models=models, vllm_version=_server_version(client, base_url))


def _served_models(client: httpx.Client, base_url: str) -> list[str]:
    url = f"{base_url}/v1/models"
    try:
        response = client.get(url)
    except httpx.HTTPError as exc:
        raise _unreachable(base_url, exc) from None
    try:
        data = response.json() if response.status_code == 200 else None
    except ValueError:
        data = None
    entries = data.get("data") if isinstance(data, dict) else None
    if response.status_code in {401, 403}:
        raise NotOpenAICompatibleError(
            f"{url} answered HTTP {response.status_code}: the server wants an API key; pass "
            "--api-key (the value given to `vllm serve --api-key`).",
            field="api_key",
        )
    if not isinstance(entries, list):
        raise NotOpenAICompatibleError(
            f"{url} answered HTTP {response.status_code} without an OpenAI model list "
            f"({_snippet(response.text)}); {OPENAI_HINT}.",
            field="url",
        )
    return [str(e["id"]) for e in entries if isinstance(e, dict) and "id" in e]


def _server_version(client: httpx.Client, base_url: str) -> str | None:
    try:
        response = client.get(f"{base_url}/version")
        version = response.json().get("version") if response.status_code == 200 else None
    except (httpx.HTTPError, ValueError, AttributeError):
        return None
    return str(version) if version else None


def run_workload(
    base_url: str,
    model: str,
    workload: BenchmarkWorkload,
    *,
    timeout_s: float = 600.0,
    on_request_done: Callable[[RequestRecord], None] | None = None,
    api_key: str | None = None,
) -> WorkloadRun:
    """Untimed warm-up requests, then the whole workload; raises when the first one fails."""
    return asyncio.run(_run(base_url, model, workload, timeout_s, on_request_done, api_key))


async def _run(
    base_url: str,
    model: str,
    workload: BenchmarkWorkload,
    timeout_s: float,
    on_request_done: Callable[[RequestRecord], None] | None,
    api_key: str | None,
) -> WorkloadRun:
    url = f"{base_url}/v1/completions"
    slots = workload.concurrency + 1
    limits = httpx.Limits(max_connections=slots, max_keepalive_connections=slots)
    timeout = httpx.Timeout(timeout_s, connect=min(timeout_s, CONNECT_TIMEOUT_S))
    headers = _auth_headers(api_key)
    async with httpx.AsyncClient(timeout=timeout, limits=limits, headers=headers) as client:
        await _check_request(client, url, model, workload)
        gate = asyncio.Semaphore(workload.concurrency)

        async def send(index: int) -> RequestRecord:
            ids = prompt_token_ids(workload.prompt_tokens, index, workload.seed)
            async with gate:
                record = await stream_completion(
                    client, url, completion_payload(model, ids, workload.gen_tokens)
                )
            if on_request_done is not None:
                on_request_done(record)
            return record

        start = time.perf_counter()
        records = await asyncio.gather(*(send(i) for i in range(workload.num_prompts)))
        return WorkloadRun(records=list(records), duration_s=time.perf_counter() - start)


async def _check_request(
    client: httpx.AsyncClient, url: str, model: str, workload: BenchmarkWorkload
) -> None:
    """Short requests of the planned prompt length, one per concurrent slot, not timed.

    They open the connections the run will reuse and warm the server up; the first one
    turns a wrong server into one error.
    """
    max_tokens = min(CHECK_MAX_TOKENS, workload.gen_tokens)

    def body(slot: int) -> dict[str, Any]:
        index = workload.num_prompts + slot
        ids = prompt_token_ids(workload.prompt_tokens, index, workload.seed)
        return completion_payload(model, ids, max_tokens)

    record = await stream_completion(client, url, body(0))
    if record.ok:
        others = range(1, workload.concurrency)
        await asyncio.gather(*(stream_completion(client, url, body(s)) for s in others))
        return
    if record.error and record.error.startswith("unreachable"):
        raise ServerUnreachableError(
            f"{url} does not answer ({record.error}); start the server or check --url.",
            field="url",
        )
    raise NotOpenAICompatibleError(
        f"{url} did not stream an OpenAI completion ({record.error}); {OPENAI_HINT}.",
        field="url",
    )


async def stream_completion(
    client: httpx.AsyncClient, url: str, payload: dict[str, Any]
) -> RequestRecord:
    """POST one streaming completion and time its chunks (server-sent events)."""
    start = time.perf_counter()
    stamps: list[float] = []
    usage: dict[str, Any] = {}
    try:
        async with client.stream("POST", url, json=payload) as response:
            if response.status_code != 200:
                body = (await response.aread()).decode("utf-8", errors="replace")
                return RequestRecord(
                    ok=False, error=f"HTTP {response.status_code}: {_snippet(body)}"
                )
            async for line in response.aiter_lines():
                event = _sse_event(line)
                if event is None:
                    continue
                if event == "[DONE]":
                    break
                _read_chunk(event, stamps, usage)
    except httpx.TransportError as exc:
        return RequestRecord(ok=False, error=f"unreachable: {_reason(exc)}")
    except httpx.HTTPError as exc:
        return RequestRecord(ok=False, error=_reason(exc))
    except ValueError as exc:
        return RequestRecord(ok=False, error=f"a streamed chunk is not JSON ({exc})")
    return _record(start, stamps, usage)


def _sse_event(line: str) -> str | None:
    """The payload of a 'data:' line; None for blank lines, comments and other fields."""
    if not line.startswith("data:"):
        return None
    return line[len("data:") :].strip()


def _read_chunk(event: str, stamps: list[float], usage: dict[str, Any]) -> None:
    """Time a chunk that carries choices; keep the usage block when one comes."""
    chunk = json.loads(event)
    if not isinstance(chunk, dict):
        raise ValueError("not an object")
    if chunk.get("choices"):
        stamps.append(time.perf_counter())
    if isinstance(chunk.get("usage"), dict):
        usage.update(chunk["usage"])


def _record(start: float, stamps: list[float], usage: dict[str, Any]) -> RequestRecord:
    if not stamps:
        return RequestRecord(ok=False, error="the stream had no completion chunks")
    tokens = usage.get("completion_tokens")
    prompt = usage.get("prompt_tokens")
    return RequestRecord(
        ok=True,
        ttft_s=stamps[0] - start,
        latency_s=stamps[-1] - start,
        output_tokens=int(tokens) if isinstance(tokens, int) else len(stamps),
        prompt_tokens=int(prompt) if isinstance(prompt, int) else None,
        chunk_gaps_s=tuple(b - a for a, b in itertools.pairwise(stamps)),
    )


def _auth_headers(api_key: str | None) -> dict[str, str]:
    return {"Authorization": f"Bearer {api_key}"} if api_key else {}


def _unreachable(base_url: str, exc: httpx.HTTPError) -> ServerUnreachableError:
    return ServerUnreachableError(
        f"{base_url} does not answer ({_reason(exc)}); start the server (e.g. the generated "
        "serve_command.sh) or check --url.",
        field="url",
    )


def _reason(exc: BaseException) -> str:
    return f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__


def _snippet(text: str, limit: int = 120) -> str:
    flat = " ".join(text.split())
    return repr(flat[:limit] + ("..." if len(flat) > limit else ""))
