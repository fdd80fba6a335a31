"""Property-based fuzzing of the API from its own OpenAPI schema.

No input gets a 5xx, and every answer matches the documented status codes, content types
and schemas. The sizing search takes up to ~0.5 s a call, so /api/size gets fewer examples. Schema-valid requests
may still be refused with 422 (an unknown GPU, a context longer than the model's), so
schemathesis' positive-data-acceptance check is left out.
"""

from __future__ import annotations

import functools

import pytest

schemathesis = pytest.importorskip("schemathesis")

from fastapi.testclient import TestClient  # noqa: E402
from hypothesis import HealthCheck, given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402
from schemathesis import checks  # noqa: E402

from vllm_wizard.web.app import create_app  # noqa: E402

from .conftest import no_gpu  # noqa: E402

schema = schemathesis.openapi.from_asgi("/openapi.json", create_app(detector=no_gpu))
SLOW = "/api/size"


@schema.exclude(path=SLOW).parametrize()
@settings(
    max_examples=25,
    deadline=None,
    suppress_health_check=list(HealthCheck),
    derandomize=True,
)
def test_api_answers_every_input_without_a_server_error(case) -> None:
    _check_case(case)


@schema.include(path=SLOW).parametrize()
@settings(
    max_examples=12,
    deadline=None,
    suppress_health_check=list(HealthCheck),
    derandomize=True,
)
def test_size_answers_every_input_without_a_server_error(case) -> None:
    _check_case(case)


def _check_case(case) -> None:
    response = case.call_and_validate(
        excluded_checks=[checks.not_a_server_error, checks.positive_data_acceptance]
    )
    assert response.status_code < 500, (
        f"{case.method} {case.path} -> {response.status_code}: {response.text[:300]}"
    )
    if response.status_code >= 400:
        assert set(response.json()["error"]) == {"field", "value", "message", "fix"}


@functools.cache
def _page_client() -> TestClient:
    return TestClient(create_app(detector=no_gpu))


_form_keys = st.sampled_from(["model", "gpu", "gpus", "max_model_len", "concurrency", "tab", "x"])


@given(st.dictionaries(_form_keys, st.text(max_size=40), max_size=6))
@settings(max_examples=40, deadline=None, derandomize=True)
def test_page_fragment_renders_any_query(params: dict[str, str]) -> None:
    response = _page_client().get("/ui/results", params=params)
    assert response.status_code == 200
    assert response.headers["HX-Push-Url"].startswith("/")


_size_keys = st.sampled_from(
    ["model", "size_target", "size_value", "size_max_ttft_ms", "size_gpu", "max_model_len", "x"]
)
_size_values = st.one_of(
    st.text(max_size=30),
    st.sampled_from(["meta-llama/Llama-3.1-8B-Instruct", "concurrency", "target_rps", "4", "L4"]),
)


@given(st.dictionaries(_size_keys, _size_values, max_size=6))
@settings(max_examples=15, deadline=None, derandomize=True)
def test_size_fragment_renders_any_query(params: dict[str, str]) -> None:
    response = _page_client().get("/ui/size", params=params)
    assert response.status_code == 200
    assert (
        'id="size-table"' in response.text
        or 'role="alert"' in response.text
        or ('id="size-empty"' in response.text)
    )
