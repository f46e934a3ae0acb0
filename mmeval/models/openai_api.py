"""`openai`: any OpenAI-compatible HTTP server (vLLM, TGI, Ollama, `transformers serve`, a
cloud API), prompt -> text, on the official `openai` client.

Retries are ours, not the client's (it is built with `max_retries=0`): the client's own
backoff ignores a `Retry-After` above 60 s and applies per request, so one 429 would not
slow the other workers, and its waits are not visible to the run. Here 408, 429, 5xx,
timeouts (`timeout_s`) and failed connections are retried `max_retries` times; the wait is
the server's `Retry-After` (or `retry-after-ms`) when it sends one, else exponential backoff
(0.5 s doubling, capped at 30 s) with equal jitter, and a 429's wait pauses every worker of
the adapter, not only the one that got it. Other 4xx (a wrong key, an unknown model) fail
at once. A sample that fails for good ends the run (exit 2) with one line naming it and the
status; the outputs that finished are handed to the runner (`RequestFailed.partial_outputs`)
and kept in the resume cache with the batches before it, so the next run asks only for the rest.

Requests run `concurrency` at a time in threads; outputs keep the dataset order. The
adapter's per-request figures (latency of the answered attempt, `usage.completion_tokens`,
retries) become the efficiency results `request_latency_p50_s`, `request_latency_p95_s`,
`output_tokens_per_s` and `request_retries`. With `seed`, each request carries its own
seed; whether sampling then reproduces is the server's affair (vLLM seeds per request;
`transformers serve` seeds its global RNG, so only at `concurrency: 1`). Not supported:
streaming, images or audio over the API, tool calls, `n > 1`.
"""

from __future__ import annotations

import email.utils
import hashlib
import os
import random
import re
import threading
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any, Literal
from urllib.parse import urlsplit

from ..errors import InputError, MissingExtra, MmevalError, SpecError

_ENV_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
BACKOFF_BASE_S = 0.5
BACKOFF_CAP_S = 30.0
RETRY_AFTER_CAP_S = 600.0  # above it, backoff instead: retries then run out rather than stall the run


class RequestFailed(InputError):
    """A request failed for good (exit 2). `partial_outputs` maps positions in the batch to
    the outputs that did finish, so the runner can keep them for the next run to resume."""

    partial_outputs: dict[int, Any]


class _Retryable(Exception):
    def __init__(self, status: str, wait: float | None = None):
        super().__init__(status)
        self.status, self.wait = status, wait


@dataclass
class _Stats:
    latencies: list[float] = field(default_factory=list)  # seconds of each successful request
    output_tokens: int = 0
    with_usage: int = 0  # responses that reported usage.completion_tokens
    seconds: float = 0.0  # wall time inside generate()
    retries: int = 0


def retry_after_seconds(headers: Any) -> float | None:
    """The server's requested wait: `retry-after-ms`, `Retry-After` seconds or HTTP date."""
    if headers is None:
        return None
    ms = headers.get("retry-after-ms")
    try:
        if ms is not None:
            return max(0.0, float(ms) / 1000)
    except ValueError:
        pass
    value = headers.get("retry-after")
    if value is None:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        try:
            when = email.utils.parsedate_to_datetime(value)
        except (TypeError, ValueError):
            return None
        return max(0.0, when.timestamp() - time.time())


def request_seed(seed: int, suite_seed: int, sample_id: str) -> int:
    """A 31-bit seed per sample (servers take an int32 or int64), independent of batching."""
    digest = hashlib.sha256(f"{seed}\x00{suite_seed}\x00{sample_id}".encode()).digest()
    return int.from_bytes(digest[:4], "little") >> 1


