"""Opt-in check: run generated commands through vLLM's own parser and engine config.

Needs vLLM installed (several GB; not part of CI). On a machine without a GPU:

    python -m venv /tmp/vllmenv && /tmp/vllmenv/bin/pip install vllm==0.33.0
    VLLM_TARGET_DEVICE=cpu HF_HUB_OFFLINE=1 PYTHONPATH=src \
        /tmp/vllmenv/bin/python scripts/check_with_vllm.py --configs ../shared/model-configs

For each example profile and each catalog model, it plans, renders the serve flags,
points the model at a local folder holding the real config.json (no network), then calls
vLLM's `make_arg_parser(...).parse_args` and `AsyncEngineArgs.create_engine_config()`.
Prints one line per command and exits 1 if any failed.
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import tempfile
from pathlib import Path
from typing import Any

from vllm_wizard.core.planner import plan
from vllm_wizard.core.profile import load_profile
from vllm_wizard.core.render import serve_flag_tokens
from vllm_wizard.schemas.request import PlanRequest

ROOT = Path(__file__).resolve().parent.parent
SIDECARS = ("config.json", "quantize_config.json", "hf_quant_config.json")


def scenarios(configs: Path) -> list[tuple[str, PlanRequest, Path | None]]:
    """(name, request, folder with the real config) for examples and catalog models."""
    out: list[tuple[str, PlanRequest, Path | None]] = []
    for profile in sorted((ROOT / "examples" / "profiles").glob("*.yaml")):
        request = load_profile(profile.read_text("utf-8"), str(profile))
        folder = Path(request.model) if Path(request.model).is_dir() else None
        if folder is None:
            folder = _catalog_folder(request.model, configs)
        out.append((f"example {profile.stem}", request, folder))
    catalog = json.loads((ROOT / "src/vllm_wizard/core/data/models.json").read_text("utf-8"))
    for entry in catalog["models"]:
        meta = entry["metadata"]
        request = PlanRequest(
            model=entry["id"],
            gpu="H200",
            gpus=8,
            concurrency=8,
            trust_remote_code=bool(meta["requires_remote_code"]),
        )
        out.append((f"catalog {entry['id']}", request, configs / entry["from"]))
    return out


def _catalog_folder(model: str, configs: Path) -> Path | None:
    catalog = json.loads((ROOT / "src/vllm_wizard/core/data/models.json").read_text("utf-8"))
    for entry in catalog["models"]:
        if model == entry["id"] or model in entry["aliases"]:
            return configs / entry["from"]
    return None


def _current_revision_spelling(config_path: Path) -> str | None:
    """Old Phi-3 revisions spell longrope 'su'; the Hub's current revision says 'longrope'.

    The catalog answers for the current revision, so the check uses its spelling.
    """
    config = json.loads(config_path.read_text("utf-8"))
    rope = config.get("rope_scaling")
    if not isinstance(rope, dict) or rope.get("type") != "su":
        return None
    rope["type"] = "longrope"
    config_path.write_text(json.dumps(config), "utf-8")
    return "rope_scaling 'su' checked as the current revision's 'longrope'"


def _first_attr(name: str, *modules: str) -> Any:
    """`name` from the first of `modules` that has it (vLLM moves helpers between releases)."""
    import importlib

    for module in modules:
        try:
            return getattr(importlib.import_module(module), name)
        except (ImportError, AttributeError):
            continue
    raise ImportError(f"{name} not found in {', '.join(modules)}")


def check(args: list[str]) -> str:
    """Parse and build vLLM's engine config; return 'ok ...' or the error."""
    from vllm.engine.arg_utils import AsyncEngineArgs

    make_arg_parser = _first_attr(
        "make_arg_parser", "vllm.entrypoints.common.cli_args", "vllm.entrypoints.openai.cli_args"
    )
    parser_class = _first_attr("FlexibleArgumentParser", "vllm.utils.argparse_utils", "vllm.utils")
    parser = make_arg_parser(parser_class())
    try:
        ns = parser.parse_args(args)
    except SystemExit:
        return "PARSER REJECTED"
    try:
        config = AsyncEngineArgs.from_cli_args(ns).create_engine_config()
    except Exception as exc:
        return f"ENGINE CONFIG FAILED: {type(exc).__name__}: {str(exc).splitlines()[0][:200]}"
    return (
        f"ok (max_model_len {config.model_config.max_model_len}, "
        f"tp {config.parallel_config.tensor_parallel_size}, "
        f"max_num_seqs {config.scheduler_config.max_num_seqs})"
    )


def main() -> int:
    cli = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    cli.add_argument(
        "--configs", type=Path, required=True, help="folder of <org>__<name>/config.json"
    )
    opts = cli.parse_args()
    try:
        import vllm
    except ImportError:
        print("vLLM is not installed here; see this script's docstring.", file=sys.stderr)
        return 2
    print(f"vLLM {vllm.__version__}")
    failures = 0
    with tempfile.TemporaryDirectory() as tmp:
        for name, request, folder in scenarios(opts.configs):
            result = plan(request)
            vllm_args: dict[str, Any] = dict(result.vllm_args)
            if folder is None or not (folder / "config.json").is_file():
                print(f"SKIP {name}: no local config")
                continue
            local = Path(tmp) / folder.name
            local.mkdir(exist_ok=True)
            for sidecar in SIDECARS:
                if (folder / sidecar).is_file():
                    shutil.copy(folder / sidecar, local / sidecar)
            note = _current_revision_spelling(local / "config.json")
            args = ["--model", str(local), *serve_flag_tokens(vllm_args)]
            verdict = check(args)
            if "does not appear to have a file named configuration_" in verdict:
                verdict = "SKIP: needs the model's custom config code from the Hub (offline here)"
            elif note:
                verdict += f" [{note}]"
            failures += not verdict.startswith(("ok", "SKIP"))
            print(f"{name}: {result.artifacts.serve_command}\n  -> {verdict}", flush=True)
    print(f"{failures} failed")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
