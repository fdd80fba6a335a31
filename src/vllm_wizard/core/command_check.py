"""Read a `vllm serve` command against the target release's argument table.

Used twice: tests parse every generated command and file with it, and `check-command`
reads commands users already have. Parsing follows vLLM's parser where it matters:
`_` and `-` are interchangeable in long flags, `--flag=value` works, `--no-X` and
`--disable-X` are the negative forms, and `--json-flag.key=value` sets one key.
"""

from __future__ import annotations

import json
import shlex
from dataclasses import dataclass, field
from functools import cache
from importlib import resources
from typing import Any

from vllm_wizard.core.vllm_flags import FLAGS_FILE

# Flags vLLM removed, with what to do instead (VLLM-NOTES section 5.5).
REMOVED_FLAGS: dict[str, str] = {
    "--swap-space": "removed with the V0 engine; drop it (CPU KV offload is --kv-offloading-size)",
    "--num-scheduler-steps": "multi-step scheduling was removed; drop it",
    "--max-num-partial-prefills": "not in this release; drop it",
    "--max-long-partial-prefills": "not in this release; drop it",
    "--use-v2-block-manager": "the V1 engine is the only one; drop it",
    "--worker-use-ray": "use --distributed-executor-backend ray",
    "--rope-scaling": "set it through --hf-overrides '{\"rope_scaling\": {...}}'",
    "--rope-theta": "set it through --hf-overrides '{\"rope_theta\": ...}'",
    "--guided-decoding-backend": "use --structured-outputs-config.backend",
    "--device": "the platform is detected; drop it",
    "--enable-reasoning": "--reasoning-parser alone turns reasoning on; drop it",
    "--speculative-model": "use --speculative-config '{\"model\": ...}'",
    "--num-speculative-tokens": "use --speculative-config '{\"num_speculative_tokens\": ...}'",
    "--max-seq-len-to-capture": "CUDA-graph sizes are set with --compilation-config; drop it",
    "--preemption-mode": "the V1 engine always recomputes; drop it",
    "--scheduler-delay-factor": "not in the V1 scheduler; drop it",
    "--task": "not a serve option; use --runner pooling and --convert embed|classify|reward",
}
# Older values and what the target release calls them.
RENAMED_VALUES: dict[tuple[str, str], str] = {
    ("kv_cache_dtype", "fp8_e4m3fn"): "fp8_e4m3",
}
# Quantization methods vLLM removed (VLLM-NOTES section 5.5).
REMOVED_QUANTIZATION = {"bitsandbytes", "gguf"}
IMAGE_NAMES = ("vllm/vllm-openai", "vllm/vllm-openai-rocm")
LAUNCHERS = (
    ("vllm", "serve"),
    ("python", "-m", "vllm.entrypoints.openai.api_server"),
    ("python3", "-m", "vllm.entrypoints.openai.api_server"),
)


@dataclass(frozen=True)
class FlagSpec:
    """One spelling of a flag: the dest it sets, and how it takes values."""

    dest: str
    nargs: str | int | None
    choices: tuple[str, ...] | None
    switch_value: bool | None  # True/False for switches, None when the flag takes a value
    value_type: str | None = None  # the parser's type name: int, float, loads, ...


@dataclass
class ParsedCommand:
    """A command read against the table: model, args by dest, and what was wrong."""

    model: str | None
    args: dict[str, Any] = field(default_factory=dict)
    errors: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    corrected_tokens: list[str] = field(default_factory=list)


@cache
def flag_index() -> dict[str, FlagSpec]:
    """Every spelling of every `vllm serve` flag (long, short, negative) to its spec."""
    text = resources.files("vllm_wizard.core.data").joinpath(FLAGS_FILE).read_text("utf-8")
    index: dict[str, FlagSpec] = {}
    for entry in json.loads(text)["arguments"]:
        flags = entry.get("flags") or []
        if "dest" not in entry or entry["dest"] == "help":
            continue
        choices = entry.get("choices")
        clean = tuple(str(c) for c in choices if c is not None) if choices else None
        for name in flags:
            negative = name.startswith(("--no-", "--disable-"))
            switch = None if entry.get("nargs") != 0 else not negative
            if entry.get("nargs") == 0 and entry.get("action") == "_StoreFalseAction":
                switch = False
            index[name] = FlagSpec(
                entry["dest"], entry.get("nargs"), clean, switch, entry.get("type")
            )
    return index


