"""A real HTTP server on loopback for the http check and the invalidate action: answers as told, records arrivals."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


@dataclass(frozen=True)
class Arrival:
    """One request as it arrived: when (monotonic seconds), how, where, with which headers and body."""

    at: float
    method: str
    path: str
    headers: dict[str, str]
    body: str


@dataclass
class Answer:
    """What the server answers on one path."""

    status: int = 200
    body: str = ""
    delay: float = 0.0
    content_type: str = "application/json"
    require_header: tuple[str, str] | None = None
    """(name, value): without it the answer is 401."""


@dataclass
class Recorder:
    """The server's state: answers by path, arrivals in order."""

    port: int = 0
    answers: dict[str, Answer] = field(default_factory=dict)
    arrivals: list[Arrival] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    def answer(self, path: str, **how: Any) -> None:
        """Answer requests to ``path`` this way from now on (404 for paths never set)."""
        self.answers[path] = Answer(**how)

    def arrived(self, path_prefix: str = "") -> list[Arrival]:
        with self.lock:
            return [a for a in self.arrivals if a.path.startswith(path_prefix)]


def _handler(recorder: Recorder) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def _serve(self) -> None:
            arrived = time.monotonic()
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length).decode() if length else ""
            path = self.path.split("?", 1)[0]
            with recorder.lock:
                recorder.arrivals.append(Arrival(arrived, self.command, self.path, dict(self.headers), body))
            answer = recorder.answers.get(path, Answer(status=404, body="not found", content_type="text/plain"))
            if answer.delay:
                time.sleep(answer.delay)
            status = answer.status
            if answer.require_header and self.headers.get(answer.require_header[0]) != answer.require_header[1]:
                status = 401
            data = answer.body.encode()
            self.send_response(status)
            self.send_header("Content-Type", answer.content_type)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = _serve

        def log_message(self, format: str, *args: object) -> None:  # quiet: pytest shows failures, not traffic
            return

    return Handler


@contextmanager
def http_server() -> Iterator[Recorder]:
    """Serve on a free loopback port in a thread for the duration of the block."""
    recorder = Recorder()
    server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(recorder))
    server.daemon_threads = True
    recorder.port = server.server_address[1]
    thread = threading.Thread(target=server.serve_forever, name="test-http-server", daemon=True)
    thread.start()
    try:
        yield recorder
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)
