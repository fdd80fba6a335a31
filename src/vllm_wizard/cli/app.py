"""The `vllm-wizard` command line: a thin Typer layer over vllm_wizard.core."""

from __future__ import annotations

import sys
from enum import Enum
from typing import Annotated

import typer

from vllm_wizard import __version__
from vllm_wizard.cli import generate as gen
from vllm_wizard.cli.benchmark import benchmark_command
from vllm_wizard.cli.check_log import check_log
from vllm_wizard.cli.detect import detect_command
from vllm_wizard.cli.errors import EXIT_USER, report_error, wants_json
from vllm_wizard.cli.gpus import gpus_command
from vllm_wizard.cli.models import models_command
from vllm_wizard.cli.size import size_command
from vllm_wizard.cli.web import web_command
from vllm_wizard.schemas.request import DEFAULT_VLLM_VERSION, PlanRequest

app = typer.Typer(
    name="vllm-wizard",
    help="Will this model fit on this hardware, how do I launch vLLM for it, and how fast is it?",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,
)


def _help(field: str, default: str | None = None) -> str:
    text = PlanRequest.model_fields[field].description or ""
    return f"{text} [default: {default}]" if default is not None else text


class OutputFormat(str, Enum):
    text = "text"
    json = "json"
    yaml = "yaml"


def _version_callback(value: bool) -> None:
    if value:
        print(f"vllm-wizard {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    version: Annotated[
        bool,
        typer.Option(
            "--version", callback=_version_callback, is_eager=True, help="Show the version."
        ),
    ] = False,
) -> None:
    """Plan vLLM deployments: feasibility, a serve command and approximate speed."""


ModelOpt = Annotated[
    str | None, typer.Option("--model", "-m", help=_help("model"), show_default=False)
]
GpuOpt = Annotated[str | None, typer.Option("--gpu", help=_help("gpu"), show_default=False)]
GpusOpt = Annotated[
    int | None, typer.Option("--gpus", help=_help("gpus", "1, or the instance's or detected count"))
]
OptInt = int | None
OptFloat = float | None