class OpenAIAPI:
    """Generate text through an OpenAI-compatible server (chat or legacy completions).

    Args: `base_url` (…/v1), `model` (the name the server serves), `api` (`chat` or
    `completions`), `api_key_env` (the NAME of the environment variable holding the key;
    none for a local server that needs no key), `max_tokens`, `temperature` (0: greedy),
    `top_p`, `seed` (sent per sample as a hash of (seed, suite seed, sample id)), `system`
    (chat only), `concurrency` (requests in flight, dataset order kept), `timeout_s`,
    `max_retries`. Outputs are the returned text, stripped of surrounding whitespace.

    Example:
        models:
          api:
            use: openai
            args: {base_url: "http://127.0.0.1:8000/v1", model: my-model, api: chat,
                   api_key_env: MY_API_KEY, max_tokens: 64, temperature: 0}
    """

    runs_model = True

    def __init__(
        self,
        base_url: str,
        model: str,
        api: Literal["chat", "completions"] = "chat",
        api_key_env: str | None = None,
        max_tokens: int = 48,
        temperature: float = 0.0,
        top_p: float = 1.0,
        seed: int | None = None,
        system: str | None = None,
        concurrency: int = 8,
        timeout_s: float = 60.0,
        max_retries: int = 4,
    ):
        parts = urlsplit(base_url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise SpecError("base_url must be an http(s) URL such as http://127.0.0.1:8000/v1")
        if parts.username or parts.password:
            raise SpecError("base_url must not carry credentials; put the key in an environment variable and name it in api_key_env")
        if api_key_env is not None and not _ENV_NAME.fullmatch(api_key_env):
            # Never echo it: a user may have pasted the key itself here.
            raise SpecError("api_key_env must be the NAME of an environment variable (letters, digits, _), not the key")
        if max_tokens < 1 or temperature < 0 or not 0 < top_p <= 1 or concurrency < 1 or timeout_s <= 0 or max_retries < 0:
            raise SpecError("need max_tokens >= 1, temperature >= 0, 0 < top_p <= 1, concurrency >= 1, timeout_s > 0, max_retries >= 0")
        if system is not None and api != "chat":
            raise SpecError("system needs api: chat (the completions API has no system prompt)")
        self._key = ""
        if api_key_env is not None:
            self._key = os.environ.get(api_key_env, "")
            if not self._key:
                raise InputError(f"api_key_env: environment variable {api_key_env} is not set or empty")
        self.base_url, self.model, self.api, self.api_key_env = base_url, model, api, api_key_env
        self.max_tokens, self.temperature, self.top_p, self.seed, self.system = max_tokens, temperature, top_p, seed, system
        self.concurrency, self.timeout_s, self.max_retries = concurrency, timeout_s, max_retries
        port = parts.port or (443 if parts.scheme == "https" else 80)
        self.host = f"{parts.hostname}:{port}"  # what messages name: never the query or a key
        self._endpoint = f"{parts.scheme}://{self.host}{parts.path.rstrip('/')}"
        self._client: Any = None
        self._served: str | None = None
        self._lock = threading.Lock()
        self._not_before = 0.0  # monotonic time before which no worker sends (a 429's Retry-After)
        self.stats = _Stats()

    # -- what determines the outputs ------------------------------------------------------
    def fingerprint(self) -> str:
        """Endpoint (scheme, host, port, path), model, the id the server reports, decoding."""
        system = "none" if self.system is None else hashlib.sha256(self.system.encode()).hexdigest()[:16]
        return (f"openai|endpoint:{self._endpoint}|model:{self.model}|served:{self.served_model()}|api:{self.api}"
                f"|max_tokens:{self.max_tokens}|temperature:{self.temperature}|top_p:{self.top_p}"
                f"|seed:{self.seed}|system:{system}")

    def served_model(self) -> str:
        """What GET /v1/models reports for `model` (asked once): its id (and vLLM's `root`)."""
        if self._served is None:
            page, _ = self._with_retries("GET /v1/models", lambda: self._client_().models.list(), allow_404=True)
            if page is None:
                self._served = "unreported"
            else:
                listed = {m.id: m for m in page.data}
                match = listed.get(self.model)
                if match is None:
                    ids = ",".join(sorted(listed))
                    self._served = "not-listed:" + hashlib.sha256(ids.encode()).hexdigest()[:16]
                else:
                    root = (match.model_extra or {}).get("root")
                    self._served = match.id + (f"@{root}" if isinstance(root, str) and root != match.id else "")
        return self._served

    def request_stats(self) -> _Stats:
        """Per-request figures for the efficiency tracker (latencies, usage tokens, retries)."""
        return self.stats

    # -- generation -----------------------------------------------------------------------
    def generate(self, inputs: Sequence[Any], *, seed: int, ids: Sequence[str]) -> list[str]:
        for value in inputs:
            if not isinstance(value, str):
                raise InputError(f"openai needs text prompts, got {type(value).__name__}")
        self._client_()
        stop = threading.Event()  # after one failure no new request starts
        done: dict[int, str] = {}
        failed: list[tuple[int, MmevalError]] = []

        def work(i: int) -> None:
            if stop.is_set():
                return
            try:
                done[i] = self._one(ids[i], inputs[i], seed)
            except MmevalError as exc:
                failed.append((i, exc))
                stop.set()
            except Exception as exc:  # a client or protocol surprise: still one scrubbed line
                failed.append((i, InputError(self._scrub(f"sample {ids[i]!r}: {type(exc).__name__}: {exc}"))))
                stop.set()

        began = time.perf_counter()
        with ThreadPoolExecutor(max_workers=min(self.concurrency, max(1, len(inputs)))) as pool:
            list(pool.map(work, range(len(inputs))))
        self.stats.seconds += time.perf_counter() - began
        if failed:
            first = min(failed, key=lambda f: f[0])[1]  # the earliest in dataset order
            error = RequestFailed(f"{first} ({len(done)} of {len(inputs)} in this batch finished; "
                                  "a rerun resumes after the finished outputs)")
            error.partial_outputs = dict(done)
            raise error
        return [done[i] for i in range(len(inputs))]

    def _one(self, sample_id: str, prompt: str, suite_seed: int) -> str:
        extra: dict[str, Any] = {}
        if self.seed is not None:
            extra["seed"] = request_seed(self.seed, suite_seed, sample_id)
        common = dict(model=self.model, max_tokens=self.max_tokens, temperature=self.temperature, top_p=self.top_p, **extra)
        client = self._client_()
        if self.api == "chat":
            messages = ([{"role": "system", "content": self.system}] if self.system is not None else [])
            messages.append({"role": "user", "content": prompt})
            call: Callable[[], Any] = lambda: client.chat.completions.create(messages=messages, **common)
        else:
            call = lambda: client.completions.create(prompt=prompt, **common)
        response, latency = self._with_retries(f"sample {sample_id!r}", call)
        choice = response.choices[0] if response.choices else None
        text = (choice.message.content if self.api == "chat" else choice.text) if choice is not None else None
        if text is None:
            raise InputError(f"sample {sample_id!r}: {self.host} returned no text")
        tokens = getattr(response.usage, "completion_tokens", None)
        with self._lock:
            self.stats.latencies.append(latency)
            if isinstance(tokens, int):
                self.stats.output_tokens += tokens
                self.stats.with_usage += 1
        return text.strip()

    def _with_retries(self, what: str, call: Callable[[], Any], *, allow_404: bool = False) -> tuple[Any, float]:
        """`call()`'s result and the seconds of the attempt that answered (the request latency)."""
        import openai

        attempt = 0
        while True:
            self._wait_turn()
            began = time.perf_counter()
            try:
                return call(), time.perf_counter() - began
            except openai.APIStatusError as exc:
                status = exc.status_code
                if allow_404 and status == 404:
                    return None, 0.0
                if status not in (408, 429) and status < 500:  # 408: the server's own timeout
                    raise InputError(self._status_line(what, status, exc)) from None
                failure = _Retryable(f"HTTP {status} from {self.host}", retry_after_seconds(exc.response.headers))
                rate_limited = status == 429
            except openai.APITimeoutError:
                failure, rate_limited = _Retryable(f"no answer from {self.host} within timeout_s={self.timeout_s:g}"), False
            except openai.APIConnectionError as exc:
                cause = exc.__cause__ or exc
                reason = f"{type(cause).__name__}: {self._scrub(str(cause))[:120]}"
                failure, rate_limited = _Retryable(f"cannot connect to {self.host} ({reason})"), False
            if attempt >= self.max_retries:
                raise InputError(f"{what}: {failure.status}, retries exhausted after "
                                 f"{attempt + 1} attempt{'s' if attempt else ''}") from None
            self._pause(failure, attempt, rate_limited)
            attempt += 1
            with self._lock:
                self.stats.retries += 1

    def _status_line(self, what: str, status: int, exc: Any) -> str:
        hint = {401: f"the server refused the API key in ${self.api_key_env}" if self.api_key_env else
                     "the server wants an API key: set api_key_env to the NAME of the variable holding it",
                403: "the API key may not use this model", 404: f"no such endpoint or model {self.model!r}"}.get(status)
        detail = hint or _detail(exc)
        return self._scrub(f"{what}: HTTP {status} from {self.host}" + (f" ({detail})" if detail else ""))

    def _pause(self, failure: _Retryable, attempt: int, rate_limited: bool) -> None:
        ceiling = min(BACKOFF_CAP_S, BACKOFF_BASE_S * 2**attempt)
        wait = ceiling / 2 + random.uniform(0, ceiling / 2)  # equal jitter
        if failure.wait is not None and failure.wait <= RETRY_AFTER_CAP_S:
            wait = failure.wait + random.uniform(0, min(0.25, failure.wait / 10))  # honoured, lightly jittered
            if rate_limited:  # the server rate-limits us all: every worker waits
                with self._lock:
                    self._not_before = max(self._not_before, time.monotonic() + wait)
        time.sleep(wait)

    def _wait_turn(self) -> None:
        while (delay := self._not_before - time.monotonic()) > 0:
            time.sleep(delay)

    def _client_(self) -> Any:
        if self._client is None:
            try:
                import openai
            except ImportError:
                raise MissingExtra("openai", "api") from None
            # No key: a local server; the client insists on some value and sends it as a bearer token.
            self._client = openai.OpenAI(base_url=self.base_url, api_key=self._key or "no-key", timeout=self.timeout_s,
                                         max_retries=0)
        return self._client

    def _scrub(self, text: str) -> str:
        return text.replace(self._key, "***") if len(self._key) >= 4 else text

    def __repr__(self) -> str:  # no key, whatever prints the adapter
        return f"OpenAIAPI(endpoint={self._endpoint!r}, model={self.model!r}, api={self.api!r})"


def _detail(exc: Any) -> str:
    body = getattr(exc, "body", None)
    if isinstance(body, dict):
        body = body.get("detail") or body.get("error") or body.get("message") or body
        if isinstance(body, dict):
            body = body.get("message", "")
    text = " ".join(str(body or "").split())
    return text[:200]
