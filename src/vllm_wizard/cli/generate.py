"""`generate` and `check-command`, plus the `--profile / --output-dir / --emit` options of `plan`.

`generate` takes exactly `plan`'s options (its signature is copied from `plan_command`),
so the two never drift apart. Paths written go to stdout, hints to stderr.
"""

from __future__ import annotations

import functools
import os
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any

import typer

from vllm_wizard.errors import InvalidParameterError, UserInputError
from vllm_wizard.schemas.request import PlanRequest

ProfileOpt = Annotated[
    Path | None,
    typer.Option(
        "--profile",
        help="Load the request from a profile.yaml; options given on the command line override it.",
        show_default=False,
    ),
]
OutputDirOpt = Annotated[
    Path | None,
    typer.Option(help="Write deployment files into this folder.", show_default=False),
]
EmitOpt = Annotated[
    str | None,
    typer.Option(
        help="Files to write, a comma list of command,profile,docker,compose,k8s,bench "
        "[default: all but k8s].",
        show_default=False,
    ),
]
ForceOpt = Annotated[bool, typer.Option(help="Overwrite files that already exist.")]


def build_request(
    values: dict[str, Any], profile: Path | None, ctx: typer.Context | None = None
) -> PlanRequest:
    """The request from the CLI values, over the profile's when one is given.

    With a profile, only options actually typed on the command line override it, so a
    reloaded profile gives exactly the plan it was saved from.
    """
    fields = {k: v for k, v in values.items() if k in PlanRequest.model_fields and v is not None}
    if profile is None:
        if "model" not in fields:
            raise InvalidParameterError(
                "No model given; pass --model (a Hugging Face id or folder) or --profile.",
                field="model",
            )
        return PlanRequest(**fields)
    from vllm_wizard.core.profile import load_profile

    try:
        text = profile.read_text("utf-8")
    except OSError as exc:
        raise InvalidParameterError(
            f"--profile {profile}: cannot read it ({exc.strerror}); check the path.",
            field="profile",
        ) from None
    base = load_profile(text, str(profile))
    typed = {k: v for k, v in fields.items() if ctx is None or _typed(ctx, k)}
    return PlanRequest(**{**base.model_dump(exclude_unset=True), **typed})


def _typed(ctx: typer.Context, name: str) -> bool:
    source = ctx.get_parameter_source(name)
    return source is not None and source.name == "COMMANDLINE"


def run(values: dict[str, Any], *, command: str) -> None:
    """Body shared by `plan` and `generate`: plan, then print a report or write files."""
    from vllm_wizard.cli.output import print_plan
    from vllm_wizard.core.planner import plan

    output_dir: Path | None = values.get("output_dir")
    if output_dir is None and (command == "generate" or values.get("emit") is not None):
        raise InvalidParameterError(
            f"{command} {'--emit ' if command == 'plan' else ''}needs --output-dir "
            "(the folder to write into).",
            field="output_dir",
        )
    request = build_request(values, values.get("profile"), values.get("ctx"))
    result = plan(request)
    if command == "plan":
        fmt = "json" if values.get("as_json") else values["output_format"].value
        print_plan(result, fmt, explain=bool(values.get("explain")))
        if output_dir is None:
            return
    from vllm_wizard.core.artifacts import parse_emit, render_files

    emit = parse_emit(values.get("emit"))
    files = render_files(result, request, emit)
    written = write_files(output_dir, files, force=bool(values.get("force")))
    if command == "generate":
        for path in written:
            print(path)
    else:
        for path in written:
            print(f"wrote {path}", file=sys.stderr)
    _next_steps(written, result.feasibility.fits)


def write_files(folder: Path, files: dict[str, str], *, force: bool) -> list[Path]:
    """Write each file atomically; refuse to replace an existing one unless `force`."""
    from vllm_wizard.core.artifacts import EXECUTABLE

    if folder.exists() and not folder.is_dir():
        raise UserInputError(
            f"--output-dir {folder} is a file, not a folder; pass a folder to write into.",
            field="output_dir",
        )
    existing = [folder / name for name in files if (folder / name).exists()]
    if existing and not force:
        names = ", ".join(str(p) for p in existing)
        raise UserInputError(
            f"{names} {'exists' if len(existing) == 1 else 'exist'}; pass --force to "
            "overwrite or choose another --output-dir.",
            field="output_dir",
        )
    try:
        return [_write_one(folder / name, text, name in EXECUTABLE) for name, text in files.items()]
    except OSError as exc:
        raise UserInputError(
            f"--output-dir {folder}: cannot write there ({exc.strerror or exc}); pass a "
            "folder you can write to.",
            field="output_dir",
        ) from None


