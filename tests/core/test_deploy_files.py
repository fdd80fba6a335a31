"""Kubernetes, many-node, replica and ROCm deployment files.

Scripts are run by bash with `vllm`, `docker`, `ray` and `python3` replaced by stubs that
record their arguments, so the command checked is the one the script really launches
for each NODE_RANK or REPLICA. Kubernetes objects are validated offline against the
Kubernetes 1.33 JSON schemas bundled in kubernetes-validate; a LeaderWorkerSet is a custom
resource with no bundled schema, so only its leader and worker pod templates are checked
(as PodTemplateSpec).
"""

from __future__ import annotations

import functools
import os
import re
import subprocess
from pathlib import Path
from typing import Any

import kubernetes_validate
import pytest
import yaml

from vllm_wizard.core.artifacts import EMIT_CHOICES, render_files
from vllm_wizard.core.command_check import check_values_against_lists, parse_serve_args
from vllm_wizard.core.model_source import load_model_metadata
from vllm_wizard.core.planner import expert_share, plan
from vllm_wizard.core.vllm_flags import load_flag_table
from vllm_wizard.schemas.request import PlanRequest

from .stub_launch import run_script, serve_args

K8S_VERSION = "1.33.0"
DEEPSEEK = PlanRequest(model="deepseek-ai/DeepSeek-V3", gpu="H100", gpus=16, gpus_per_node=8)
LLAMA_405B = PlanRequest(
    model="meta-llama/Llama-3.1-405B-Instruct", gpu="A100 80GB", gpus=16, gpus_per_node=8
)
LLAMA_8B_L4 = PlanRequest(model="meta-llama/Llama-3.1-8B-Instruct", gpu="L4", gpus=8)
LLAMA_70B_MI300X = PlanRequest(model="meta-llama/Llama-3.1-70B-Instruct", gpu="MI300X", gpus=8)
QWEN_MOE = PlanRequest(model="Qwen/Qwen3-30B-A3B", gpu="H100", gpus=8)


@functools.cache
def generated(request: PlanRequest) -> dict[str, str]:
    result = plan(request)
    assert result.feasibility.fits, result.feasibility.warnings
    return render_files(result, request, list(EMIT_CHOICES))


def assert_parses(args: list[str]) -> dict[str, Any]:
    """Every flag exists in vLLM 0.33's table with a valid value; the parsed values by dest."""
    table = load_flag_table()
    parsed = parse_serve_args(args)
    check_values_against_lists(parsed, table.quantization_methods, table.kv_cache_dtypes)
    assert parsed.errors == [] and parsed.notes == [], (args, parsed.errors, parsed.notes)
    assert parsed.model
    return parsed.args


def k8s_valid(document: dict[str, Any]) -> None:
    kubernetes_validate.validate(document, K8S_VERSION, strict=True)


def pod_template_valid(template: dict[str, Any]) -> None:
    """A PodTemplateSpec, checked through the v1 PodTemplate object that wraps one."""
    k8s_valid(
        {
            "apiVersion": "v1",
            "kind": "PodTemplate",
            "metadata": {"name": "check"},
            "template": template,
        }
    )


def k8s_objects(files: dict[str, str]) -> dict[str, dict[str, Any]]:
    """kind -> object over every k8s/ file; each non-custom object schema-validated."""
    objects: dict[str, dict[str, Any]] = {}
    for path, text in files.items():
        if not path.startswith("k8s/"):
            continue
        for doc in yaml.safe_load_all(text):
            if doc["kind"] != "LeaderWorkerSet":
                k8s_valid(doc)
            objects[doc["kind"]] = doc
    return objects


def container_args(container: dict[str, Any], env: dict[str, str]) -> list[str]:
    """The container's command with Kubernetes' $(VAR) expansion applied."""
    words = []
    for word in container["command"]:
        for name, value in env.items():
            word = word.replace(f"$({name})", value)
        words.append(word)
    assert words[:2] == ["vllm", "serve"], words
    return words[2:]


