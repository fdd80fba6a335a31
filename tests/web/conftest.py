"""Web fixtures: a TestClient, a live server in a thread, and Debian's Chromium via Playwright."""

from __future__ import annotations

import os
import shutil
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("fastapi")

from fastapi.testclient import TestClient

from vllm_wizard.errors import GpuNotDetectedError
from vllm_wizard.schemas.gpu import GpuInventory
from vllm_wizard.web.app import create_app

CHROMIUM = Path(os.environ.get("VW_CHROMIUM", "/usr/bin/chromium"))
CHROMIUM_ARGS = ["--no-sandbox", "--disable-background-networking"]
CONFIGS = Path(__file__).parents[1] / "fixtures" / "configs"


def no_gpu() -> GpuInventory:
    """A detector for a machine without GPUs."""
    raise GpuNotDetectedError("No GPU detected (test machine); pass a GPU name instead.")


@pytest.fixture
def models_dir(tmp_path: Path) -> Path:
    """A --models-dir holding one real config (Qwen2.5-7B) as `qwen7b`."""
    root = tmp_path / "models"
    shutil.copytree(CONFIGS / "Qwen--Qwen2.5-7B", root / "qwen7b")
    return root


@pytest.fixture
def client(models_dir: Path) -> TestClient:
    return TestClient(create_app(models_dir=models_dir, detector=no_gpu))


@pytest.fixture(scope="session")
def live_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The app served by uvicorn on a free loopback port, for the browser."""
    uvicorn = pytest.importorskip("uvicorn")
    root = tmp_path_factory.mktemp("models")
    shutil.copytree(CONFIGS / "Qwen--Qwen2.5-7B", root / "qwen7b")
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    config = uvicorn.Config(
        create_app(models_dir=root, detector=no_gpu), host="127.0.0.1", port=port, log_level="error"
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started and time.monotonic() < deadline:
        time.sleep(0.05)
    yield f"http://127.0.0.1:{port}"
    server.should_exit = True
    thread.join(timeout=5)


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    """Headless Debian Chromium; skips without it unless VW_REQUIRE_BROWSER=1.

    Module scope: Playwright's sync API keeps an event loop running in the main thread until
    it exits, which would break later tests that start their own loop (asyncio.run).
    """
    required = os.environ.get("VW_REQUIRE_BROWSER") == "1"
    missing = None
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        missing = "the playwright package is not installed"
    if missing is None and not CHROMIUM.exists():
        missing = f"{CHROMIUM} is missing (apt-get install -y chromium)"
    if missing is not None:
        if required:
            pytest.fail(f"VW_REQUIRE_BROWSER=1 but {missing}")
        pytest.skip(missing)
    with sync_playwright() as p:
        launched = p.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        yield launched
        launched.close()
