"""The review page: a local web server on 127.0.0.1 where one rater rates a run's samples.

Access: the URL printed at start carries an unguessable one-time token; opening it spends
the token and sets a session cookie (HttpOnly, SameSite=Strict), so the URL is useless
once used or copied from a log. Any other token, no cookie or another Host header (DNS
rebinding) is 403. Every request also re-reads the access policy: a rater whose `review`
permission was revoked gets 403, and the denial is an audit event.

Blinding: each sample's two outputs are shown in a fresh random order (`secrets`), and
media URLs are random tokens, so nothing on the page names a model; the order is recorded
with the answer (review/ledger.py), which un-blinds it only in the summary.

Data: the page decrypts one sample's material when it shows it (review/material.py);
nothing is written to disk but `reviews.jsonl`. Pages, scripts and styles come from this
package (`page/`), under a Content-Security-Policy that allows nothing else.

    server = ReviewServer(run_dir, rater="alice", section=report["review"], run_id=..., suite=..., store=None,
                          allowed=check, attested={name: sha256 of the verified attestation's subjects})
    server.serve(port=0)        # prints the URL; Ctrl-C stops it
"""

from __future__ import annotations

import json
import random
import secrets
import sys
import threading
from collections.abc import Callable
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from importlib import resources
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

from ..errors import MmevalError
from ..media import MEDIA_TYPES
from .ledger import PICKS, Ratings
from .material import read_material

COOKIE = "mmeval_review"
PAGE_FILES = {"/": ("index.html", "text/html; charset=utf-8"), "/app.js": ("app.js", "text/javascript; charset=utf-8"),
              "/app.css": ("app.css", "text/css; charset=utf-8")}
HEADERS = {
    "Content-Security-Policy": "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; media-src 'self'; "
                               "connect-src 'self'; form-action 'none'; base-uri 'none'; frame-ancestors 'none'",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",  # the start URL holds the token
    "Cache-Control": "no-store",
    "X-Frame-Options": "DENY",
}
MAX_BODY = 64 * 1024


