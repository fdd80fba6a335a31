"""How long `vllm-wizard plan` takes, end to end, as a user runs it.

Runs the installed console script a few times per case and prints the median and worst
wall time, plus whether heavy modules (huggingface_hub, fastapi) were imported on the
plan path. Target: well under 0.5 s on a catalog model.

    python benchmarks/plan_latency.py [--runs 7]
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import subprocess
import sys
import time

CASES = [
    [
        "--model",
        "meta-llama/Llama-3.1-8B-Instruct",
        "--gpu",
        "A100 80GB",
        "--max-model-len",
        "8192",
        "--concurrency",
        "16",
        "--json",
    ],
    ["--model", "meta-llama/Llama-3.3-70B-Instruct", "--gpu", "H100", "--gpus", "8", "--json"],
    ["--model", "Qwen/Qwen3-30B-A3B", "--gpu", "L40S", "--gpus", "2"],
]

HEAVY_CHECK = (
    "import sys; from vllm_wizard.cli.app import main\n"
    "try:\n    main(['plan', '--model', 'meta-llama/Llama-3.1-8B-Instruct', '--gpu', 'H100', '--json'])\n"
    "except SystemExit:\n    pass\n"
    "heavy = [m for m in ('huggingface_hub', 'fastapi', 'uvicorn', 'torch') if m in sys.modules]\n"
    "print('heavy modules imported:', heavy or 'none', file=sys.stderr)\n"
)


def time_case(exe: str, args: list[str], runs: int) -> list[float]:
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        subprocess.run([exe, "plan", *args], check=True, capture_output=True)
        times.append(time.perf_counter() - start)
    return times


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=7)
    opts = parser.parse_args()
    exe = shutil.which("vllm-wizard")
    if exe is None:
        sys.exit("vllm-wizard is not on PATH; install the checkout first (see README).")
    print(f"{'case':70} {'median s':>9} {'max s':>7}")
    for args in CASES:
        times = time_case(exe, args, opts.runs)
        label = " ".join(args)[:70]
        print(f"{label:70} {statistics.median(times):9.3f} {max(times):7.3f}")
    subprocess.run([sys.executable, "-c", HEAVY_CHECK], check=False, stdout=subprocess.DEVNULL)


if __name__ == "__main__":
    main()