@pytest.mark.parametrize(
    ("request_", "nodes"), [(DEEPSEEK, 2), (LLAMA_405B, 2)], ids=["deepseek-v3", "llama-405b"]
)
def test_two_node_plans_launch_head_and_headless_worker(
    request_: PlanRequest, nodes: int, tmp_path: Path
) -> None:
    files = generated(request_)
    hw = plan(request_).hardware
    assert (hw.tensor_parallel_size, hw.pipeline_parallel_size) == (8, 2)
    for rank in range(nodes):
        for script in ("serve_command.sh", "docker-run.sh"):
            argv = run_script(files[script], tmp_path, NODE_RANK=str(rank), HEAD_IP="10.0.0.1")
            values = assert_parses(serve_args(argv))
            assert values["nnodes"] == str(nodes)
            assert values["node_rank"] == str(rank)
            assert values["master_addr"] == "10.0.0.1"
            assert ("headless" in values) == (rank > 0), (script, rank)
            if script == "docker-run.sh":
                assert "--network" in argv and "host" in argv
                # Only this node's 8 GPUs, not every GPU the host has.
                assert argv[argv.index("--gpus") + 1] == "8"
    ray = run_script(files["serve_command_ray.sh"], tmp_path, NODE_RANK="0", HEAD_IP="10.0.0.1")
    assert assert_parses(serve_args(ray))["distributed_executor_backend"] == "ray"
    joined = run_script(files["serve_command_ray.sh"], tmp_path, NODE_RANK="1", HEAD_IP="h")
    assert joined[:3] == ["ray", "start", "--block"] and "--address=h:6379" in joined


def test_two_node_script_refuses_a_missing_or_bad_node_rank(tmp_path: Path) -> None:
    script = tmp_path / "serve.sh"
    script.write_text(generated(DEEPSEEK)["serve_command.sh"])
    for env in ({"HEAD_IP": "10.0.0.1"}, {"HEAD_IP": "10.0.0.1", "NODE_RANK": "2"}):
        done = subprocess.run(
            ["bash", str(script)], env={"PATH": os.environ["PATH"], **env}, capture_output=True
        )
        assert done.returncode != 0
        assert b"NODE_RANK" in done.stderr


@pytest.mark.parametrize("request_", [DEEPSEEK, LLAMA_405B], ids=["deepseek-v3", "llama-405b"])
def test_two_node_plans_become_a_leader_worker_set(request_: PlanRequest) -> None:
    objects = k8s_objects(generated(request_))
    assert "Deployment" not in objects
    lws = objects["LeaderWorkerSet"]
    assert lws["apiVersion"] == "leaderworkerset.x-k8s.io/v1"
    group = lws["spec"]["leaderWorkerTemplate"]
    assert group["size"] == 2
    assert group["restartPolicy"] == "RecreateGroupOnPodRestart"
    lws_env = {"LWS_GROUP_SIZE": "2", "LWS_LEADER_ADDRESS": "vllm-0.vllm", "LWS_WORKER_INDEX": "1"}
    for role, template in (
        ("leader", group["leaderTemplate"]),
        ("worker", group["workerTemplate"]),
    ):
        pod_template_valid(template)
        (main,) = template["spec"]["containers"]
        values = assert_parses(container_args(main, lws_env))
        assert values["nnodes"] == "2"
        assert values["node_rank"] == ("0" if role == "leader" else "1")
        assert ("headless" in values) == (role == "worker")
        assert main["resources"]["limits"] == {"nvidia.com/gpu": "8"}
        assert ("readinessProbe" in main) == (role == "leader")
    assert objects["Service"]["spec"]["selector"]["role"] == "leader"
    assert objects["PersistentVolumeClaim"]["spec"]["accessModes"] == ["ReadWriteMany"]


def test_dense_8b_on_eight_l4_is_eight_replicas(tmp_path: Path) -> None:
    files = generated(LLAMA_8B_L4)
    objects = k8s_objects(files)
    deployment = objects["Deployment"]
    assert deployment["spec"]["replicas"] == 8
    assert "8 independent servers" in files["k8s/deployment.yaml"].split("apiVersion")[0]
    pod = deployment["spec"]["template"]
    pod_template_valid(pod)
    (main,) = pod["spec"]["containers"]
    assert main["resources"]["limits"] == {"nvidia.com/gpu": "1"}
    for probe in ("readinessProbe", "livenessProbe", "startupProbe"):
        assert main[probe]["httpGet"] == {"path": "/health", "port": 8000}
    (token,) = [e for e in main["env"] if e["name"] == "HF_TOKEN"]
    assert token["valueFrom"]["secretKeyRef"]["name"] == "hf-token"
    volumes = {v["name"]: v for v in pod["spec"]["volumes"]}
    assert volumes["dshm"]["emptyDir"]["medium"] == "Memory"
    assert volumes["hf-cache"]["persistentVolumeClaim"]["claimName"] == "vllm-hf-cache"
    mounts = {m["mountPath"] for m in main["volumeMounts"]}
    assert {"/dev/shm", "/root/.cache/huggingface"} <= mounts
    values = assert_parses(container_args(main, {}))
    assert "data_parallel_size" not in values  # dense: separate servers, not DP ranks
    assert "separate servers" in plan(LLAMA_8B_L4).explanations["tensor_parallel_size"]
    ports = set()
    for replica in range(8):
        argv = run_script(files["serve_command.sh"], tmp_path, REPLICA=str(replica))
        ports.add(assert_parses(serve_args(argv))["port"])
    assert ports == {str(8000 + r) for r in range(8)}
    compose = yaml.safe_load(files["docker-compose.yaml"])
    devices = [
        s["deploy"]["resources"]["reservations"]["devices"][0]["device_ids"]
        for s in compose["services"].values()
    ]
    assert devices == [[str(i)] for i in range(8)]