@app.command("plan")
def plan_command(
    ctx: typer.Context,
    model: ModelOpt = None,
    gpu: GpuOpt = None,
    gpus: GpusOpt = None,
    gpus_per_node: Annotated[OptInt, typer.Option(help=_help("gpus_per_node"))] = None,
    vram_gb: Annotated[OptFloat, typer.Option(help=_help("vram_gb"))] = None,
    interconnect: Annotated[str | None, typer.Option(help=_help("interconnect"))] = None,
    tensor_parallel_size: Annotated[
        OptInt, typer.Option("--tensor-parallel-size", "-tp", help=_help("tensor_parallel_size"))
    ] = None,
    pipeline_parallel_size: Annotated[
        OptInt,
        typer.Option("--pipeline-parallel-size", "-pp", help=_help("pipeline_parallel_size")),
    ] = None,
    revision: Annotated[str | None, typer.Option(help=_help("revision"))] = None,
    trust_remote_code: Annotated[bool, typer.Option(help=_help("trust_remote_code"))] = False,
    tokenizer: Annotated[str | None, typer.Option(help=_help("tokenizer"))] = None,
    dtype: Annotated[str, typer.Option(help=_help("dtype"))] = "auto",
    quantization: Annotated[str | None, typer.Option(help=_help("quantization", "none"))] = None,
    kv_cache_dtype: Annotated[str, typer.Option(help=_help("kv_cache_dtype"))] = "auto",
    max_model_len: Annotated[OptInt, typer.Option(help=_help("max_model_len"))] = None,
    allow_long_max_model_len: Annotated[
        bool, typer.Option(help=_help("allow_long_max_model_len"))
    ] = False,
    params_b: Annotated[OptFloat, typer.Option(help=_help("params_b"))] = None,
    prompt_tokens: Annotated[int, typer.Option(help=_help("prompt_tokens"))] = 1024,
    gen_tokens: Annotated[int, typer.Option(help=_help("gen_tokens"))] = 256,
    concurrency: Annotated[int, typer.Option(help=_help("concurrency"))] = 1,
    target_latency_ms: Annotated[OptFloat, typer.Option(help=_help("target_latency_ms"))] = None,
    streaming: Annotated[bool, typer.Option(help=_help("streaming"))] = True,
    batching_mode: Annotated[str, typer.Option(help=_help("batching_mode"))] = "balanced",
    gpu_memory_utilization: Annotated[
        OptFloat,
        typer.Option(help=_help("gpu_memory_utilization")),
    ] = None,
    overhead_gb: Annotated[OptFloat, typer.Option(help=_help("overhead_gb", "estimated"))] = None,
    fragmentation_factor: Annotated[float, typer.Option(help=_help("fragmentation_factor"))] = 1.15,
    headroom_gb: Annotated[float, typer.Option(help=_help("headroom_gb"))] = 1.0,
    vllm_version: Annotated[str, typer.Option(help=_help("vllm_version"))] = DEFAULT_VLLM_VERSION,
    max_num_seqs: Annotated[
        OptInt, typer.Option(help=_help("max_num_seqs", "the concurrency"))
    ] = None,
    max_num_batched_tokens: Annotated[
        OptInt, typer.Option(help=_help("max_num_batched_tokens", "from the workload"))
    ] = None,
    block_size: Annotated[OptInt, typer.Option(help=_help("block_size", "16"))] = None,
    enforce_eager: Annotated[
        bool | None,
        typer.Option(
            "--enforce-eager/--no-enforce-eager",
            help=_help("enforce_eager", "off"),
            show_default=False,
        ),
    ] = None,
    disable_hybrid_kv_cache_manager: Annotated[
        bool, typer.Option(help=_help("disable_hybrid_kv_cache_manager"))
    ] = False,
    enable_prefix_caching: Annotated[
        bool | None,
        typer.Option(
            "--enable-prefix-caching/--disable-prefix-caching",
            help=_help("enable_prefix_caching", "on"),
            show_default=False,
        ),
    ] = None,
    use_corrections: Annotated[
        bool, typer.Option("--corrections/--no-corrections", help=_help("use_corrections"))
    ] = True,
    output_format: Annotated[
        OutputFormat, typer.Option("--format", help="Output: text, json or yaml.")
    ] = OutputFormat.text,
    as_json: Annotated[bool, typer.Option("--json", help="Shorthand for --format json.")] = False,
    explain: Annotated[bool, typer.Option(help="Show why each vLLM argument was chosen.")] = False,
    profile: gen.ProfileOpt = None,
    output_dir: gen.OutputDirOpt = None,
    emit: gen.EmitOpt = None,
    force: gen.ForceOpt = False,
) -> None:
    """Will MODEL fit on the GPUs? Memory budget, vLLM args, command and approximate speed.

    Examples:

      vllm-wizard plan --model meta-llama/Llama-3.1-8B-Instruct --gpu "A100 80GB" --max-model-len 8192 --concurrency 16

      vllm-wizard plan --model ./models/my-model --gpu H100 --gpus 2 --json
    """
    gen.run(locals(), command="plan")


app.command("generate")(gen.as_generate(plan_command))
app.command("check-command")(gen.check_command)


app.command("check-log")(check_log)
app.command("gpus")(gpus_command)
app.command("models")(models_command)
app.command("detect")(detect_command)
app.command("benchmark")(benchmark_command)
app.command("size")(size_command)
app.command("web")(web_command)


def main(argv: list[str] | None = None) -> None:
    """Console entry point: run the app, turning every failure into one line and an exit code."""
    try:
        # Without standalone mode click hands back a command's typer.Exit code.
        code = app(args=argv, standalone_mode=False)
    except typer.Exit as exc:
        sys.exit(exc.exit_code)
    except typer.Abort:
        sys.exit(130)
    except typer.exceptions.TyperException as exc:
        message = exc.format_message() if hasattr(exc, "format_message") else str(exc)
        print(f"error: {message} (see --help)", file=sys.stderr)
        sys.exit(EXIT_USER)
    except Exception as exc:
        given = sys.argv[1:] if argv is None else argv
        sys.exit(report_error(exc, as_json=wants_json(given), argv=given))
    sys.exit(code if isinstance(code, int) else 0)
