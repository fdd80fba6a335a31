"""Opt-in check: the multi-node, replica and ROCm launch commands through vLLM's own parser.

For the issue's scenarios (DeepSeek-V3 on 2 x 8 H100, Llama-3.1-405B on 2 x 8 A100 80GB,
an 8B model on 8 x L4 as replicas, Llama-3.1-70B on 8 x MI300X) it renders the files, runs
serve_command.sh under bash with a stub `vllm` for each NODE_RANK or REPLICA, and hands the
argv the script would launch to vLLM's `make_arg_parser(...).parse_args` and
`create_engine_config()` (the model replaced by a local folder with the real config.json).

    VLLM_TARGET_DEVICE=cpu HF_HUB_OFFLINE=1 PYTHONPATH=src:. \\
        /path/to/vllm-venv/bin/python scripts/check_deploy_with_vllm.py --configs ../shared/model-configs
"""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
from pathlib import Path

from tests.core.stub_launch import run_script, serve_args

from scripts.check_with_vllm import _catalog_folder, check
from vllm_wizard.core.artifacts import render_files
from vllm_wizard.core.planner import plan
from vllm_wizard.schemas.request import PlanRequest

SCENARIOS = {
    "DeepSeek-V3 2x8 H100": PlanRequest(
        model="deepseek-ai/DeepSeek-V3", gpu="H100", gpus=16, gpus_per_node=8
    ),
    "Llama-3.1-405B 2x8 A100 80GB": PlanRequest(
        model="meta-llama/Llama-3.1-405B-Instruct", gpu="A100 80GB", gpus=16, gpus_per_node=8
    ),
    "Llama-3.1-8B 8x L4 replicas": PlanRequest(
        model="meta-llama/Llama-3.1-8B-Instruct", gpu="L4", gpus=8
    ),
    "Llama-3.1-70B 8x MI300X": PlanRequest(
        model="meta-llama/Llama-3.1-70B-Instruct", gpu="MI300X", gpus=8
    ),
}


def main() -> int:
    cli = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    cli.add_argument("--configs", type=Path, required=True)
    opts = cli.parse_args()
    failures = 0
    with tempfile.TemporaryDirectory() as tmp:
        for name, request in SCENARIOS.items():
            result = plan(request)
            files = render_files(result, request, ["command"])
            folder = _catalog_folder(request.model, opts.configs)
            assert folder is not None, request.model
            local = Path(tmp) / folder.name
            local.mkdir(exist_ok=True)
            shutil.copy(folder / "config.json", local / "config.json")
            h = result.hardware
            ranks = range(h.pipeline_parallel_size) if h.pipeline_parallel_size > 1 else [0]
            for rank in ranks:
                env = {"NODE_RANK": str(rank), "HEAD_IP": "10.0.0.1", "REPLICA": "0"}
                argv = serve_args(run_script(files["serve_command.sh"], Path(tmp), **env))
                args = ["--model", str(local), *argv[1:]]
                verdict = check(args)
                failures += not verdict.startswith("ok")
                print(f"{name} node {rank}: vllm serve {' '.join(argv)}\n  -> {verdict}")
    print(f"{failures} failed")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