def test_moe_replicas_on_a_node_become_data_parallel_with_expert_parallel() -> None:
    result = plan(QWEN_MOE)
    assert result.vllm_args["data_parallel_size"] == 8 // result.hardware.tensor_parallel_size
    assert result.vllm_args["enable_expert_parallel"] is True
    assert "data_parallel_size" in result.explanations
    objects = k8s_objects(generated(QWEN_MOE))
    deployment = objects["Deployment"]
    assert deployment["spec"]["replicas"] == 1
    (main,) = deployment["spec"]["template"]["spec"]["containers"]
    assert main["resources"]["limits"] == {"nvidia.com/gpu": "8"}
    values = assert_parses(container_args(main, {}))
    assert values["data_parallel_size"] == str(result.vllm_args["data_parallel_size"])
    assert "enable_expert_parallel" in values


def test_mla_moe_under_tp_sizes_dp_attention() -> None:
    result = plan(DEEPSEEK)
    why = result.explanations["tensor_parallel_size"]
    assert "MLA" in why and "-dp 16 -ep" in why
    found = re.search(r"about ([\d,]+) KV tokens in all against this plan's ([\d,]+)", why)
    assert found, why
    dp_tokens, tp_tokens = (int(g.replace(",", "")) for g in found.groups())
    assert tp_tokens == result.feasibility.kv_cache_capacity_tokens
    # every GPU holds distinct sequences instead of 8 copies of the same latent KV
    assert dp_tokens > 2 * tp_tokens


def test_expert_share_matches_deepseek_v3_architecture() -> None:
    meta = load_model_metadata("deepseek-ai/DeepSeek-V3")
    # config.json: 61 layers, the first 3 dense; 256 routed experts of width 2048; hidden 7168
    routed = (61 - 3) * 256 * 3 * 7168 * 2048
    assert expert_share(meta) == pytest.approx(routed / meta.params_total, rel=0.01)


def test_mi300x_plan_writes_rocm_files(tmp_path: Path) -> None:
    files = generated(LLAMA_70B_MI300X)
    objects = k8s_objects(files)
    pod = objects["Deployment"]["spec"]["template"]
    pod_template_valid(pod)
    (main,) = pod["spec"]["containers"]
    assert main["image"] == "vllm/vllm-openai-rocm:v0.33.0"
    assert set(main["resources"]["limits"]) == {"amd.com/gpu"}
    argv = run_script(files["docker-run.sh"], tmp_path, REPLICA="3")
    assert_parses(serve_args(argv))
    for device in ("/dev/kfd", "/dev/dri"):
        assert argv[argv.index(device) - 1] == "--device"
    assert argv[argv.index("--group-add") + 1] == "video"
    assert "HIP_VISIBLE_DEVICES=3" in argv
    assert not any(a.startswith("--gpus") for a in argv)
    compose = yaml.safe_load(files["docker-compose.yaml"])
    for service in compose["services"].values():
        assert service["image"] == "vllm/vllm-openai-rocm:v0.33.0"
        assert service["devices"] == ["/dev/kfd", "/dev/dri"]
        assert service["group_add"] == ["video"]
        assert "deploy" not in service


def test_schema_check_catches_a_bad_manifest() -> None:
    deployment = yaml.safe_load(generated(LLAMA_8B_L4)["k8s/deployment.yaml"])
    deployment["spec"]["replicas"] = "eight"
    with pytest.raises(kubernetes_validate.ValidationError):
        k8s_valid(deployment)
    pod = deployment["spec"]["template"]
    pod["spec"]["containers"][0]["resources"]["limit"] = {}
    with pytest.raises(kubernetes_validate.ValidationError):
        pod_template_valid(pod)
