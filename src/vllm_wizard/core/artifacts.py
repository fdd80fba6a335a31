"""Deployment files from a plan: serve script, profile, docker run, compose, k8s, benchmark.

Shell scripts come from jinja2 templates shipped in the package; YAML is built as data
and dumped with pyyaml. Every flag comes from `serve_flag_tokens` or the launch flags
below, so only flags of the shipped argument table are ever written. The plan's topology
(one server, separate servers, data-parallel ranks, a server spanning nodes; NVIDIA or
AMD) decides the shape of each file.
"""

from __future__ import annotations

import shlex
from pathlib import Path
from typing import Any

import yaml

from vllm_wizard import __version__
from vllm_wizard.core.benchmark import default_num_prompts
from vllm_wizard.core.k8s import PlainDumper, manifests
from vllm_wizard.core.profile import dump_profile
from vllm_wizard.core.render import serve_flag_tokens
from vllm_wizard.core.topology import Topology, plan_topology
from vllm_wizard.core.vllm_flags import load_flag_table
from vllm_wizard.errors import InvalidParameterError
from vllm_wizard.schemas.plan import PlanResult
from vllm_wizard.schemas.request import PlanRequest

EMIT_CHOICES = ("command", "profile", "docker", "compose", "k8s", "bench")
DEFAULT_EMIT = ("command", "profile", "docker", "compose", "bench")
FILE_NAMES = {
    "command": "serve_command.sh",
    "profile": "profile.yaml",
    "docker": "docker-run.sh",
    "compose": "docker-compose.yaml",
    "bench": "bench.sh",
}
RAY_SCRIPT = "serve_command_ray.sh"
EXECUTABLE = {"serve_command.sh", "docker-run.sh", "bench.sh", RAY_SCRIPT}
IMAGE = "vllm/vllm-openai"
ROCM_IMAGE = "vllm/vllm-openai-rocm"
RAY_PORT = 6379
# Shell words that finish a multi-node launch; NODE_RANK and HEAD_IP are the script's inputs.
NODE_RANK_WORDS = ['--node-rank "$NODE_RANK"', '--master-addr "$HEAD_IP"', '"${headless[@]}"']
PORT = 8000
HF_CACHE_IN_CONTAINER = "/root/.cache/huggingface"
MODELS_IN_CONTAINER = "/models"


def parse_emit(value: str | None) -> list[str]:
    """`--emit command,profile` -> the file kinds, in the order given; none means the default."""
    if value is None or not value.strip():
        return list(DEFAULT_EMIT)
    kinds = [v.strip().lower() for v in value.split(",") if v.strip()]
    bad = [k for k in kinds if k not in EMIT_CHOICES]
    if bad:
        raise InvalidParameterError(
            f"--emit '{','.join(bad)}' is not a file kind; use a comma list of "
            f"{','.join(EMIT_CHOICES)}.",
            field="emit",
        )
    return list(dict.fromkeys(kinds))


def image_for(vllm_version: str, vendor: str = "nvidia") -> str:
    """vLLM's image pinned to the target release: vllm/vllm-openai, or -rocm for AMD GPUs."""
    name = ROCM_IMAGE if vendor == "amd" else IMAGE
    return f"{name}:v{vllm_version.lstrip('v')}"


def environment(result: PlanResult) -> list[tuple[str, str]]:
    """Environment variables vLLM needs for this plan (beyond HF_TOKEN)."""
    env: list[tuple[str, str]] = []
    max_len = result.vllm_args.get("max_model_len")
    model_max = result.model.max_position_embeddings
    if isinstance(max_len, int) and model_max is not None and max_len > model_max:
        env.append(("VLLM_ALLOW_LONG_MAX_MODEL_LEN", "1"))
    return env


def render_files(result: PlanResult, request: PlanRequest, emit: list[str]) -> dict[str, str]:
    """File path (relative to the output folder) -> text for each kind in `emit`."""
    tokens = serve_flag_tokens(result.vllm_args)
    model = str(result.vllm_args["model"])
    topo = plan_topology(result)
    context = _context(result, request, model, tokens, topo)
    files: dict[str, str] = {}
    for kind in emit:
        name = FILE_NAMES.get(kind, kind)
        if kind == "profile":
            recorded = request.model_copy(
                update={"recorded_corrections": result.corrections_applied}
            )
            files[name] = dump_profile(recorded, emit, result.vllm_args)
        elif kind == "compose":
            files[name] = render_compose(result, model, tokens, context["header"], topo)
        elif kind == "k8s":
            files.update(
                manifests(
                    topo,
                    context["image"],
                    [container_model(model), *tokens],
                    environment(result),
                    result.model.weights_bytes,
                    f"{context['header']}\n# {topo.why}",
                )
            )
        else:
            files[name] = _template(name + ".j2").render(**context)
            if kind == "command" and topo.multi_node:
                files[RAY_SCRIPT] = _template(RAY_SCRIPT + ".j2").render(**context)
    return files


