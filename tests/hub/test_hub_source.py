"""The online path: Hub ids outside the catalog resolve through huggingface_hub.

Each test starts a local server that speaks the Hub's file protocol on 127.0.0.1 and runs
`vllm-wizard plan` in a fresh interpreter whose HF_ENDPOINT points at it: huggingface_hub
reads HF_ENDPOINT and HF_HUB_OFFLINE when it is first imported, so a subprocess is the
only honest way to give each run its own settings.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import CONFIGS
from tests.hub.fake_hub import COMMIT, GATED_TOKEN, FakeHub, FakeRepo, safetensors_header

QWEN3_PARAMS = 596_049_920
GEMMA_2B_PARAMS = 2_506_172_416


def qwen3_06b_tensors() -> dict[str, tuple[str, list[int]]]:
    """Qwen3-0.6B's tensor shapes (tied embedding), as its model.safetensors lists them."""
    tensors: dict[str, tuple[str, list[int]]] = {
        "model.embed_tokens.weight": ("BF16", [151936, 1024]),
        "model.norm.weight": ("BF16", [1024]),
    }
    for i in range(28):
        p = f"model.layers.{i}."
        tensors |= {
            p + "self_attn.q_proj.weight": ("BF16", [2048, 1024]),
            p + "self_attn.k_proj.weight": ("BF16", [1024, 1024]),
            p + "self_attn.v_proj.weight": ("BF16", [1024, 1024]),
            p + "self_attn.o_proj.weight": ("BF16", [1024, 2048]),
            p + "self_attn.q_norm.weight": ("BF16", [128]),
            p + "self_attn.k_norm.weight": ("BF16", [128]),
            p + "mlp.gate_proj.weight": ("BF16", [3072, 1024]),
            p + "mlp.up_proj.weight": ("BF16", [3072, 1024]),
            p + "mlp.down_proj.weight": ("BF16", [1024, 3072]),
            p + "input_layernorm.weight": ("BF16", [1024]),
            p + "post_attention_layernorm.weight": ("BF16", [1024]),
        }
    return tensors


def _repos() -> dict[str, FakeRepo]:
    qwen_config = (CONFIGS / "Qwen--Qwen3-0.6B" / "config.json").read_bytes()
    gemma = CONFIGS / "google--gemma-2b-it"
    header, size = safetensors_header(qwen3_06b_tensors())
    return {
        "acme/tiny-qwen": FakeRepo(
            files={"config.json": qwen_config, "model.safetensors": header},
            sizes={"model.safetensors": size},
            revisions=("main", COMMIT, "v1"),
        ),
        "acme/gemma-sharded": FakeRepo(
            files={
                "config.json": (gemma / "config.json").read_bytes(),
                "model.safetensors.index.json": (
                    gemma / "model.safetensors.index.json"
                ).read_bytes(),
            }
        ),
        "acme/gated": FakeRepo(files={"config.json": qwen_config}, gated=True),
        "acme/custom-glm": FakeRepo(
            files={"config.json": (CONFIGS / "THUDM--chatglm2-6b" / "config.json").read_bytes()}
        ),
    }


@pytest.fixture
def hub() -> Iterator[FakeHub]:
    with FakeHub(_repos()) as server:
        yield server


