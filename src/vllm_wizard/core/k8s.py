"""Kubernetes manifests for a plan: Deployment or LeaderWorkerSet, Service, PVC.

One server on one node is a Deployment (replicas = the plan's separate servers); a server
spanning nodes is a LeaderWorkerSet (leaderworkerset.x-k8s.io/v1) whose leader and worker
pods run vLLM's own multi-node launch (`--nnodes`, `--node-rank`, `--master-addr`,
`--headless`). Manifests are built as data and dumped with pyyaml.
"""

from __future__ import annotations

from typing import Any

import yaml

from vllm_wizard.core.topology import Topology

APP = "vllm"
PORT = 8000
HF_CACHE = "/root/.cache/huggingface"
SECRET_NAME = "hf-token"
SECRET_KEY = "token"
PVC_NAME = "vllm-hf-cache"
# Hugging Face cache size: the weights with room for a second revision, at least this much.
MIN_CACHE_GIB = 50
# Model loading can take many minutes: the startup probe allows this long before restarts.
STARTUP_SECONDS = 1800
PROBE_PERIOD_S = 10
GPU_RESOURCE = {"nvidia": "nvidia.com/gpu", "amd": "amd.com/gpu"}
LWS_LEADER_LABEL = {"role": "leader"}


def shm_size(topology: Topology) -> str:
    """/dev/shm size limit: vLLM's examples use 2Gi on one GPU, 8-16Gi for many or ROCm."""
    if topology.multi_node:
        return "16Gi"
    if topology.gpus_per_node > 1 or topology.vendor == "amd":
        return "8Gi"
    return "2Gi"


