"""Deployment files from a plan: serve script, profile, docker run, compose, benchmark.

Shell scripts come from jinja2 templates shipped in the package; YAML is built as data
and dumped with pyyaml. Every flag comes from `serve_flag_tokens`, so only flags of the
shipped argument table are ever written.
"""

from __future__ import annotations

import shlex
from pathlib import Path
from typing import Any

import yaml

from vllm_wizard import __version__
from vllm_wizard.core.profile import dump_profile
from vllm_wizard.core.render import serve_flag_tokens
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
EXECUTABLE = {"serve_command.sh", "docker-run.sh", "bench.sh"}
IMAGE = "vllm/vllm-openai"
PORT = 8000
HF_CACHE_IN_CONTAINER = "/root/.cache/huggingface"
MODELS_IN_CONTAINER = "/models"
# Requests per benchmark run: enough rounds of the planned concurrency to reach a steady state.
BENCH_ROUNDS = 5
MIN_BENCH_PROMPTS = 50


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
    if "k8s" in kinds:
        raise InvalidParameterError(
            "--emit k8s: Kubernetes manifests are not available in this version; "
            "use --emit compose or docker for now.",
            field="emit",
        )
    return list(dict.fromkeys(kinds))


def image_for(vllm_version: str) -> str:
    """The vllm/vllm-openai image pinned to the target release."""
    return f"{IMAGE}:v{vllm_version.lstrip('v')}"


def environment(result: PlanResult) -> list[tuple[str, str]]:
    """Environment variables vLLM needs for this plan (beyond HF_TOKEN)."""
    env: list[tuple[str, str]] = []
    max_len = result.vllm_args.get("max_model_len")
    model_max = result.model.max_position_embeddings
    if isinstance(max_len, int) and model_max is not None and max_len > model_max:
        env.append(("VLLM_ALLOW_LONG_MAX_MODEL_LEN", "1"))
    return env


def render_files(result: PlanResult, request: PlanRequest, emit: list[str]) -> dict[str, str]:
    """File name -> text for each kind in `emit`."""
    tokens = serve_flag_tokens(result.vllm_args)
    model = str(result.vllm_args["model"])
    context = _context(result, request, model, tokens)
    files: dict[str, str] = {}
    for kind in emit:
        name = FILE_NAMES[kind]
        if kind == "profile":
            files[name] = dump_profile(request, emit, result.vllm_args)
        elif kind == "compose":
            files[name] = render_compose(result, model, tokens, context["header"])
        else:
            files[name] = _template(name + ".j2").render(**context)
    return files


def _context(
    result: PlanResult, request: PlanRequest, model: str, tokens: list[str]
) -> dict[str, Any]:
    perf = result.performance
    h = result.hardware
    return {
        "header": header(result),
        "summary": (
            f"{result.model.id} on {h.gpus}x {h.gpu_name}: TP {h.tensor_parallel_size}, "
            f"PP {h.pipeline_parallel_size}; "
            + ("fits" if result.feasibility.fits else "DOES NOT FIT as planned")
            + "."
        ),
        "model_q": shlex.quote(model),
        "local_model": _is_local(model),
        "env": environment(result),
        "command": _multiline(["vllm", "serve", model], tokens),
        "args": _multiline([container_model(model)], tokens, indent="  "),
        "model_mount": model_mount(model),
        "image": image_for(result.vllm_version),
        "port": PORT,
        "prompt_tokens": request.prompt_tokens,
        "gen_tokens": request.gen_tokens,
        "concurrency": request.concurrency,
        "num_prompts": max(MIN_BENCH_PROMPTS, BENCH_ROUNDS * request.concurrency),
        "expectation": (
            f"estimated output {perf.output_toks_per_s_range[0]:g}-"
            f"{perf.output_toks_per_s_range[1]:g} tok/s, TTFT {perf.ttft_ms_range[0]:g}-"
            f"{perf.ttft_ms_range[1]:g} ms, TPOT {perf.tpot_ms_range[0]:g}-"
            f"{perf.tpot_ms_range[1]:g} ms (approximate)."
        ),
    }


def header(result: PlanResult) -> str:
    """First comment line of each file: who wrote it and which flag table it checked."""
    table = load_flag_table().version
    checked = (
        f"flags checked against vLLM {table}'s argument table"
        if result.vllm_version == table
        else f"flags checked against vLLM {table}'s table, not {result.vllm_version}'s"
    )
    return f"Generated by vllm-wizard {__version__} for vLLM {result.vllm_version}; {checked}."


def render_compose(result: PlanResult, model: str, tokens: list[str], head: str) -> str:
    """docker-compose.yaml: GPU reservation, ipc host, HF cache, HF_TOKEN, /health check."""
    gpus = result.hardware.tensor_parallel_size * result.hardware.pipeline_parallel_size
    env: dict[str, str] = {"HF_TOKEN": "${HF_TOKEN:-}"}
    env.update(environment(result))
    service: dict[str, Any] = {
        "image": image_for(result.vllm_version),
        "command": [container_model(model), *tokens],
        "ports": [f"{PORT}:{PORT}"],
        "ipc": "host",
        "environment": env,
        "volumes": [f"${{HF_HOME:-~/.cache/huggingface}}:{HF_CACHE_IN_CONTAINER}"]
        + ([model_mount(model)] if _is_local(model) else []),
        "deploy": {
            "resources": {
                "reservations": {
                    "devices": [{"driver": "nvidia", "count": gpus, "capabilities": ["gpu"]}]
                }
            }
        },
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
    text = yaml.safe_dump({"services": {"vllm": service}}, sort_keys=False)
    return f"# {head}\n" + text


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


def _multiline(head: list[str], tokens: list[str], indent: str = "  ") -> str:
    """`vllm serve MODEL \\` then one flag (with its value) per line."""
    lines = [shlex.join(head)]
    for group in _groups(tokens):
        lines.append(indent + shlex.join(group))
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
