"""Real servers for the `openai` adapter tests: `transformers serve` on loopback, and a small
HTTP proxy of our own in front of it that injects 429/503 answers and can require a key."""

from __future__ import annotations

import http.client
import http.server
import os
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.request
from collections import deque
from pathlib import Path

import pytest

from tests.conftest import REPO

REFERENCE_TEXT = "reference_models/text/final"  # relative to REPO: the id the server reports


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class LocalServer:
    """`python -m mmeval.models.serve_local PATH --port PORT` as a child process."""

    def __init__(self, path: str, port: int, log: Path):
        self.path, self.port, self.log = path, port, log
        self.proc: subprocess.Popen | None = None

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/v1"

    def start(self, timeout: float = 180) -> "LocalServer":
        env = {**os.environ, "HF_HUB_OFFLINE": "1"}
        with open(self.log, "ab") as log:
            self.proc = subprocess.Popen([sys.executable, "-m", "mmeval.models.serve_local", self.path, "--port", str(self.port)],
                                         cwd=REPO, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"server exited with {self.proc.returncode}: {self.log.read_text()[-2000:]}")
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{self.port}/health", timeout=1) as r:
                    if r.status == 200:
                        return self
            except OSError:
                time.sleep(0.2)
        self.stop()
        raise RuntimeError(f"server did not answer /health in {timeout} s: {self.log.read_text()[-2000:]}")

    def kill(self) -> None:
        """SIGKILL, as a crash: no graceful shutdown."""
        if self.proc is not None and self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait(10)

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(15)
            except subprocess.TimeoutExpired:
                self.kill()


@pytest.fixture(scope="session")
def api_server(tmp_path_factory):
    """One real `transformers serve` of the reference text checkpoint for the whole test run."""
    server = LocalServer(REFERENCE_TEXT, free_port(), tmp_path_factory.mktemp("serve") / "server.log").start()
    yield server
    server.stop()


class FaultProxy:
    """A real HTTP proxy on loopback. `faults` holds, for the next POSTs in turn, a (status,
    headers) answer to give instead of forwarding, ("delay", seconds) to hold it that long and close it unanswered, or
    None to forward it; `token`, when
    set, is the bearer key it wants (401 otherwise).
    Every request is logged as (monotonic time it arrived, method, path, status answered)."""

    def __init__(self, upstream_port: int, token: str | None = None):
        self.upstream_port, self.token = upstream_port, token
        self.faults: deque[tuple[int, dict[str, str]] | None] = deque()
        self.log: list[tuple[float, str, str, int]] = []
        self._lock = threading.Lock()
        proxy = self

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: object) -> None:  # quiet
                pass

            def _answer(self, status: int, body: bytes, headers: dict[str, str]) -> None:
                self.send_response(status)
                for k, v in headers.items():
                    self.send_header(k, v)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)
                with proxy._lock:
                    proxy.log.append((self.arrived, self.command, self.path, status))

            def _handle(self) -> None:
                self.arrived = time.monotonic()
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                if proxy.token is not None and self.headers.get("Authorization") != f"Bearer {proxy.token}":
                    return self._answer(401, b'{"error": {"message": "invalid api key"}}', {"Content-Type": "application/json"})
                fault = None
                with proxy._lock:
                    if self.command == "POST" and proxy.faults:
                        fault = proxy.faults.popleft()
                if fault is not None and fault[0] == "delay":  # answer nothing: the client times out
                    time.sleep(fault[1])
                    self.close_connection = True
                    with proxy._lock:
                        proxy.log.append((self.arrived, self.command, self.path, 0))
                    return
                if fault is not None:
                    status, headers = fault
                    return self._answer(status, b'{"error": {"message": "injected"}}', {"Content-Type": "application/json", **headers})
                conn = http.client.HTTPConnection("127.0.0.1", proxy.upstream_port, timeout=120)
                try:
                    forward = {k: v for k, v in self.headers.items() if k.lower() not in ("host", "connection")}
                    conn.request(self.command, self.path, body=body or None, headers=forward)
                    reply = conn.getresponse()
                    data = reply.read()
                    keep = {k: v for k, v in reply.getheaders() if k.lower() in ("content-type", "retry-after")}
                    self._answer(reply.status, data, keep)
                finally:
                    conn.close()

            do_GET = do_POST = _handle

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.port = self.server.server_address[1]
        self._thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/v1"

    def __enter__(self) -> "FaultProxy":
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()