def cache_size_gib(weights_bytes: int) -> int:
    """PVC size in GiB: twice the weights (bytes in), rounded up, at least MIN_CACHE_GIB."""
    return max(MIN_CACHE_GIB, -(-2 * weights_bytes // 2**30))


def manifests(
    topology: Topology,
    image: str,
    args: list[str],
    env: list[tuple[str, str]],
    weights_bytes: int,
    head: str,
) -> dict[str, str]:
    """k8s/<file>.yaml -> text. `args` follow `vllm serve`; `weights_bytes` sizes the PVC."""
    files = {
        "k8s/pvc.yaml": _dump(head, [pvc(topology, weights_bytes)]),
        "k8s/service.yaml": _dump(head, [service(topology)]),
    }
    if topology.multi_node:
        files["k8s/leaderworkerset.yaml"] = _dump(
            head + "\n# The LeaderWorkerSet custom resource needs the LWS controller "
            "(https://lws.sigs.k8s.io); its pod templates are plain PodTemplateSpecs.",
            [leader_worker_set(topology, image, args, env)],
        )
    else:
        files["k8s/deployment.yaml"] = _dump(head, [deployment(topology, image, args, env)])
    return files


def _dump(head: str, documents: list[dict[str, Any]]) -> str:
    notes = (
        f"# {head}\n"
        f"# HF_TOKEN comes from the Secret '{SECRET_NAME}' (key '{SECRET_KEY}'); create it with\n"
        f"#   kubectl create secret generic {SECRET_NAME} --from-literal={SECRET_KEY}=$HF_TOKEN\n"
    )
    return notes + yaml.dump_all(documents, Dumper=PlainDumper, sort_keys=False)


class PlainDumper(yaml.SafeDumper):
    """Safe YAML without anchors: pods that share values still spell them out."""

    def ignore_aliases(self, data: Any) -> bool:
        return True


def labels(extra: dict[str, str] | None = None) -> dict[str, str]:
    """Labels every object and pod carries."""
    return {"app.kubernetes.io/name": APP, **(extra or {})}


def pvc(topology: Topology, weights_bytes: int) -> dict[str, Any]:
    """The Hugging Face cache; ReadWriteMany when more than one pod mounts it."""
    pods = topology.servers * topology.nodes_per_server
    return {
        "apiVersion": "v1",
        "kind": "PersistentVolumeClaim",
        "metadata": {"name": PVC_NAME, "labels": labels()},
        "spec": {
            "accessModes": ["ReadWriteMany" if pods > 1 else "ReadWriteOnce"],
            "resources": {"requests": {"storage": f"{cache_size_gib(weights_bytes)}Gi"}},
        },
    }


def service(topology: Topology) -> dict[str, Any]:
    """ClusterIP service on the OpenAI port; for a LeaderWorkerSet it selects leaders only."""
    selector = labels(LWS_LEADER_LABEL if topology.multi_node else None)
    return {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {"name": APP, "labels": labels()},
        "spec": {
            "type": "ClusterIP",
            "selector": selector,
            "ports": [{"name": "http", "port": PORT, "targetPort": PORT, "protocol": "TCP"}],
        },
    }


def deployment(
    topology: Topology, image: str, args: list[str], env: list[tuple[str, str]]
) -> dict[str, Any]:
    """A Deployment of `topology.servers` identical single-node servers."""
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": APP, "labels": labels()},
        "spec": {
            "replicas": topology.servers,
            "selector": {"matchLabels": labels()},
            "template": pod_template(
                topology, container(topology, image, ["vllm", "serve", *args], env, probes=True)
            ),
        },
    }


def leader_worker_set(
    topology: Topology, image: str, args: list[str], env: list[tuple[str, str]]
) -> dict[str, Any]:
    """LeaderWorkerSet: groups of `nodes_per_server` pods; rank 0 serves, the rest are headless.

    LWS sets LWS_GROUP_SIZE, LWS_LEADER_ADDRESS and LWS_WORKER_INDEX in every pod;
    Kubernetes expands `$(VAR)` in container commands.
    """
    launch = [
        "--nnodes",
        "$(LWS_GROUP_SIZE)",
        "--master-addr",
        "$(LWS_LEADER_ADDRESS)",
    ]
    leader_cmd = ["vllm", "serve", *args, *launch, "--node-rank", "0"]
    worker_cmd = ["vllm", "serve", *args, *launch, "--node-rank", "$(LWS_WORKER_INDEX)"]
    worker_cmd.append("--headless")
    pod_env = [*env, ("VLLM_HOST_IP", "")]
    leader = container(topology, image, leader_cmd, pod_env, probes=True, name="vllm-leader")
    worker = container(topology, image, worker_cmd, pod_env, probes=False, name="vllm-worker")
    return {
        "apiVersion": "leaderworkerset.x-k8s.io/v1",
        "kind": "LeaderWorkerSet",
        "metadata": {"name": APP, "labels": labels()},
        "spec": {
            "replicas": topology.servers,
            "leaderWorkerTemplate": {
                "size": topology.nodes_per_server,
                "restartPolicy": "RecreateGroupOnPodRestart",
                "leaderTemplate": pod_template(topology, leader, LWS_LEADER_LABEL),
                "workerTemplate": pod_template(topology, worker, {"role": "worker"}),
            },
        },
    }


def pod_template(
    topology: Topology, main: dict[str, Any], extra_labels: dict[str, str] | None = None
) -> dict[str, Any]:
    """PodTemplateSpec: the container, HF cache PVC and /dev/shm as a memory emptyDir."""
    spec: dict[str, Any] = {
        "containers": [main],
        "volumes": [
            {"name": "hf-cache", "persistentVolumeClaim": {"claimName": PVC_NAME}},
            {"name": "dshm", "emptyDir": {"medium": "Memory", "sizeLimit": shm_size(topology)}},
        ],
    }
    if topology.vendor == "amd":
        # vLLM's ROCm example shares the host IPC namespace; the AMD GPU device plugin
        # mounts /dev/kfd and /dev/dri for each amd.com/gpu it grants.
        spec["hostIPC"] = True
    return {"metadata": {"labels": labels(extra_labels)}, "spec": spec}


def container(
    topology: Topology,
    image: str,
    command: list[str],
    env: list[tuple[str, str]],
    *,
    probes: bool,
    name: str = APP,
) -> dict[str, Any]:
    """The vLLM container: GPU limit, HF_TOKEN from the Secret, mounts, /health probes."""
    gpu = {GPU_RESOURCE[topology.vendor]: str(topology.gpus_per_node)}
    body: dict[str, Any] = {
        "name": name,
        "image": image,
        "command": command,
        "env": [
            {
                "name": "HF_TOKEN",
                "valueFrom": {
                    "secretKeyRef": {"name": SECRET_NAME, "key": SECRET_KEY, "optional": True}
                },
            },
            *(_env_var(k, v) for k, v in env),
        ],
        "ports": [{"name": "http", "containerPort": PORT}],
        "resources": {"limits": gpu, "requests": dict(gpu)},
        "volumeMounts": [
            {"name": "hf-cache", "mountPath": HF_CACHE},
            {"name": "dshm", "mountPath": "/dev/shm"},
        ],
    }
    if probes:
        body["startupProbe"] = _probe(STARTUP_SECONDS // PROBE_PERIOD_S)
        body["readinessProbe"] = _probe(3)
        body["livenessProbe"] = _probe(6)
    return body


def _env_var(name: str, value: str) -> dict[str, Any]:
    """A plain variable; VLLM_HOST_IP is the pod's own address, for multi-node traffic."""
    if name == "VLLM_HOST_IP":
        return {"name": name, "valueFrom": {"fieldRef": {"fieldPath": "status.podIP"}}}
    return {"name": name, "value": value}


def _probe(failures: int) -> dict[str, Any]:
    return {
        "httpGet": {"path": "/health", "port": PORT},
        "periodSeconds": PROBE_PERIOD_S,
        "failureThreshold": failures,
    }
