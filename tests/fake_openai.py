"""A streaming OpenAI-compatible stand-in on 127.0.0.1 with controlled timings.

Each completion sends its first chunk `ttft_s` after the request arrives and one more chunk
every `itl_s`, scheduled against the request's arrival so sleep overshoot does not add up.
It records what clients sent and the most requests it had in flight at once.
"""

from __future__ import annotations

import json
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


@dataclass
class FakeServerState:
    """Timings to serve with, and what the server saw."""

    model: str
    ttft_s: float
    itl_s: float
    # "openai"; "html": a web server that is not an API; "no-stream": completions answer
    # one JSON body instead of events.
    mode: str = "openai"
    api_key: str | None = None
    requests: list[dict[str, Any]] = field(default_factory=list)
    in_flight: int = 0
    max_in_flight: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)


def _handler(state: FakeServerState) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"  # keep-alive: no new thread per request

        def log_message(self, format: str, *args: Any) -> None:
            return

        def _send_json(self, payload: object, status: int = 200) -> None:
            body = json.dumps(payload).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def _send_html(self) -> None:
            body = b"<html><body>It works!</body></html>"
            self.send_response(200)
            self.send_header("Content-Type", "text/html")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def _authorized(self) -> bool:
            if state.api_key is None:
                return True
            if self.headers.get("Authorization") == f"Bearer {state.api_key}":
                return True
            self._send_json({"error": "Unauthorized"}, status=401)
            return False

        def do_GET(self) -> None:
            if not self._authorized():
                return
            if state.mode == "html":
                self._send_html()
            elif self.path == "/v1/models":
                self._send_json({"object": "list", "data": [{"id": state.model}]})
            elif self.path == "/version":
                self._send_json({"version": "0.33.0"})
            else:
                self._send_json({"detail": "Not Found"}, status=404)

        def do_POST(self) -> None:
            arrived = time.perf_counter()
            length = int(self.headers.get("Content-Length", 0))
            body = json.loads(self.rfile.read(length) or b"{}")
            if not self._authorized():
                return
            if state.mode == "html" or self.path != "/v1/completions":
                self._send_html()
                return
            if state.mode == "no-stream":
                self._send_json({"object": "text_completion", "choices": [{"text": "a"}]})
                return
            with state.lock:
                state.requests.append(body)
                state.in_flight += 1
                state.max_in_flight = max(state.max_in_flight, state.in_flight)
            try:
                self._stream(body, arrived)
            finally:
                with state.lock:
                    state.in_flight -= 1

        def _stream(self, body: dict[str, Any], arrived: float) -> None:
            self.send_response(200)
            self.send_header("Content-Type", "text/event-stream")
            self.send_header("Transfer-Encoding", "chunked")
            self.end_headers()
            tokens = int(body["max_tokens"])
            for i in range(tokens):
                delay = arrived + state.ttft_s + i * state.itl_s - time.perf_counter()
                if delay > 0:
                    time.sleep(delay)
                chunk = {"object": "text_completion", "choices": [{"index": 0, "text": " a"}]}
                self._write_event(json.dumps(chunk))
            usage = {"prompt_tokens": len(body["prompt"]), "completion_tokens": tokens}
            self._write_event(json.dumps({"choices": [], "usage": usage}))
            self._write_event("[DONE]")
            self.wfile.write(b"0\r\n\r\n")

        def _write_event(self, data: str) -> None:
            """One server-sent event as one HTTP/1.1 chunk."""
            event = f"data: {data}\n\n".encode()
            self.wfile.write(f"{len(event):x}\r\n".encode() + event + b"\r\n")

    return Handler


@contextmanager
def fake_openai_server(state: FakeServerState) -> Iterator[str]:
    """Serve `state` on a free port of 127.0.0.1; yields the base URL."""
    server = _QuietServer(("127.0.0.1", 0), _handler(state))
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, args=(0.02,), daemon=True)
    # Client and server share one interpreter: hand the GIL over within 0.1 ms rather than
    # the default 5 ms, so thread switches do not show up as latency.
    switch_interval = sys.getswitchinterval()
    sys.setswitchinterval(0.0001)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
        sys.setswitchinterval(switch_interval)


class _QuietServer(ThreadingHTTPServer):
    """Clients closing kept-alive connections is normal here, not worth a traceback.

    The listen backlog is raised from socketserver's 5: more concurrent connects than that
    get their SYN dropped and retried a second later, which a real server never shows.
    """

    request_queue_size = 128

    def handle_error(self, request: Any, client_address: Any) -> None:
        return