def _write_one(target: Path, text: str, executable: bool) -> Path:
    """Write `text` to a temporary file beside `target`, then rename it into place."""
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(text)
        os.chmod(tmp, 0o755 if executable else 0o644)
        os.replace(tmp, target)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return target


def _next_steps(written: list[Path], fits: bool) -> None:
    names = {p.name: p for p in written}
    steps = []
    if not fits:
        steps.append("The plan does NOT fit as written; see `plan` warnings before deploying.")
    if "serve_command.sh" in names:
        start = names["serve_command.sh"]
        steps.append(
            f"Start vLLM on each node: NODE_RANK=0 HEAD_IP=<head address> {start} (1.. on the others)"
            if "serve_command_ray.sh" in names
            else f"Start vLLM here: {start}"
        )
    if "docker-run.sh" in names:
        steps.append(f"Or in Docker: {names['docker-run.sh']}")
    if "docker-compose.yaml" in names:
        compose = names["docker-compose.yaml"]
        if "serve_command_ray.sh" in names:  # one server over several nodes
            steps.append(
                f"Or with Compose, on the head: NODE_RANK=0 HEAD_IP=<head address> docker compose "
                f"-f {compose} --profile head up -d; on each other node: NODE_RANK=<1..> "
                f"HEAD_IP=<head address> docker compose -f {compose} --profile worker up -d"
            )
        else:
            steps.append(f"Or with Compose: docker compose -f {compose} up -d")
    k8s = sorted({p.parent for p in written if p.parent.name == "k8s"})
    if k8s:
        steps.append(f"Or on Kubernetes: kubectl apply -f {k8s[0]}")
    if "bench.sh" in names:
        steps.append(f"Then measure the workload: {names['bench.sh']}")
    if "profile.yaml" in names:
        steps.append(f"Re-plan later: vllm-wizard plan --profile {names['profile.yaml']}")
    print("Next steps:", file=sys.stderr)
    for step in steps:
        print(f"  - {step}", file=sys.stderr)


def as_generate(plan_command: Callable[..., None]) -> Callable[..., None]:
    """`generate`: plan_command's exact options, always writing files."""

    @functools.wraps(plan_command)
    def generate_command(**values: Any) -> None:
        run(values, command="generate")

    generate_command.__doc__ = (
        "Write deployment files for MODEL: serve script, profile, docker run, compose, bench;\n"
        "with --emit k8s also Kubernetes manifests in k8s/.\n\n"
        "Examples:\n\n"
        "  vllm-wizard generate --model meta-llama/Llama-3.1-8B-Instruct --gpu L4 --output-dir out\n\n"
        "  vllm-wizard generate --profile out/profile.yaml --output-dir out --force"
    )
    return generate_command


def check_command(
    source: Annotated[
        str,
        typer.Argument(
            help="A `vllm serve` command string, a .sh or compose file holding one, or - for stdin.",
            show_default=False,
        ),
    ],
    gpu: Annotated[
        str | None, typer.Option(help="GPU to plan on, to say whether it will start.")
    ] = None,
    gpus: Annotated[
        int | None, typer.Option(help="Number of GPUs [default: the TP x PP size].")
    ] = None,
    vram_gb: Annotated[float | None, typer.Option(help="Memory per GPU in GiB.")] = None,
) -> None:
    """Check an existing vLLM command against vLLM 0.33: removed flags, bad values, TP, length.

    Exits 1 when it found errors, and prints a corrected command.
    """
    from vllm_wizard.core.command_review import review_command

    text = _read_source(source)
    review = review_command(text, gpu=gpu, gpus=gpus, vram_gb=vram_gb)
    for line in review.findings:
        print(line)
    label = "corrected command:" if review.errors else "command (no changes needed):"
    print(f"{label}\n{review.corrected}")
    if review.errors:
        sys.exit(1)


def _read_source(source: str) -> str:
    if source == "-":
        return sys.stdin.read()
    path = Path(source)
    if path.suffix in (".sh", ".yaml", ".yml", ".txt") and not path.is_file():
        raise InvalidParameterError(f"{source}: no such file.", field="source")
    if path.is_file():
        text = path.read_text("utf-8")
        if path.suffix in (".yaml", ".yml"):
            return _command_from_compose(text, source)
        return text
    return source


def _command_from_compose(text: str, source: str) -> str:
    import shlex

    import yaml

    data = yaml.safe_load(text)
    services = data.get("services") if isinstance(data, dict) else None
    for service in (services or {}).values():
        command = service.get("command") if isinstance(service, dict) else None
        if isinstance(command, list):
            return "vllm serve " + shlex.join(str(c) for c in command)
        if isinstance(command, str):
            return command if "vllm" in command.split()[:2] else "vllm serve " + command
    raise InvalidParameterError(f"{source}: no service with a command found.", field="source")