def _context(
    result: PlanResult, request: PlanRequest, model: str, tokens: list[str], topo: Topology
) -> dict[str, Any]:
    perf = result.performance
    h = result.hardware
    local_servers = local_server_count(topo, h.gpus_per_node)
    launch = launch_words(topo)
    instance_port = ['--port "$PORT"'] if local_servers > 1 else []
    return {
        "header": header(result),
        "summary": (
            f"{result.model.id} on {h.gpus}x {h.gpu_name}: TP {h.tensor_parallel_size}, "
            f"PP {h.pipeline_parallel_size}"
            + (f", DP {topo.data_parallel_size}" if topo.data_parallel_size > 1 else "")
            + "; "
            + ("fits" if result.feasibility.fits else "DOES NOT FIT as planned")
            + "."
        ),
        "layout": topo.why,
        "topo": topo,
        "vendor": topo.vendor,
        "local_servers": local_servers,
        "visible_devices": "HIP_VISIBLE_DEVICES"
        if topo.vendor == "amd"
        else "CUDA_VISIBLE_DEVICES",
        "ray_port": RAY_PORT,
        "model_q": shlex.quote(model),
        "local_model": _is_local(model),
        "env": environment(result),
        "command": _multiline(["vllm", "serve", model], tokens, tail=launch + instance_port),
        "ray_command": _multiline(
            ["vllm", "serve", model], [*tokens, "--distributed-executor-backend", "ray"]
        ),
        "args": _multiline([container_model(model)], tokens, indent="  ", tail=launch),
        "model_mount": model_mount(model),
        "image": image_for(result.vllm_version, topo.vendor),
        "port": PORT,
        "prompt_tokens": request.prompt_tokens,
        "gen_tokens": request.gen_tokens,
        "concurrency": request.concurrency,
        "num_prompts": default_num_prompts(request.concurrency),
        "expectation": (
            f"estimated output {perf.output_toks_per_s_range[0]:g}-"
            f"{perf.output_toks_per_s_range[1]:g} tok/s, TTFT {perf.ttft_ms_range[0]:g}-"
            f"{perf.ttft_ms_range[1]:g} ms, TPOT {perf.tpot_ms_range[0]:g}-"
            f"{perf.tpot_ms_range[1]:g} ms (approximate)."
        ),
    }