class ReviewServer:
    def __init__(self, run_dir: Path, *, rater: str, section: dict[str, Any], run_id: str, suite: str, store: Any,
                 allowed: Callable[[], bool], attested: dict[str, str]):
        self.run_dir = Path(run_dir)
        self.attested = attested  # relative path -> sha256 from the verified attestation
        self.rater, self.section, self.suite, self.store = rater, section, suite, store
        self.allowed = allowed  # re-checks the policy; False (audited) means 403
        self.ratings = Ratings(self.run_dir, run_id)
        self.token = secrets.token_urlsafe(32)
        self.session = secrets.token_urlsafe(32)
        self.token_spent = False
        self.saved = 0
        self.scales = {c["name"]: int(c["scale"]) for c in section["criteria"]}
        self._pending: dict[str, list[str]] = {}  # sample id -> models as shown (left, right)
        self._media: dict[str, tuple[str, str]] = {}  # url token -> (sample id, "input" or model)
        self._lock = threading.Lock()
        order = list(section["samples"])
        random.Random(f"{run_id}:{rater}").shuffle(order)  # each rater meets the samples in their own order
        self._order = {sid: i for i, sid in enumerate(order)}
        self.httpd: ThreadingHTTPServer | None = None

    # --- what the page asks -----------------------------------------------------------
    def progress(self, entries: list[dict[str, Any]]) -> dict[str, Any]:
        raters: dict[str, set[str]] = {}
        for e in entries:
            raters.setdefault(e["sample_id"], set()).add(e["rater"])
        need = int(self.section["raters_per_sample"])
        samples = self.section["samples"]
        mine = [s for s in samples if self.rater in raters.get(s, ())]
        todo = sorted((s for s in samples if self.rater not in raters.get(s, ()) and len(raters.get(s, ())) < need),
                      key=lambda s: (len(raters.get(s, ())), self._order[s]))
        return {"rated_by_you": len(mine), "left_for_you": len(todo), "samples": len(samples),
                "complete": sum(1 for s in samples if len(raters.get(s, ())) >= need), "raters_per_sample": need, "todo": todo}

    def next_sample(self) -> dict[str, Any]:
        with self._lock:
            progress = self.progress(self.ratings.entries())
            todo = progress.pop("todo")
            base = {"rater": self.rater, "suite": self.suite, "criteria": self.section["criteria"], "progress": progress,
                    "question": self.section.get("question") or "Which is better?"}
            if not todo:
                return {**base, "done": True}
            sid = next((s for s in todo if s in self._pending), todo[0])  # a reload shows the same sample
            material = read_material(self.run_dir, self.store, sid, self.attested)
            models = [self.section["pairwise"]["a"], self.section["pairwise"]["b"]]
            if sid not in self._pending:
                secrets.SystemRandom().shuffle(models)
                self._pending[sid] = models
            shown = self._pending[sid]
            return {**base, "done": False, "sample_id": sid, "input": self._item(sid, "input", material["input"]),
                    "left": self._item(sid, shown[0], material["outputs"].get(shown[0])),
                    "right": self._item(sid, shown[1], material["outputs"].get(shown[1]))}

    def answer(self, body: dict[str, Any]) -> tuple[HTTPStatus, dict[str, Any]]:
        sid, pick, scores = body.get("sample_id"), body.get("pick"), body.get("scores")
        if pick not in PICKS:
            return HTTPStatus.BAD_REQUEST, {"error": f"pick must be one of {', '.join(PICKS)}"}
        with self._lock:
            shown = self._pending.get(sid) if isinstance(sid, str) else None
            if shown is None:
                return HTTPStatus.CONFLICT, {"error": "that sample is not the one on show; reload the page"}
            by_model: dict[str, dict[str, int]] = {}
            for side, model in zip(("left", "right"), shown):
                given = scores.get(side) if isinstance(scores, dict) else None
                if not isinstance(given, dict) or set(given) != set(self.scales):
                    return HTTPStatus.BAD_REQUEST, {"error": f"scores.{side} must score every criterion: {', '.join(self.scales)}"}
                for name, value in given.items():
                    if not (isinstance(value, int) and not isinstance(value, bool) and 1 <= value <= self.scales[name]):
                        return HTTPStatus.BAD_REQUEST, {"error": f"scores.{side}.{name} must be 1..{self.scales[name]}"}
                by_model[model] = dict(given)
            entry = self.ratings.append(self.rater, sid, shown, pick, by_model)
            del self._pending[sid]
            self._media = {k: v for k, v in self._media.items() if v[0] != sid}
            self.saved += 1
        sys.stderr.write(f"review: {self.rater} rated {sid} (rating {entry['seq'] + 1} in {self.ratings.path.name})\n")
        return HTTPStatus.OK, {"saved": entry["seq"]}

    def media(self, token: str) -> tuple[bytes, str] | None:
        with self._lock:
            where = self._media.get(token)
        if where is None:
            return None
        sid, role = where
        material = read_material(self.run_dir, self.store, sid, self.attested)  # decrypted now, for this response only
        item = material["input"] if role == "input" else material["outputs"].get(role) or {}
        kind = MEDIA_TYPES.get(str(item.get("media", "")).lower())
        if kind is None or not isinstance(item.get("bytes_b64"), str):
            return None
        import base64

        return base64.b64decode(item["bytes_b64"]), kind

    def _item(self, sid: str, role: str, item: dict[str, Any] | None) -> dict[str, Any]:
        """What the page gets: text, or a media URL that names no model."""
        if not item:
            return {"kind": "text", "text": "(no output)"}
        suffix = str(item.get("media", "")).lower()
        if suffix in MEDIA_TYPES:
            token = secrets.token_urlsafe(16)
            self._media[token] = (sid, role)
            return {"kind": "audio" if suffix == ".wav" else "image", "url": f"/media/{token}"}
        return {"kind": "text", "text": str(item.get("text", ""))}

    # --- HTTP -------------------------------------------------------------------------
    def serve(self, port: int = 0, ready: Callable[[str], None] | None = None) -> None:
        self.httpd = ThreadingHTTPServer(("127.0.0.1", port), _handler(self))
        self.httpd.daemon_threads = True
        url = f"http://127.0.0.1:{self.httpd.server_address[1]}/start?token={self.token}"
        (ready or (lambda u: print(f"review: open {u}", flush=True)))(url)
        try:
            self.httpd.serve_forever(poll_interval=0.2)
        finally:
            self.httpd.server_close()

    def stop(self) -> None:
        if self.httpd is not None:
            self.httpd.shutdown()


