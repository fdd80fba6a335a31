"""Rewrite tests/golden/<model>.json from the fixture configs in tests/fixtures/configs.

Run from the repository root after a deliberate change to parsing or KV math, then review
the diff: every changed number needs a reason.

    python scripts/regen_golden.py
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from tests.conftest import CONFIGS
from tests.golden_facts import GOLDEN, golden_facts, golden_path


def main() -> None:
    GOLDEN.mkdir(exist_ok=True)
    folders = sorted(p for p in CONFIGS.iterdir() if p.is_dir())
    for folder in folders:
        text = json.dumps(golden_facts(folder), indent=1, sort_keys=True) + "\n"
        golden_path(folder).write_text(text, "utf-8")
    print(f"wrote {len(folders)} golden files to {GOLDEN}")


if __name__ == "__main__":
    main()
