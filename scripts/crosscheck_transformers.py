"""Cross-check params_total against transformers, which builds each model on the meta device.

Not part of the product or of `pytest`: it needs torch and transformers, installed in a
separate environment (`pip install torch transformers`). Models whose config class is
custom code, or whose architecture transformers does not ship, are listed as skipped (the
golden tests compare those with their safetensors index instead). Run from the repository
root with the wizard importable (e.g. PYTHONPATH=src), and commit what it prints:

    python scripts/crosscheck_transformers.py > benchmarks/crosscheck_transformers.txt
"""

from __future__ import annotations

import json
import sys
import warnings
from pathlib import Path

import torch
import transformers

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "src"))

from vllm_wizard.core.model_source import load_model_metadata

CONFIGS = Path(__file__).resolve().parent.parent / "tests" / "fixtures" / "configs"
TOLERANCE = 0.01


def transformers_count(folder: Path) -> tuple[int | None, str]:
    """Unique parameters of the model transformers builds from config.json, or why not."""
    raw = json.loads((folder / "config.json").read_text("utf-8"))
    arch = (raw.get("architectures") or ["?"])[0]
    cls = getattr(transformers, arch, None)
    try:
        config = transformers.AutoConfig.from_pretrained(str(folder), trust_remote_code=False)
    except Exception as exc:
        return None, f"no built-in config class ({type(exc).__name__})"
    if cls is None and arch.endswith("ForCausalLM"):
        cls = transformers.AutoModelForCausalLM  # renamed classes: MPTForCausalLM, RW...
    if cls is None:
        return None, f"transformers {transformers.__version__} has no {arch}"
    try:
        if hasattr(config, "quantization_config"):
            del config.quantization_config
        with torch.device("meta"), warnings.catch_warnings():
            warnings.simplefilter("ignore")
            model = (
                cls.from_config(config)
                if cls is transformers.AutoModelForCausalLM
                else cls._from_config(config)
            )
    except Exception as exc:
        return None, f"{type(exc).__name__}: {str(exc).splitlines()[0][:90]}"
    return sum(p.numel() for p in model.parameters()), arch


def main() -> None:
    print(f"transformers {transformers.__version__}, torch {torch.__version__}")
    print(f"{'model':48} {'wizard':>16} {'transformers':>16} {'diff %':>8}  verdict")
    for folder in sorted(p for p in CONFIGS.iterdir() if p.is_dir()):
        ours = load_model_metadata(str(folder)).params_total
        theirs, why = transformers_count(folder)
        if theirs is None:
            print(f"{folder.name:48} {ours:>16,} {'-':>16} {'-':>8}  skipped: {why}")
            continue
        diff = (ours - theirs) / theirs * 100
        verdict = "ok" if abs(diff) <= TOLERANCE * 100 else "MISMATCH"
        print(f"{folder.name:48} {ours:>16,} {theirs:>16,} {diff:>8.3f}  {verdict}")
        sys.stdout.flush()


if __name__ == "__main__":
    main()
