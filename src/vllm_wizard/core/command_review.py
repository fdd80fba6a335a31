"""`check-command`: read an existing `vllm serve` command and say whether it will start.

Flags are read against the shipped argument table (command_check); then the model's
shape checks the TP size and max_model_len, and, when a GPU is named, the planner says
whether vLLM would start with those settings.
"""

from __future__ import annotations

import shlex
from dataclasses import dataclass, field
from typing import Any

from vllm_wizard.core.command_check import (
    check_values_against_lists,
    parse_serve_args,
    serve_tokens,
)
from vllm_wizard.core.vllm_flags import load_flag_table
from vllm_wizard.errors import UserInputError, WizardError

# Serve args that map one-to-one onto PlanRequest fields.
_REQUEST_FIELDS = (
    "tensor_parallel_size",
    "pipeline_parallel_size",
    "max_model_len",
    "dtype",
    "quantization",
    "kv_cache_dtype",
    "gpu_memory_utilization",
    "max_num_seqs",
    "max_num_batched_tokens",
    "block_size",
    "enforce_eager",
    "trust_remote_code",
    "revision",
    "tokenizer",
)
_INT_FIELDS = {
    "tensor_parallel_size",
    "pipeline_parallel_size",
    "max_num_seqs",
    "max_num_batched_tokens",
    "block_size",
}


@dataclass
class CommandReview:
    """What check-command found: one line per finding, and a corrected command."""

    findings: list[str] = field(default_factory=list)
    errors: int = 0
    corrected: str = ""


def review_command(
    text: str, *, gpu: str | None = None, gpus: int | None = None, vram_gb: float | None = None
) -> CommandReview:
    """Check flags, values, TP and context length of `text`; plan it when a GPU is given."""
    table = load_flag_table()
    parsed = parse_serve_args(serve_tokens(text))
    check_values_against_lists(parsed, table.quantization_methods, table.kv_cache_dtypes)
    review = CommandReview()
    for error in parsed.errors:
        review.findings.append(f"error: {error}")
    for note in parsed.notes:
        review.findings.append(f"note: {note}")
    review.errors = len(parsed.errors)
    corrected = ["vllm", "serve", *parsed.corrected_tokens]
    if parsed.model is None:
        review.findings.append("error: no model given (vllm serve MODEL ...)")
        review.errors += 1
        review.corrected = shlex.join(corrected)
        return review

    fields = _request_fields(parsed.args)
    allow_long = "VLLM_ALLOW_LONG_MAX_MODEL_LEN=1" in text.replace('"', "").replace("'", "")
    fixes = _check_model(parsed.model, fields, review, allow_long)
    for flag, value in fixes.items():
        corrected = _with_flag_value(corrected, flag, value)
        fields[flag.removeprefix("--").replace("-", "_")] = value
    if fixes:
        changed = ", ".join(f"{flag} {value}" for flag, value in fixes.items())
        review.findings.append(f"note: the corrected command (and any plan below) uses {changed}")
    if gpu is not None or vram_gb is not None:
        dp = _human_int(str(parsed.args.get("data_parallel_size") or 1)) or 1
        _check_plan(parsed.model, fields, gpu, gpus, vram_gb, review, dp)
    else:
        review.findings.append("note: memory not checked; pass --gpu to say whether it starts")
    review.corrected = shlex.join(corrected)
    if review.errors == 0:
        review.findings.append(f"ok: no errors against vLLM {table.version}'s argument table")
    return review


def _request_fields(args: dict[str, Any]) -> dict[str, Any]:
    fields: dict[str, Any] = {}
    for name in _REQUEST_FIELDS:
        value = args.get(name)
        if value is None:
            continue
        if name in _INT_FIELDS or name == "max_model_len":
            value = _human_int(str(value))
            if value is None:
                continue
        elif name == "gpu_memory_utilization":
            try:
                value = float(value)
            except ValueError:
                continue
        fields[name] = value
    return fields


def _human_int(text: str) -> int | None:
    """vLLM's human-readable ints: 1k = 1000, 1K = 1024; 'auto' and -1 mean fit to memory."""
    units = {"k": 10**3, "m": 10**6, "g": 10**9, "K": 2**10, "M": 2**20, "G": 2**30}
    if text in ("auto", "-1"):
        return None
    try:
        if text[-1] in units:
            return int(float(text[:-1]) * units[text[-1]])
        return int(text)
    except (ValueError, IndexError):
        return None


