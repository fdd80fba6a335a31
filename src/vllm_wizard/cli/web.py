"""`vllm-wizard web`: serve the page and the JSON API (needs the `web` extra)."""

from __future__ import annotations

import ipaddress
import sys
from pathlib import Path
from typing import Annotated

import typer

from vllm_wizard.errors import EnvironmentFailureError, InvalidParameterError

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 8080  # not vLLM's 8000, so both can run on one machine


def is_loopback(host: str) -> bool:
    """True for localhost and loopback addresses (127.0.0.0/8, ::1)."""
    if host.strip().lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def web_command(
    host: Annotated[str, typer.Option(help="Address to bind; non-loopback prints a warning.")] = (
        DEFAULT_HOST
    ),
    port: Annotated[int, typer.Option(min=1, max=65535, help="TCP port.")] = DEFAULT_PORT,
    models_dir: Annotated[
        Path | None,
        typer.Option(help="The only folder tree the server reads model configs from."),
    ] = None,
) -> None:
    """Serve the planner as a web page and JSON API (OpenAPI docs at /docs).

    Examples:

      vllm-wizard web

      vllm-wizard web --port 8090 --models-dir ~/models
    """
    if models_dir is not None and not models_dir.expanduser().is_dir():
        raise InvalidParameterError(
            f"--models-dir '{models_dir}' is not an existing folder; pass a folder that holds "
            "model folders (each with a config.json).",
            field="models_dir",
        )
    try:
        import uvicorn

        from vllm_wizard.web.app import create_app
    except ImportError as exc:
        raise EnvironmentFailureError(
            f"the web server needs the `web` extra ({exc.name} is missing); "
            "install it with: pip install 'vllm-wizard[web]'"
        ) from None
    if not is_loopback(host):
        print(
            f"warning: binding to {host}: this version has no authentication, so anyone who "
            "can reach this address can use the server. Use --host 127.0.0.1 unless you "
            "trust the network.",
            file=sys.stderr,
        )
    app = create_app(models_dir=models_dir.expanduser() if models_dir else None)
    print(f"vllm-wizard web on http://{host}:{port}/ (API docs at /docs)", file=sys.stderr)
    uvicorn.run(app, host=host, port=port, log_level="warning")
