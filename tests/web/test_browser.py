"""The page in headless Debian Chromium: fill the form, see the plan, switch tabs, files."""

from __future__ import annotations

import json
import zipfile
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlparse

import pytest

LLAMA = "meta-llama/Llama-3.1-8B-Instruct"


@pytest.fixture
def page(browser: Any, live_server: str) -> Any:
    context = browser.new_context(viewport={"width": 1000, "height": 900})
    context.grant_permissions(["clipboard-read", "clipboard-write"], origin=live_server)
    outside: list[str] = []
    context.route(_is_outside(live_server), lambda route: _refuse(route, outside))
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.goto(live_server + "/")
    yield page
    context.close()
    assert not errors, errors
    assert not outside, f"the page reached outside the server: {outside}"


def _is_outside(live_server: str) -> Any:
    return lambda url: not url.startswith((live_server, "data:", "blob:"))


def _refuse(route: Any, log: list[str]) -> None:
    log.append(route.request.url)
    route.abort()


def _plan(page: Any, model: str = LLAMA, context: str = "8192") -> None:
    page.get_by_label("Model id or folder").fill(model)
    page.get_by_label("GPU", exact=True).select_option("H100 SXM")
    page.get_by_label("Context length (tokens)", exact=True).fill(context)
    page.get_by_role("button", name="Plan").click()


def test_form_renders_a_plan_and_keeps_it_in_the_url(page: Any) -> None:
    _plan(page)
    # an earlier input's request may answer first; wait for the submitted form's answer
    page.wait_for_function("location.search.includes('max_model_len=8192')")
    badge = page.locator("#fits-badge")
    badge.wait_for()
    assert badge.inner_text() == "Fits"
    assert page.locator("#vram-bar rect[data-segment='weights']").count() == 1
    assert page.locator("#budget-line").count() == 1
    assert page.locator("#concurrency-chart .bar-planned").count() == 1
    query = parse_qs(urlparse(page.url).query)
    assert query["model"] == [LLAMA] and query["max_model_len"] == ["8192"]


def test_changing_an_input_updates_without_reload(page: Any) -> None:
    _plan(page)
    page.locator("#fits-badge").wait_for()
    page.evaluate("window.__marker = 1")
    page.get_by_label("Context length (tokens)", exact=True).fill("131072")
    page.get_by_label("Concurrent requests", exact=True).fill("64")
    page.wait_for_function("location.search.includes('concurrency=64')")
    page.locator("#fits-badge", has_text="Does not fit").wait_for()
    assert page.evaluate("window.__marker") == 1


def test_tabs_command_copy_and_json(page: Any) -> None:
    _plan(page)
    page.get_by_role("tab", name="Command").click()
    command = page.locator("#serve-command")
    assert command.is_visible()
    assert command.inner_text().startswith("vllm serve " + LLAMA)
    assert not page.locator("#panel-summary").is_visible()
    page.get_by_role("button", name="Copy command").click()
    page.locator("#panel-command [role=status]", has_text="Copied").wait_for()
    assert page.evaluate("navigator.clipboard.readText()") == command.inner_text()
    page.get_by_role("tab", name="JSON").click()
    assert '"schema_version": 1' in page.locator("#plan-json").inner_text()
    assert "tab=json" in page.url


def test_files_tab_lists_files_and_downloads_the_zip(page: Any, tmp_path: Path) -> None:
    _plan(page)
    page.get_by_role("tab", name="Files").click()
    page.locator("#files-list h4", has_text="k8s/deployment.yaml").wait_for()
    with page.expect_download() as info:
        page.get_by_role("button", name="Download zip").click()
    download = info.value
    assert download.suggested_filename == "vllm-deployment.zip"
    target = tmp_path / "vllm-deployment.zip"
    download.save_as(target)
    with zipfile.ZipFile(target) as archive:
        names = set(archive.namelist())
        command = archive.read("serve_command.sh").decode()
    assert {"serve_command.sh", "docker-compose.yaml", "k8s/deployment.yaml"} <= names
    assert "exec vllm serve meta-llama/Llama-3.1-8B-Instruct" in command
    page.locator("#files-status", has_text="Downloaded vllm-deployment.zip").wait_for()


