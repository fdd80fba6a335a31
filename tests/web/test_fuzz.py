"""Property-based fuzzing of the API from its own OpenAPI schema: no input gets a 5xx."""

from __future__ import annotations

import pytest

schemathesis = pytest.importorskip("schemathesis")

from hypothesis import HealthCheck, settings  # noqa: E402

from vllm_wizard.web.app import create_app  # noqa: E402

from .conftest import no_gpu  # noqa: E402

schema = schemathesis.openapi.from_asgi("/openapi.json", create_app(detector=no_gpu))


@schema.parametrize()
@settings(
    max_examples=25,
    deadline=None,
    suppress_health_check=list(HealthCheck),
    derandomize=True,
)
def test_no_input_gets_a_server_error(case) -> None:
    response = case.call()
    assert response.status_code < 500 or response.status_code == 501, (
        f"{case.method} {case.path} -> {response.status_code}: {response.text[:300]}"
    )
    if response.status_code >= 400:
        assert set(response.json()["error"]) == {"field", "value", "message", "fix"}