def _lookup(name: str) -> tuple[str, FlagSpec] | None:
    index = flag_index()
    if name in index:
        return name, index[name]
    if name.startswith("--"):
        dashed = "--" + name[2:].replace("_", "-")
        if dashed in index:
            return dashed, index[dashed]
        if dashed.startswith("--no-"):
            positive = "--" + dashed[5:]
            if positive in index and index[positive].switch_value is not None:
                spec = index[positive]
                return dashed, FlagSpec(spec.dest, 0, None, False)
    return None


def serve_tokens(command: str) -> list[str]:
    """The tokens after `vllm serve` (or the API-server module) in a shell command.

    Line continuations and leading `VAR=value` assignments are allowed; anything before
    the launcher is skipped, and the command ends at the end of its line or at a shell
    operator (`&&`, `;`, `|`, ...). In `docker run ... vllm/vllm-openai:TAG ARGS` the
    image's entrypoint is `vllm serve`, so ARGS follow the image.
    """
    lines = [_words(line) for line in command.replace("\\\n", " ").splitlines()]
    for words in lines:
        for launcher in LAUNCHERS:
            n = len(launcher)
            for i in range(len(words) - n + 1):
                if tuple(words[i : i + n]) == launcher:
                    return _until_operator(words[i + n :])
    for words in lines:
        for i, token in enumerate(words):
            if token.split(":", 1)[0] in IMAGE_NAMES:
                return _until_operator(words[i + 1 :])
    return _until_operator([w for words in lines for w in words])


def _words(line: str) -> list[str]:
    """Shell words of one line, comments dropped, operators as their own words."""
    lexer = shlex.shlex(line, posix=True, punctuation_chars=True)
    lexer.whitespace_split = True
    try:
        return list(lexer)
    except ValueError:  # an unbalanced quote: read the line as plain words
        return line.split("#", 1)[0].split()


def _until_operator(words: list[str]) -> list[str]:
    for i, word in enumerate(words):
        if word and set(word) <= set("();<>|&"):
            return words[:i]
    return words


def parse_serve_args(tokens: list[str]) -> ParsedCommand:
    """Read flags and values; collect unknown flags, bad choices and renamed values."""
    result = ParsedCommand(model=None)
    i = 0
    while i < len(tokens):
        token = tokens[i]
        i += 1
        if not token.startswith("-") or token == "-":
            if result.model is None:
                result.model = token
                result.corrected_tokens.append(token)
            else:
                result.errors.append(f"unexpected argument '{token}'")
            continue
        name, _, inline = token.partition("=")
        base = name.split(".", 1)[0]
        found = _lookup(base)
        if found is None:
            removed = REMOVED_FLAGS.get("--" + base[2:].replace("_", "-"))
            values, i = _take_values(tokens, i, inline, "+" if not inline else None)
            if removed:
                result.errors.append(f"{base} was removed: {removed}")
            else:
                result.errors.append(f"{base} is not a `vllm serve` flag in this release")
            continue
        canonical, spec = found
        if "." in name:  # a dotted key of a JSON-valued flag
            values, i = _take_values(tokens, i, inline, None)
            result.args.setdefault(spec.dest, {})
            result.corrected_tokens += [canonical + name[len(base) :], *values]
            continue
        if spec.switch_value is not None:
            if spec.dest == "model" or inline:
                result.errors.append(f"{base} takes no value")
            result.args[spec.dest] = spec.switch_value
            result.corrected_tokens.append(canonical)
            continue
        values, i = _take_values(tokens, i, inline, spec.nargs)
        if not values and spec.nargs not in ("?", "*"):
            result.errors.append(f"{base} needs a value")
            continue
        checked = [_check_value(spec, canonical, v, result) for v in values]
        if None in checked:  # a bad choice: the corrected command leaves the flag out
            continue
        values = [v for v in checked if v is not None]
        value: Any = values if spec.nargs in ("+", "*") else (values[0] if values else None)
        if spec.dest == "model":
            result.model = str(value)
        else:
            result.args[spec.dest] = value
        result.corrected_tokens += [canonical, *values]
    return result