def run_plan(
    endpoint: str, hf_home: Path, *args: str, offline: bool = False, token: str | None = None
) -> tuple[int, str, str]:
    """`vllm-wizard plan ... --json` in a fresh interpreter pointed at `endpoint`."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("HF_", "HUGGING"))}
    env = {k: v for k, v in env.items() if "proxy" not in k.lower()}
    env |= {
        "HF_ENDPOINT": endpoint,
        "HF_HOME": str(hf_home),
        "NO_PROXY": "127.0.0.1,localhost",
        "HF_HUB_DISABLE_TELEMETRY": "1",
        "HF_HUB_DISABLE_IMPLICIT_TOKEN": "0",
    }
    if offline:
        env["HF_HUB_OFFLINE"] = "1"
    if token is not None:
        env["HF_TOKEN"] = token
    code = "import sys; from vllm_wizard.cli.app import main; main(sys.argv[1:])"
    argv = [sys.executable, "-c", code, "plan", *args, "--gpu", "H100", "--json"]
    done = subprocess.run(argv, env=env, capture_output=True, text=True, timeout=60)
    return done.returncode, done.stdout, done.stderr


def test_single_file_repo_reads_exact_params_from_the_header(hub: FakeHub, tmp_path: Path) -> None:
    code, out, err = run_plan(hub.endpoint, tmp_path, "--model", "acme/tiny-qwen")
    assert code == 0, err
    model = json.loads(out)["model"]
    assert model["source"] == "hub"
    assert model["weights_source"] == "hub_metadata"
    assert model["params_total"] == QWEN3_PARAMS
    assert model["weights_bytes"] == 2 * QWEN3_PARAMS
    weight_gets = [r for r in hub.requests if r[0] == "GET" and r[1].endswith("model.safetensors")]
    assert weight_gets and all(r[3] is not None for r in weight_gets), "weights were downloaded"


def test_sharded_repo_uses_the_index_and_the_cache_serves_a_second_plan_offline(
    hub: FakeHub, tmp_path: Path
) -> None:
    code, out, err = run_plan(hub.endpoint, tmp_path, "--model", "acme/gemma-sharded")
    assert code == 0, err
    first = json.loads(out)["model"]
    assert (first["source"], first["params_total"]) == ("hub", GEMMA_2B_PARAMS)
    served = len(hub.requests)

    code, out, err = run_plan(hub.endpoint, tmp_path, "--model", "acme/gemma-sharded", offline=True)
    assert code == 0, err
    second = json.loads(out)["model"]
    assert second["source"] == "hf_cache"
    assert second["params_total"] == GEMMA_2B_PARAMS
    assert len(hub.requests) == served


def test_revision_is_requested_from_the_hub(hub: FakeHub, tmp_path: Path) -> None:
    code, _, err = run_plan(hub.endpoint, tmp_path, "--model", "acme/tiny-qwen", "--revision", "v1")
    assert code == 0, err
    assert any("/resolve/v1/config.json" in r[1] for r in hub.requests)


def test_unknown_revision_exits_2_naming_it(hub: FakeHub, tmp_path: Path) -> None:
    code, _, err = run_plan(
        hub.endpoint, tmp_path, "--model", "acme/tiny-qwen", "--revision", "nope"
    )
    assert code == 2
    assert "--revision 'nope'" in err


def test_unknown_repo_exits_2_as_model_not_found(hub: FakeHub, tmp_path: Path) -> None:
    code, _, err = run_plan(hub.endpoint, tmp_path, "--model", "acme/does-not-exist")
    assert code == 2
    assert "acme/does-not-exist" in err and "not found" in err
    assert len(err.strip().splitlines()) == 1


def test_gated_repo_explains_licence_and_token(hub: FakeHub, tmp_path: Path) -> None:
    code, _, err = run_plan(hub.endpoint, tmp_path, "--model", "acme/gated")
    assert code == 2
    assert "--model 'acme/gated'" in err and "HF_TOKEN" in err and "licence" in err
    assert len(err.strip().splitlines()) == 1


def test_gated_repo_opens_with_hf_token(hub: FakeHub, tmp_path: Path) -> None:
    code, out, err = run_plan(hub.endpoint, tmp_path, "--model", "acme/gated", token=GATED_TOKEN)
    assert code == 0, err
    assert json.loads(out)["model"]["source"] == "hub"
    assert any(r[2] == f"Bearer {GATED_TOKEN}" for r in hub.requests)


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_unreachable_hub_exits_1_and_suggests_a_local_folder(tmp_path: Path) -> None:
    endpoint = f"http://127.0.0.1:{_closed_port()}"
    code, _, err = run_plan(endpoint, tmp_path, "--model", "acme/tiny-qwen")
    assert code == 1
    assert "cannot be reached" in err and "local folder" in err


def test_offline_with_nothing_cached_exits_1(hub: FakeHub, tmp_path: Path) -> None:
    code, _, err = run_plan(hub.endpoint, tmp_path, "--model", "acme/tiny-qwen", offline=True)
    assert code == 1
    assert "HF_HUB_OFFLINE" in err
    assert hub.requests == []


def test_gated_repo_opens_with_the_token_file_of_hf_auth_login(
    hub: FakeHub, tmp_path: Path
) -> None:
    (tmp_path / "token").write_text(GATED_TOKEN)
    code, _, err = run_plan(hub.endpoint, tmp_path, "--model", "acme/gated")
    assert code == 0, err
    assert any(r[2] == f"Bearer {GATED_TOKEN}" for r in hub.requests)


def test_custom_code_config_from_the_hub_needs_trust_remote_code(
    hub: FakeHub, tmp_path: Path
) -> None:
    code, _, err = run_plan(hub.endpoint, tmp_path, "--model", "acme/custom-glm")
    assert code == 2
    assert "--trust-remote-code" in err and len(err.strip().splitlines()) == 1
    code, out, err = run_plan(
        hub.endpoint, tmp_path, "--model", "acme/custom-glm", "--trust-remote-code"
    )
    assert code == 0, err
    assert json.loads(out)["vllm_args"]["trust_remote_code"] is True
    fetched = {r[1].rsplit("/", 1)[1] for r in hub.requests if r[0] == "GET"}
    assert not any(name.endswith(".py") for name in fetched), "model code was downloaded"