def _with_flag_value(tokens: list[str], flag: str, value: int | str) -> list[str]:
    """`tokens` with `flag`'s value replaced (both `--flag V` and `--flag=V` forms)."""
    out = list(tokens)
    for i, token in enumerate(out):
        if token == flag and i + 1 < len(out):
            out[i + 1] = str(value)
        elif token.startswith(flag + "="):
            out[i] = f"{flag}={value}"
    return out


def _check_model(
    model: str, fields: dict[str, Any], review: CommandReview, allow_long: bool
) -> dict[str, int | str]:
    """Findings on dtype, TP and context; returns the flag values the corrected command uses."""
    from vllm_wizard.core.model_source import load_model_metadata
    from vllm_wizard.core.recommend import NO_FLOAT16_MODEL_TYPES, check_tp, valid_tp_sizes

    fixes: dict[str, int | str] = {}
    try:
        meta = load_model_metadata(model)
    except WizardError as exc:
        review.findings.append(f"note: model not checked ({exc.message})")
        return fixes
    if (
        fields.get("dtype") in ("float16", "half", "fp16")
        and meta.model_type in NO_FLOAT16_MODEL_TYPES
    ):
        review.findings.append(
            f"error: --dtype float16: vLLM refuses float16 for model type {meta.model_type} "
            "(numerical instability); use bfloat16, or float32 on GPUs without bfloat16"
        )
        review.errors += 1
        fixes["--dtype"] = "bfloat16"
    tp = fields.get("tensor_parallel_size")
    if tp is not None:
        try:
            check_tp(meta, tp)
        except UserInputError as exc:
            review.findings.append(f"error: {exc.message}")
            review.errors += 1
            sizes = valid_tp_sizes(meta, max(tp, 1))
            fixes["--tensor-parallel-size"] = max(sizes) if sizes else 1
    limit = meta.max_position_embeddings
    length = fields.get("max_model_len")
    if length is not None and limit is not None and length > limit and allow_long:
        review.findings.append(
            f"note: --max-model-len {length} exceeds {model}'s limit of {limit} tokens; "
            "allowed by VLLM_ALLOW_LONG_MAX_MODEL_LEN=1 (quality past the limit is not assured)"
        )
        fields["allow_long_max_model_len"] = True
    elif length is not None and limit is not None and length > limit:
        review.findings.append(
            f"error: --max-model-len {length} exceeds {model}'s limit of {limit} tokens; "
            "vLLM refuses it unless VLLM_ALLOW_LONG_MAX_MODEL_LEN=1"
        )
        review.errors += 1
        fixes["--max-model-len"] = limit
    return fixes


def _check_plan(
    model: str,
    fields: dict[str, Any],
    gpu: str | None,
    gpus: int | None,
    vram_gb: float | None,
    review: CommandReview,
    data_parallel: int = 1,
) -> None:
    """Plan the command on its GPUs: TP x PP x DP of them unless --gpus says otherwise (an MoE
    model's DP ranks spread its experts, as `plan` lays them out)."""
    from pydantic import ValidationError

    from vllm_wizard.core.planner import plan
    from vllm_wizard.schemas.request import PlanRequest

    layout = fields.get("tensor_parallel_size", 1) * fields.get("pipeline_parallel_size", 1)
    layout *= max(1, data_parallel)
    try:
        result = plan(
            PlanRequest(model=model, gpu=gpu, gpus=gpus or layout, vram_gb=vram_gb, **fields)
        )
    except (WizardError, ValidationError) as exc:
        review.findings.append(f"note: could not plan it ({exc})")
        return
    f = result.feasibility
    where = f"{result.hardware.gpus}x {result.hardware.gpu_name}"
    if f.will_start:
        review.findings.append(
            f"ok: vLLM should start on {where}: KV cache about {f.kv_cache_capacity_tokens} "
            f"tokens, {f.vllm_max_concurrency}x requests at full length"
            + (f" (each of {data_parallel} DP ranks)" if data_parallel > 1 else "")
        )
    else:
        review.findings.append(f"error: vLLM would not start on {where}: {f.warnings[0]}")
        review.errors += 1