def _take_values(
    tokens: list[str], i: int, inline: str, nargs: str | int | None
) -> tuple[list[str], int]:
    if inline:
        return [inline], i
    values: list[str] = []
    limit = 1 if nargs in (None, "?") else len(tokens)
    while i < len(tokens) and len(values) < limit and not _is_flag(tokens[i]):
        values.append(tokens[i])
        i += 1
    return values, i


def _is_flag(token: str) -> bool:
    return token.startswith("-") and not _is_number(token)


def _is_number(token: str) -> bool:
    try:
        float(token)
    except ValueError:
        return False
    return True


def _check_value(spec: FlagSpec, flag: str, value: str, result: ParsedCommand) -> str | None:
    """The value as the target release spells it, or None when it is not a valid choice."""
    renamed = RENAMED_VALUES.get((spec.dest, value))
    if renamed:
        result.notes.append(f"{flag} {value} is spelled {renamed} in this release")
        return renamed
    if not _type_ok(spec.value_type, value):
        result.errors.append(f"{flag} {value!r} is not a valid {spec.value_type} value")
        return None
    if spec.choices and value not in spec.choices:
        guess = _closest_choice(value, spec.choices)
        hint = f"; the corrected command uses {guess}" if guess else ""
        result.errors.append(f"{flag} {value!r} is not one of {', '.join(spec.choices)}{hint}")
        return guess
    return value


def _type_ok(value_type: str | None, value: str) -> bool:
    """Whether the parser's type function would accept `value` (int, float and JSON)."""
    try:
        if value_type == "int":
            int(value)
        elif value_type == "float":
            float(value)
        elif value_type in ("loads", "parse_dataclass"):
            json.loads(value)
    except ValueError:
        return False
    return True


def _closest_choice(value: str, choices: tuple[str, ...]) -> str | None:
    """The choice a mistyped value most likely meant (bf16 -> bfloat16), or None."""
    import difflib

    short = {"bf16": "bfloat16", "fp16": "float16", "fp32": "float32"}.get(value.lower())
    if short in choices:
        return short
    found = difflib.get_close_matches(value, choices, n=1, cutoff=0.75)
    return found[0] if found else None


def check_values_against_lists(
    parsed: ParsedCommand, quantization_methods: frozenset[str], kv_cache_dtypes: frozenset[str]
) -> None:
    """vLLM checks these two after parsing, against its registries; do the same."""
    quant = parsed.args.get("quantization")
    if isinstance(quant, str) and quant not in quantization_methods:
        why = " (removed)" if quant in REMOVED_QUANTIZATION else ""
        parsed.errors.append(f"--quantization {quant!r} is not a vLLM method{why}")
        _drop_flag(parsed, "quantization", ("--quantization", "-q"))
    kv = parsed.args.get("kv_cache_dtype")
    if isinstance(kv, str) and kv not in kv_cache_dtypes:
        parsed.errors.append(
            f"--kv-cache-dtype {kv!r} is not one of {', '.join(sorted(kv_cache_dtypes))}"
        )
        _drop_flag(parsed, "kv_cache_dtype", ("--kv-cache-dtype",))


def _drop_flag(parsed: ParsedCommand, dest: str, spellings: tuple[str, ...]) -> None:
    """Remove a flag and its one value from the args and the corrected command."""
    parsed.args.pop(dest, None)
    tokens = parsed.corrected_tokens
    for i, token in enumerate(tokens):
        if token in spellings:
            del tokens[i : i + 2]
            return
