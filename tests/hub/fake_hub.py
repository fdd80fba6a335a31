"""A local HTTP server that speaks the Hugging Face Hub's file protocol, for tests.

It serves `/{org}/{name}/resolve/{revision}/{file}` (HEAD and GET, with Range) with the
headers huggingface_hub checks (ETag, X-Repo-Commit, Content-Length) and answers errors
with the Hub's X-Error-Code values (RepoNotFound, GatedRepo, RevisionNotFound,
EntryNotFound). Safetensors files are synthesised from a header: only the bytes a client
asks for are produced, so no weights exist anywhere.
"""

from __future__ import annotations

import hashlib
import json
import re
import struct
import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

COMMIT = "0123456789abcdef0123456789abcdef01234567"
GATED_TOKEN = "hf_test_token_with_access"


@dataclass
class FakeRepo:
    """One model repository: its files per revision, and whether it is gated."""

    files: dict[str, bytes]
    revisions: tuple[str, ...] = ("main", COMMIT)
    gated: bool = False
    sizes: dict[str, int] = field(default_factory=dict)


def safetensors_header(tensors: dict[str, tuple[str, list[int]]]) -> tuple[bytes, int]:
    """The first bytes of a safetensors file (length + JSON header) and its full size."""
    width = {"BF16": 2, "F16": 2, "F32": 4, "U8": 1, "I32": 4}
    header: dict[str, Any] = {"__metadata__": {"format": "pt"}}
    offset = 0
    for name, (dtype, shape) in tensors.items():
        size = width[dtype]
        for dim in shape:
            size *= dim
        header[name] = {"dtype": dtype, "shape": shape, "data_offsets": [offset, offset + size]}
        offset += size
    raw = json.dumps(header).encode()
    return struct.pack("<Q", len(raw)) + raw, 8 + len(raw) + offset


class FakeHub:
    """Start with `with FakeHub(repos) as hub:`; `hub.endpoint` goes into HF_ENDPOINT."""

    def __init__(self, repos: dict[str, FakeRepo]) -> None:
        self.repos = repos
        self.requests: list[tuple[str, str, str | None, str | None]] = []
        handler = self._handler()
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    @property
    def endpoint(self) -> str:
        host, port = self.server.server_address[:2]
        return f"http://{host!s}:{port}"

    def __enter__(self) -> FakeHub:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        hub = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, format: str, *args: Any) -> None:
                return

            def do_HEAD(self) -> None:
                self._serve(body=False)

            def do_GET(self) -> None:
                self._serve(body=True)

            def _error(self, status: int, code: str, message: str) -> None:
                self.send_response(status)
                self.send_header("X-Error-Code", code)
                self.send_header("X-Error-Message", message)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def _serve(self, body: bool) -> None:
                match = re.fullmatch(r"/([^/]+/[^/]+)/resolve/([^/]+)/(.+)", self.path)
                auth = self.headers.get("Authorization")
                hub.requests.append((self.command, self.path, auth, self.headers.get("Range")))
                if match is None:
                    self._error(404, "EntryNotFound", "unknown route")
                    return
                repo_id, revision, filename = match.groups()
                repo = hub.repos.get(repo_id)
                if repo is None:
                    self._error(401, "RepoNotFound", "Repository Not Found")
                    return
                if repo.gated and auth != f"Bearer {GATED_TOKEN}":
                    self._error(403, "GatedRepo", "Access to model is restricted.")
                    return
                if revision not in repo.revisions:
                    self._error(404, "RevisionNotFound", "Invalid rev id")
                    return
                if filename not in repo.files:
                    self._error(404, "EntryNotFound", "Entry not found")
                    return
                content = repo.files[filename]
                size = repo.sizes.get(filename, len(content))
                start, end = 0, size - 1
                range_header = self.headers.get("Range")
                if range_header:
                    low, _, high = range_header.removeprefix("bytes=").partition("-")
                    start, end = int(low), min(int(high or size - 1), size - 1)
                payload = content[start : end + 1].ljust(end + 1 - start, b"\0")
                etag = hashlib.sha256(content).hexdigest()
                self.send_response(206 if range_header else 200)
                self.send_header("ETag", f'"{etag}"')
                self.send_header("X-Repo-Commit", COMMIT)
                self.send_header("Accept-Ranges", "bytes")
                self.send_header("Content-Length", str(len(payload) if body else size))
                self.end_headers()
                if body:
                    self.wfile.write(payload)

        return Handler
