"""How long `vllm-wizard size` takes: the search alone, and the command end to end.

The search is timed in-process (median and worst of several runs, model metadata already
loaded once); the command is timed as a user runs it, interpreter start-up included.
Target: the search for one model over the whole catalog well under one second.

    python benchmarks/size_latency.py [--runs 7] > benchmarks/results/size_latency.txt
"""

from __future__ import annotations

import argparse
import os
import platform
import shutil
import statistics
import subprocess
import sys
import time

from vllm_wizard.core.sizing import size
from vllm_wizard.schemas.size import SizeRequest

CASES: list[dict[str, object]] = [
    {"model": "meta-llama/Llama-3.3-70B-Instruct", "target_output_tps": 5000.0},
    {"model": "deepseek-ai/DeepSeek-V3", "gpus": ["H100"], "target_output_tps": 2000.0},
    {"model": "deepseek-ai/DeepSeek-V3", "target_output_tps": 2000.0},
    {"model": "meta-llama/Llama-3.1-8B-Instruct", "concurrency": 256, "max_tpot_ms": 40.0},
    {"model": "Qwen/Qwen3-30B-A3B", "target_rps": 20.0},
]


def cli_args(case: dict[str, object]) -> list[str]:
    """The same case as command-line flags (the shortlist field is the repeated --gpu)."""
    args = ["size"]
    for key, value in case.items():
        flag = "--gpu" if key == "gpus" else "--" + key.replace("_", "-")
        for item in value if isinstance(value, list) else [value]:
            args += [flag, str(item)]
    return [*args, "--json"]


def time_search(case: dict[str, object], runs: int) -> tuple[list[tuple[float, float]], str]:
    """(wall, CPU) seconds per run: CPU time is what the search costs on a quiet machine."""
    request = SizeRequest(**case)  # type: ignore[arg-type]
    size(request)  # warm: loads the catalogs and the model metadata once
    times, stats = [], ""
    for _ in range(runs):
        start, cpu = time.perf_counter(), time.process_time()
        result = size(request)
        times.append((time.perf_counter() - start, time.process_time() - cpu))
        s = result.search
        stats = f"{s.layouts} layouts, {s.budgeted} budgets, {s.kept} kept"
    return times, stats


def time_cli(exe: str, case: dict[str, object], runs: int) -> list[float]:
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        subprocess.run([exe, *cli_args(case)], check=True, capture_output=True)
        times.append(time.perf_counter() - start)
    return times


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--runs", type=int, default=7)
    opts = parser.parse_args()
    exe = shutil.which("vllm-wizard")
    if exe is None:
        sys.exit("vllm-wizard is not on PATH; install the checkout first (see README).")
    load = ", ".join(f"{x:.1f}" for x in os.getloadavg())
    print(f"# Python {platform.python_version()}, {os.cpu_count()} CPUs, load average {load}")
    print(f"# runs per case: {opts.runs}; seconds (search: median wall and CPU, worst wall)")
    print(
        f"{'case':72} {'search wall':>11} {'cpu':>6} {'max':>6} {'command med':>11} {'max':>6}"
        "  search size"
    )
    for case in CASES:
        search, stats = time_search(case, opts.runs)
        command = time_cli(exe, case, opts.runs)
        label = " ".join(cli_args(case)[1:-1])[:72]
        wall = [w for w, _ in search]
        cpu = [c for _, c in search]
        print(
            f"{label:72} {statistics.median(wall):11.3f} {statistics.median(cpu):6.3f} "
            f"{max(wall):6.3f} {statistics.median(command):11.3f} {max(command):6.3f}  {stats}"
        )


if __name__ == "__main__":
    main()
