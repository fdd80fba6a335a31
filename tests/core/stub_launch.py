"""Run generated scripts with stub launchers that record the argv they would exec."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

STUB = """#!/bin/sh
printf '%s\\0' "$(basename "$0")" "$@" > "$ARGV_FILE"
"""


def run_script(text: str, tmp_path: Path, **env: str) -> list[str]:
    """Run a generated script with stub launchers; the argv the launcher received."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir(exist_ok=True)
    for name in ("vllm", "docker", "ray"):
        (bin_dir / name).write_text(STUB)
    # the Ray script asks python3 how many Ray nodes are alive
    (bin_dir / "python3").write_text("#!/bin/sh\necho 99\n")
    for stub in bin_dir.iterdir():
        stub.chmod(0o755)
    script = tmp_path / "script.sh"
    script.write_text(text)
    argv_file = tmp_path / "argv"
    argv_file.unlink(missing_ok=True)
    path = f"{bin_dir}:{os.environ['PATH']}"
    done = subprocess.run(
        ["bash", str(script)],
        env={"PATH": path, "HOME": str(tmp_path), "ARGV_FILE": str(argv_file), **env},
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    return argv_file.read_text().rstrip("\0").split("\0")


def serve_args(argv: list[str]) -> list[str]:
    """Arguments vLLM's `serve` parser gets: after `vllm serve`, or after the docker image."""
    if argv[:2] == ["vllm", "serve"]:
        return argv[2:]
    assert argv[0] == "docker", argv
    image = next(i for i, a in enumerate(argv) if a.startswith("vllm/vllm-openai"))
    return argv[image + 1 :]