def _handler(server: ReviewServer) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        server_version = "mmeval-review"
        sys_version = ""

        def log_message(self, format: str, *args: Any) -> None:  # no URLs (tokens) in logs
            pass

        def do_GET(self) -> None:
            self._dispatch("GET")

        def do_POST(self) -> None:
            self._dispatch("POST")

        def _dispatch(self, method: str) -> None:
            try:
                self._route(method)
            except MmevalError as exc:  # damaged material, a store that fails to open: the page says so
                self._json(HTTPStatus.INTERNAL_SERVER_ERROR, {"error": str(exc)})

        def _route(self, method: str) -> None:
            port = server.httpd.server_address[1] if server.httpd else 0
            if self.headers.get("Host") not in (f"127.0.0.1:{port}", f"localhost:{port}"):
                return self._deny("unexpected Host header")
            url = urlsplit(self.path)
            if url.path == "/start" and method == "GET":
                token = parse_qs(url.query).get("token", [""])[0]
                if server.token_spent or not secrets.compare_digest(token, server.token):
                    return self._deny("wrong or already used token")
                server.token_spent = True
                self.send_response(HTTPStatus.SEE_OTHER)
                self.send_header("Location", "/")
                self.send_header("Set-Cookie", f"{COOKIE}={server.session}; HttpOnly; SameSite=Strict; Path=/")
                self._end(b"")
                return None
            cookie = _cookie(self.headers.get("Cookie", ""))
            if not secrets.compare_digest(cookie, server.session):
                return self._deny("no review session: open the URL the server printed")
            if not server.allowed():
                return self._deny(f"principal {server.rater!r} may not review this run")
            if method == "GET" and url.path == "/favicon.ico":  # no icon: 204, so the browser logs no 404
                return self._send(HTTPStatus.NO_CONTENT, b"", "image/x-icon")
            if method == "GET" and url.path in PAGE_FILES:
                name, kind = PAGE_FILES[url.path]
                return self._send(HTTPStatus.OK, resources.files(__package__).joinpath("page", name).read_bytes(), kind)
            if method == "GET" and url.path == "/api/next":
                return self._json(HTTPStatus.OK, server.next_sample())
            if method == "GET" and url.path.startswith("/media/"):
                found = server.media(url.path.removeprefix("/media/"))
                if found is None:
                    return self._json(HTTPStatus.NOT_FOUND, {"error": "no such media"})
                return self._send(HTTPStatus.OK, *found)
            if method == "POST" and url.path == "/api/answer":
                if self.headers.get("Origin") not in (None, f"http://127.0.0.1:{port}", f"http://localhost:{port}"):
                    return self._deny("cross-origin request")
                body = self._body()
                if body is None:
                    return self._json(HTTPStatus.BAD_REQUEST, {"error": "the answer must be a JSON object"})
                return self._json(*server.answer(body))
            return self._json(HTTPStatus.NOT_FOUND, {"error": "not found"})

        def _body(self) -> dict[str, Any] | None:
            try:
                length = int(self.headers.get("Content-Length", "0"))
                if not 0 < length <= MAX_BODY:
                    return None
                body = json.loads(self.rfile.read(length))
            except (ValueError, RecursionError):
                return None
            return body if isinstance(body, dict) else None

        def _deny(self, why: str) -> None:
            self._json(HTTPStatus.FORBIDDEN, {"error": f"forbidden: {why}"})

        def _json(self, status: HTTPStatus, value: dict[str, Any]) -> None:
            self._send(status, json.dumps(value, ensure_ascii=False).encode("utf-8"), "application/json; charset=utf-8")

        def _send(self, status: HTTPStatus, data: bytes, kind: str) -> None:
            self.send_response(status)
            self.send_header("Content-Type", kind)
            self._end(data)

        def _end(self, data: bytes) -> None:
            for name, value in HEADERS.items():
                self.send_header(name, value)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

    return Handler


def _cookie(header: str) -> str:
    for part in header.split(";"):
        name, _, value = part.strip().partition("=")
        if name == COOKIE:
            return value
    return ""