def local_server_count(topo: Topology, gpus_per_node: int) -> int:
    """Separate servers that share one node (1 unless the plan runs several instances)."""
    if topo.mode != "instances":
        return 1
    return max(1, min(topo.servers, gpus_per_node // topo.gpus_per_server))


def launch_words(topo: Topology) -> list[str]:
    """Flags of vLLM's multi-node launch, as shell words reading NODE_RANK and HEAD_IP."""
    if not topo.multi_node:
        return []
    return [f"--nnodes {topo.nodes_per_server}", *NODE_RANK_WORDS]


def header(result: PlanResult) -> str:
    """First comment line of each file: who wrote it and which flag table it checked."""
    table = load_flag_table().version
    checked = (
        f"flags checked against vLLM {table}'s argument table"
        if result.vllm_version == table
        else f"flags checked against vLLM {table}'s table, not {result.vllm_version}'s"
    )
    return f"Generated by vllm-wizard {__version__} for vLLM {result.vllm_version}; {checked}."


def render_compose(
    result: PlanResult, model: str, tokens: list[str], head: str, topo: Topology | None = None
) -> str:
    """docker-compose.yaml: GPUs, ipc host, HF cache, HF_TOKEN, /health check.

    Separate servers on a node become one service each (pinned GPUs, ports 8000, 8001...);
    a server spanning nodes becomes a `head` and a `worker` profile on the host network.
    """
    topo = topo or plan_topology(result)
    command = [container_model(model), *tokens]
    env: dict[str, str] = {"HF_TOKEN": "${HF_TOKEN:-}"}
    env.update(environment(result))
    base = _compose_service(result, model, env, topo)
    services: dict[str, Any] = {}
    if topo.multi_node:
        launch = [
            "--nnodes",
            str(topo.nodes_per_server),
            "--master-addr",
            "${HEAD_IP:?set HEAD_IP to the head node address}",
        ]
        head_env = {**env, "VLLM_HOST_IP": "${VLLM_HOST_IP:-}"}
        services["vllm-head"] = {
            **base,
            "profiles": ["head"],
            "command": [*command, *launch, "--node-rank", "0"],
            "environment": head_env,
        }
        worker = {k: v for k, v in base.items() if k not in ("ports", "healthcheck")}
        services["vllm-worker"] = {
            **worker,
            "profiles": ["worker"],
            "command": [
                *command,
                *launch,
                "--node-rank",
                "${NODE_RANK:?set NODE_RANK to 1..N-1 on worker nodes}",
                "--headless",
            ],
            "environment": head_env,
        }
        for svc in services.values():
            svc.pop("ports", None)  # host networking publishes the API port directly
            svc["network_mode"] = "host"
    else:
        count = local_server_count(topo, result.hardware.gpus_per_node)
        for i in range(count):
            name = "vllm" if count == 1 else f"vllm-{i}"
            gpus = list(range(i * topo.gpus_per_server, (i + 1) * topo.gpus_per_server))
            services[name] = {
                **base,
                "command": command,
                "ports": [f"{PORT + i}:{PORT}"],
                **_compose_gpus(topo, gpus if count > 1 else None, env),
            }
    text = yaml.dump({"services": services}, Dumper=PlainDumper, sort_keys=False)
    return f"# {head}\n# {topo.why}\n" + text


def _compose_service(
    result: PlanResult, model: str, env: dict[str, str], topo: Topology
) -> dict[str, Any]:
    service: dict[str, Any] = {
        "image": image_for(result.vllm_version, topo.vendor),
        "ports": [f"{PORT}:{PORT}"],
        "ipc": "host",
        "environment": env,
        "volumes": [f"${{HF_HOME:-~/.cache/huggingface}}:{HF_CACHE_IN_CONTAINER}"]
        + ([model_mount(model)] if _is_local(model) else []),
        **_compose_gpus(topo, None, env),
        "healthcheck": {
            "test": [
                "CMD",
                "python3",
                "-c",
                f"import urllib.request; urllib.request.urlopen('http://localhost:{PORT}/health')",
            ],
            "interval": "30s",
            "timeout": "10s",
            "retries": 5,
            "start_period": "600s",
        },
    }
    return service


def _compose_gpus(topo: Topology, ids: list[int] | None, env: dict[str, str]) -> dict[str, Any]:
    """NVIDIA: a device reservation (by count, or pinned ids). AMD: /dev/kfd, /dev/dri, video."""
    if topo.vendor == "amd":
        amd: dict[str, Any] = {
            "devices": ["/dev/kfd", "/dev/dri"],
            "group_add": ["video"],
            "security_opt": ["seccomp=unconfined"],
        }
        if ids is not None:
            amd["environment"] = {**env, "HIP_VISIBLE_DEVICES": ",".join(map(str, ids))}
        return amd
    device: dict[str, Any] = {"driver": "nvidia", "capabilities": ["gpu"]}
    if ids is None:
        device["count"] = topo.gpus_per_node
    else:
        device["device_ids"] = [str(i) for i in ids]
    return {"deploy": {"resources": {"reservations": {"devices": [device]}}}}


def _template(name: str) -> Any:
    import jinja2  # only when files are written: keeps `plan` light

    env = jinja2.Environment(
        loader=jinja2.PackageLoader("vllm_wizard", "templates"),
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
        autoescape=False,
    )
    env.filters["quote"] = shlex.quote
    return env.get_template(name)


def _multiline(
    head: list[str], tokens: list[str], indent: str = "  ", tail: list[str] | None = None
) -> str:
    """`vllm serve MODEL \\` then one flag (with its value) per line.

    `tail` lines are shell text written as they are (they expand script variables).
    """
    lines = [shlex.join(head)]
    for group in _groups(tokens):
        lines.append(indent + shlex.join(group))
    lines += [indent + line for line in tail or []]
    return " \\\n".join(lines)


def _groups(tokens: list[str]) -> list[list[str]]:
    groups: list[list[str]] = []
    for token in tokens:
        if token.startswith("--") or not groups:
            groups.append([token])
        else:
            groups[-1].append(token)
    return groups


def container_model(model: str) -> str:
    """The model as the container sees it: local folders are mounted under /models."""
    return f"{MODELS_IN_CONTAINER}/{Path(model).name}" if _is_local(model) else model


def model_mount(model: str) -> str:
    """Read-only volume that mounts a local model folder at container_model(model)."""
    return f"{Path(model).expanduser().resolve()}:{container_model(model)}:ro"


def _is_local(model: str) -> bool:
    return model.startswith((".", "/", "~")) or Path(model).exists()
