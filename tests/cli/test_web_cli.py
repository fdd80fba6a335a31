"""`vllm-wizard web`: loopback default, the no-auth warning, --models-dir checks; --json errors."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("fastapi")

from vllm_wizard.cli.app import main
from vllm_wizard.cli.web import is_loopback


def _run(argv: list[str]) -> int:
    with pytest.raises(SystemExit) as exit_info:
        main(argv)
    return int(exit_info.value.code or 0)


@pytest.fixture
def served(monkeypatch: pytest.MonkeyPatch) -> dict[str, Any]:
    import uvicorn

    calls: dict[str, Any] = {}
    monkeypatch.setattr(uvicorn, "run", lambda app, **kw: calls.update(app=app, **kw))
    return calls


@pytest.mark.parametrize(
    ("host", "loopback"),
    [
        ("127.0.0.1", True),
        ("localhost", True),
        ("::1", True),
        ("0.0.0.0", False),
        ("10.1.2.3", False),
    ],
)
def test_is_loopback(host: str, loopback: bool) -> None:
    assert is_loopback(host) is loopback


def test_defaults_bind_loopback_on_8080_without_warning(served: dict[str, Any], capsys) -> None:
    assert _run(["web"]) == 0
    assert (served["host"], served["port"]) == ("127.0.0.1", 8080)
    assert "warning" not in capsys.readouterr().err


def test_non_loopback_host_warns_about_no_authentication(served: dict[str, Any], capsys) -> None:
    assert _run(["web", "--host", "0.0.0.0", "--port", "8090"]) == 0
    assert served["port"] == 8090
    assert "no authentication" in capsys.readouterr().err


def test_missing_models_dir_is_exit_2(served: dict[str, Any], tmp_path: Path, capsys) -> None:
    assert _run(["web", "--models-dir", str(tmp_path / "absent")]) == 2
    assert "--models-dir" in capsys.readouterr().err
    assert not served


def test_json_flag_reports_errors_in_the_api_shape(capsys) -> None:
    code = _run(
        ["plan", "--model", "meta-llama/Llama-3.1-8B-Instruct", "--gpu", "Voodoo 5", "--json"]
    )
    assert code == 2
    error = json.loads(capsys.readouterr().err)["error"]
    assert error["field"] == "gpu"
    assert set(error) == {"field", "value", "message", "fix"}


def test_json_flag_reports_validation_errors_with_the_value(capsys) -> None:
    code = _run(["plan", "--model", "m", "--gpu", "H100", "--gpus", "0", "--format", "json"])
    assert code == 2
    error = json.loads(capsys.readouterr().err)["error"]
    assert (error["field"], error["value"]) == ("gpus", 0)
