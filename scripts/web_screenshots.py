"""Regenerate the page screenshots under docs/ (needs the dev extra and /usr/bin/chromium).

python scripts/web_screenshots.py
"""

from __future__ import annotations

import socket
import threading
import time
from pathlib import Path

import uvicorn
from playwright.sync_api import Page, sync_playwright

from vllm_wizard.errors import GpuNotDetectedError
from vllm_wizard.schemas.gpu import GpuInventory
from vllm_wizard.web.app import create_app

DOCS = Path(__file__).resolve().parents[1] / "docs"
PLAN = "/?model=meta-llama%2FLlama-3.1-8B-Instruct&gpu=H100+SXM&max_model_len=8192&concurrency=16"
SHORTLIST = ["L4 24GB", "L40S 48GB", "A100 SXM 80GB", "H100 SXM 80GB"]
TOO_BIG = "/?model=meta-llama%2FLlama-3.1-70B-Instruct&gpu=L40S&gpus=2&max_model_len=32768"


def _no_gpu() -> GpuInventory:
    raise GpuNotDetectedError("No GPU detected on the screenshot machine.")


def _serve() -> tuple[uvicorn.Server, str]:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    server = uvicorn.Server(
        uvicorn.Config(create_app(detector=_no_gpu), host="127.0.0.1", port=port, log_level="error")
    )
    threading.Thread(target=server.run, daemon=True).start()
    while not server.started:
        time.sleep(0.05)
    return server, f"http://127.0.0.1:{port}"


def _shoot(page: Page, name: str) -> None:
    page.screenshot(path=str(DOCS / name), full_page=True)
    print(f"wrote docs/{name}")


def _find_hardware(page: Page, base: str) -> None:
    """The Find-hardware section after a search: its form and the ranked table."""
    page.goto(base + PLAN)
    section = page.locator("#find-hardware")
    section.get_by_label("Target", exact=True).select_option("target_output_tps")
    section.get_by_label("Target value").fill("5000")
    section.get_by_label("GPU shortlist (optional)").select_option(SHORTLIST)
    section.get_by_role("button", name="Search GPUs").click()
    page.locator("#size-table tbody tr").first.wait_for()
    section.screenshot(path=str(DOCS / "web-find-hardware.png"))
    print("wrote docs/web-find-hardware.png")


def main() -> None:
    """Summary, command, does-not-fit, error, find-hardware and phone-width states."""
    DOCS.mkdir(exist_ok=True)
    server, base = _serve()
    with sync_playwright() as p:
        browser = p.chromium.launch(
            executable_path="/usr/bin/chromium",
            args=["--no-sandbox", "--disable-background-networking"],
        )
        page = browser.new_page(viewport={"width": 1100, "height": 900})
        page.goto(base + PLAN)
        _shoot(page, "web-summary.png")
        page.get_by_role("tab", name="Command").click()
        _shoot(page, "web-command.png")
        page.goto(base + TOO_BIG)
        _shoot(page, "web-does-not-fit.png")
        page.goto(base + "/?model=no-such-org%2Fno-such-model&gpu=H100+SXM")
        _shoot(page, "web-error.png")
        _find_hardware(page, base)
        phone = browser.new_page(viewport={"width": 390, "height": 844}, device_scale_factor=2)
        phone.goto(base + PLAN)
        _shoot(phone, "web-phone.png")
        browser.close()
    server.should_exit = True


if __name__ == "__main__":
    main()
