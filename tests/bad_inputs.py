"""The bad-input classes, each with a command that triggers it and the words its message needs.

`tests/cli/test_bad_input.py` runs every case; `scripts/bad_input_table.py` renders them, with
the messages the CLI really prints, into `docs/bad-input.md`.
"""

from __future__ import annotations

import json
import struct
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

CONFIGS = Path(__file__).parent / "fixtures" / "configs"
LLAMA_CONFIG = CONFIGS / "meta-llama--Meta-Llama-3.1-8B" / "config.json"
MODEL = "meta-llama/Llama-3.1-8B-Instruct"
GPU = ("--gpu", "H100 SXM")


@dataclass(frozen=True)
class BadInput:
    """One class of bad input: `argv(tmp)` builds the command, `expect` are words the message holds."""

    id: str
    kind: str
    argv: Callable[[Path], list[str]]
    expect: tuple[str, ...]
    code: int = 2


def _plan(*extra: str) -> Callable[[Path], list[str]]:
    return lambda _tmp: ["plan", "--model", MODEL, *GPU, *extra]


def _folder(tmp: Path, name: str, config_text: str | bytes | None) -> Path:
    folder = tmp / name
    folder.mkdir(parents=True, exist_ok=True)
    if isinstance(config_text, bytes):
        (folder / "config.json").write_bytes(config_text)
    elif config_text is not None:
        (folder / "config.json").write_text(config_text)
    return folder


def _llama(**edits: object) -> str:
    config = json.loads(LLAMA_CONFIG.read_text())
    for key, value in edits.items():
        if value is None:
            config.pop(key, None)
        else:
            config[key] = value
    return json.dumps(config)


def _file(tmp: Path, name: str, text: str) -> Path:
    path = tmp / name
    path.write_text(text)
    return path


def _plan_folder(
    name: str, config: Callable[[], str | bytes | None]
) -> Callable[[Path], list[str]]:
    return lambda tmp: ["plan", "--model", str(_folder(tmp, name, config())), *GPU]


def _truncated_safetensors(tmp: Path) -> list[str]:
    folder = _folder(tmp, "truncated", _llama())
    (folder / "model.safetensors").write_bytes(struct.pack("<Q", 5000) + b'{"w": {')
    return ["plan", "--model", str(folder), *GPU]


def _corrupt_safetensors(tmp: Path) -> list[str]:
    folder = _folder(tmp, "corrupt", _llama())
    header = b'{"w": {"dtype": "BF16"}}'
    (folder / "model.safetensors").write_bytes(struct.pack("<Q", len(header)) + header)
    return ["plan", "--model", str(folder), *GPU]


def _gguf(tmp: Path) -> list[str]:
    path = tmp / "model-Q4_K_M.gguf"
    path.write_bytes(b"GGUF" + bytes(64))
    return ["plan", "--model", str(path), *GPU]


def _log(text: str) -> Callable[[Path], list[str]]:
    def build(tmp: Path) -> list[str]:
        path = tmp / "vllm.log"
        path.write_text(text)
        return ["check-log", str(path), "--gpu", "H100 SXM"]

    return build