def test_shared_url_opens_the_same_plan(page: Any, live_server: str) -> None:
    page.goto(f"{live_server}/?model={LLAMA}&gpu=H100+SXM&max_model_len=4096&tab=command")
    assert page.locator("#serve-command").is_visible()
    assert "--max-model-len 4096" in page.locator("#serve-command").inner_text()
    assert page.get_by_label("Context length (tokens)", exact=True).input_value() == "4096"


def test_bad_input_shows_the_error_and_fix(page: Any) -> None:
    _plan(page, model="no-such-org/no-such-model")
    alert = page.get_by_role("alert")
    alert.wait_for()
    assert "not in the catalog" in alert.inner_text()


def test_detect_without_a_gpu_says_so(page: Any) -> None:
    page.get_by_role("button", name="Detect server GPUs").click()
    page.locator("#detect-status", has_text="No GPU detected").wait_for()


def test_phone_width_has_no_horizontal_scroll(browser: Any, live_server: str) -> None:
    context = browser.new_context(viewport={"width": 375, "height": 800})
    page = context.new_page()
    page.goto(f"{live_server}/?model={LLAMA}&gpu=H100+SXM&max_model_len=8192")
    page.locator("#fits-badge").wait_for()
    assert page.evaluate("document.documentElement.scrollWidth") <= 375
    context.close()


def test_docs_render_offline(browser: Any, live_server: str) -> None:
    context = browser.new_context()
    outside: list[str] = []
    context.route(_is_outside(live_server), lambda route: _refuse(route, outside))
    page = context.new_page()
    page.goto(live_server + "/docs")
    page.locator(".opblock-summary-path", has_text="/api/plan").first.wait_for()
    context.close()
    assert not outside, outside


def test_find_hardware_ranks_rows_and_opens_one_as_plan(page: Any) -> None:
    page.get_by_label("Model id or folder").fill(LLAMA)
    section = page.locator("#find-hardware")
    section.get_by_label("Target", exact=True).select_option("target_output_tps")
    section.get_by_label("Target value").fill("2000")
    section.get_by_label("GPU shortlist (optional)").select_option(["L40S 48GB", "H100 SXM 80GB"])
    section.get_by_role("button", name="Search GPUs").click()
    rows = page.locator("#size-table tbody tr")
    rows.first.wait_for()
    assert "2,000 output tokens/s" in page.locator("#size-caption").inner_text()
    opened = page.locator("#size-table tbody tr:has(button.open-plan:enabled)").first
    button = opened.get_by_role("button", name="Open as plan")
    args = json.loads(button.get_attribute("data-plan"))
    assert opened.locator("th[scope=row]").inner_text() == f"{args['gpus']}× {args['gpu']}"
    button.click()
    page.wait_for_function(
        "n => new URLSearchParams(location.search).get('concurrency') === n",
        arg=str(args["concurrency"]),
    )
    page.locator("#fits-badge").wait_for()
    assert page.get_by_label("GPU", exact=True).input_value() == args["gpu"]
    assert page.get_by_label("GPU count", exact=True).input_value() == str(args["gpus"])
    assert f"on {args['gpus']}× {args['gpu']}" in page.locator(".verdict").inner_text()
    query = parse_qs(urlparse(page.url).query)
    for key in ("gpu", "gpus", "tensor_parallel_size", "max_model_len", "quantization"):
        if key in args:
            assert query[key] == [str(args[key])], key
    assert query.get("kv_cache_dtype", ["auto"]) == [args.get("kv_cache_dtype", "auto")]


def test_find_hardware_fits_a_phone(browser: Any, live_server: str) -> None:
    context = browser.new_context(viewport={"width": 375, "height": 800})
    page = context.new_page()
    page.goto(f"{live_server}/?model={LLAMA}&gpu=H100+SXM")
    page.get_by_role("button", name="Search GPUs").click()
    page.locator("#size-table tbody tr").first.wait_for()
    assert page.evaluate("document.documentElement.scrollWidth") <= 375
    context.close()
