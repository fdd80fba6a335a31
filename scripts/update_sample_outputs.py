"""Regenerate examples/sample_outputs/ from examples/profiles/ (run from the repo root).

Run after a deliberate change to the planner; review the diff before committing.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

from vllm_wizard.core.planner import plan
from vllm_wizard.core.profile import load_profile

ROOT = Path(__file__).resolve().parent.parent


def main() -> int:
    out = ROOT / "examples" / "sample_outputs"
    out.mkdir(exist_ok=True)
    for profile in sorted((ROOT / "examples" / "profiles").glob("*.yaml")):
        result = plan(load_profile(profile.read_text("utf-8"), str(profile)))
        target = out / f"{profile.stem}.json"
        target.write_text(json.dumps(result.model_dump(mode="json"), indent=2) + "\n", "utf-8")
        print(target)
    return 0


if __name__ == "__main__":
    sys.exit(main())