CASES: tuple[BadInput, ...] = (
    BadInput("unknown-option", "CLI flag", _plan("--bogus"), ("--bogus",)),
    BadInput("missing-option", "CLI flag", lambda _t: ["plan", *GPU], ("--model",)),
    BadInput("not-a-number", "CLI flag", _plan("--max-model-len", "abc"), ("--max-model-len",)),
    BadInput("zero-tokens", "number", _plan("--max-model-len", "0"), ("--max-model-len 0",)),
    BadInput("negative-vram", "number", _plan("--vram-gb", "-1"), ("--vram-gb -1",)),
    BadInput("absurd-gpus", "number", _plan("--gpus", "100000"), ("--gpus 100000", "4096")),
    BadInput(
        "absurd-prompt", "number", _plan("--prompt-tokens", "9999999999999"), ("--prompt-tokens",)
    ),
    BadInput("zero-concurrency", "number", _plan("--concurrency", "0"), ("--concurrency 0",)),
    BadInput(
        "utilization-above-1",
        "utilization",
        _plan("--gpu-memory-utilization", "1.5"),
        ("--gpu-memory-utilization 1.5", "less than or equal to 1"),
    ),
    BadInput(
        "utilization-zero",
        "utilization",
        _plan("--gpu-memory-utilization", "0"),
        ("--gpu-memory-utilization 0",),
    ),
    BadInput(
        "tp-not-dividing-heads",
        "layout",
        _plan("--gpus", "4", "--tensor-parallel-size", "3"),
        ("--tensor-parallel-size 3", "use one of 1, 2, 4, 8"),
    ),
    BadInput(
        "tp-above-gpus",
        "layout",
        _plan("--gpus", "2", "--tensor-parallel-size", "8"),
        ("needs 8 GPUs", "--gpus is 2"),
    ),
    BadInput(
        "max-model-len-over-limit",
        "context",
        _plan("--max-model-len", "1000000"),
        ("--max-model-len 1000000", "131072"),
    ),
    BadInput("unknown-dtype", "dtype", _plan("--dtype", "fp99"), ("--dtype 'fp99'", "bf16")),
    BadInput(
        "unknown-quantization", "dtype", _plan("--quantization", "foo"), ("--quantization 'foo'",)
    ),
    BadInput(
        "unknown-kv-dtype", "dtype", _plan("--kv-cache-dtype", "fp3"), ("--kv-cache-dtype 'fp3'",)
    ),
    BadInput(
        "quantization-needs-checkpoint",
        "dtype",
        _plan("--quantization", "awq"),
        ("--quantization awq", "not quantized", "--quantization fp8"),
    ),
    BadInput(
        "quantization-contradicts-checkpoint",
        "dtype",
        lambda _t: ["plan", "--model", "openai/gpt-oss-20b", *GPU, "--quantization", "gptq"],
        ("--quantization gptq", "mxfp4"),
    ),
    BadInput(
        "unknown-gpu",
        "GPU",
        lambda _t: ["plan", "--model", MODEL, "--gpu", "H1000"],
        ("'H1000'", "closest"),
    ),
    BadInput(
        "missing-path",
        "model",
        lambda tmp: ["plan", "--model", str(tmp / "nowhere" / "x"), *GPU],
        ("not an existing folder",),
    ),
    BadInput(
        "folder-without-config", "model", _plan_folder("empty", lambda: None), ("no config.json",)
    ),
    BadInput(
        "malformed-config-json",
        "config.json",
        _plan_folder("bad-json", lambda: '{"a": '),
        ("not valid JSON", "line 1"),
    ),
    BadInput(
        "binary-config",
        "config.json",
        _plan_folder("binary", lambda: bytes(range(128, 256))),
        ("not UTF-8",),
    ),
    BadInput(
        "config-not-object", "config.json", _plan_folder("list", lambda: "[1, 2]"), ("JSON object",)
    ),
    BadInput(
        "config-missing-field",
        "config.json",
        _plan_folder("no-layers", lambda: _llama(num_hidden_layers=None)),
        ("layer count", "num_hidden_layers", "config.json"),
    ),
    BadInput(
        "config-wrong-type",
        "config.json",
        _plan_folder("str-heads", lambda: _llama(num_attention_heads="thirty-two")),
        ("attention head count", "'thirty-two'"),
    ),
    BadInput(
        "config-negative",
        "config.json",
        _plan_folder("neg-layers", lambda: _llama(num_hidden_layers=-3)),
        ("layer count is -3",),
    ),
    BadInput("gguf-file", "model", _gguf, ("GGUF", "--params-b")),
    BadInput(
        "truncated-safetensors",
        "safetensors",
        _truncated_safetensors,
        ("truncated", "declares 5000 bytes"),
    ),
    BadInput("corrupt-safetensors", "safetensors", _corrupt_safetensors, ("data_offsets",)),
    BadInput(
        "log-without-vllm-lines",
        "check-log",
        _log("hello\nworld\n"),
        ("none of vLLM's start-up memory lines",),
    ),
    BadInput(
        "log-missing-file",
        "check-log",
        lambda tmp: ["check-log", str(tmp / "absent.log")],
        ("absent.log",),
    ),
    BadInput(
        "log-is-a-folder",
        "check-log",
        lambda tmp: ["check-log", str(tmp)],
        ("is a folder",),
    ),
    BadInput(
        "quantization-below-capability",
        "GPU",
        lambda _tmp: ["plan", "--model", MODEL, "--gpu", "V100", "--quantization", "fp8"],
        ("fp8 needs compute capability 7.5", "7.0"),
    ),
    BadInput(
        "tp-splits-quant-groups",
        "layout",
        lambda _tmp: [
            "plan",
            "--model",
            str(CONFIGS / "TheBloke--Llama-2-13B-chat-GPTQ"),
            *GPU,
            "--gpus",
            "8",
            "--tensor-parallel-size",
            "8",
        ],
        ("quantization groups", "use one of 1, 2, 4"),
    ),
    BadInput(
        "generate-without-output-dir",
        "generate",
        lambda _tmp: ["generate", "--model", MODEL, *GPU],
        ("--output-dir",),
    ),
    BadInput(
        "emit-unknown-kind",
        "generate",
        lambda tmp: [
            "generate",
            "--model",
            MODEL,
            *GPU,
            "--output-dir",
            str(tmp),
            "--emit",
            "helm",
        ],
        ("'helm'", "command,profile"),
    ),
    BadInput(
        "profile-missing",
        "profile",
        lambda tmp: ["plan", "--profile", str(tmp / "absent.yaml")],
        ("absent.yaml", "cannot read"),
    ),
    BadInput(
        "profile-unknown-key",
        "profile",
        lambda tmp: [
            "plan",
            "--profile",
            str(_file(tmp, "p.yaml", "profile_version: 1\nfoo: 1\n")),
        ],
        ("'foo' is not a profile field",),
    ),
    BadInput(
        "float16-for-gemma3",
        "dtype",
        lambda _t: ["plan", "--model", "google/gemma-3-1b-it", *GPU, "--dtype", "fp16"],
        ("refuses float16 for model type gemma3",),
    ),
    BadInput(
        "bfloat16-on-a-gpu-without-it",
        "dtype",
        lambda _t: ["plan", "--model", MODEL, "--gpu", "T4", "--dtype", "bf16"],
        ("has no bfloat16", "--dtype float16"),
    ),
    BadInput(
        "profile-malformed-yaml",
        "profile",
        lambda tmp: ["plan", "--profile", str(_file(tmp, "bad.yaml", "model: [unclosed\n"))],
        ("not valid YAML", "line 2, column 1"),
    ),
    BadInput(
        "profile-newer-version",
        "profile",
        lambda tmp: [
            "plan",
            "--profile",
            str(_file(tmp, "new.yaml", "profile_version: 99\nmodel:\n  id: x\n")),
        ],
        ("profile_version 99 is not supported",),
    ),
    BadInput(
        "output-dir-is-a-file",
        "generate",
        lambda tmp: [
            "generate",
            "--model",
            MODEL,
            *GPU,
            "--output-dir",
            str(_file(tmp, "afile", "")),
        ],
        ("is a file, not a folder",),
    ),
    BadInput(
        "output-dir-not-writable",
        "generate",
        lambda tmp: [
            "generate",
            "--model",
            MODEL,
            *GPU,
            "--output-dir",
            str(_file(tmp, "plain", "") / "sub"),
        ],
        ("cannot write there", "Not a directory"),
    ),
)
