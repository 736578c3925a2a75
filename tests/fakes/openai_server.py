"""A scriptable OpenAI-compatible chat server on loopback, for tests that go through LiteLLM's real client.

Each model name gets a script: a queue of behaviours consumed one request at a time, then a default
behaviour for every later request. Requests are recorded with a monotonic arrival time so tests can
measure waits (e.g. that a ``Retry-After`` was honoured) from what the server saw, not from sleeps.

    with FakeOpenAIServer() as server:
        server.script("test-model", Fail(429, retry_after="1"), Reply(answer_json("ok", ["kb-1"])))
        litellm.completion(model="openai/test-model", api_base=server.base_url, api_key="dummy", ...)

Model names are matched without a LiteLLM provider prefix ("openai/test-model" == "test-model"),
because LiteLLM strips the prefix before it sends the request.
"""

from __future__ import annotations

import json
import threading
import time
from collections import deque
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler
from typing import Any

from tests.fakes.loopback import LoopbackServer


@dataclass(frozen=True)
class Reply:
    """A 200 chat completion whose assistant message is ``content`` (any string, valid JSON or not)."""

    content: str
    prompt_tokens: int = 420
    completion_tokens: int = 64
    delay_s: float = 0.0


@dataclass(frozen=True)
class Fail:
    """An HTTP error in the OpenAI error shape, e.g. ``Fail(429, retry_after="2")`` or ``Fail(500)``."""

    status: int
    retry_after: str | None = None
    message: str = "simulated failure"


@dataclass(frozen=True)
class Hang:
    """Sleep before answering, so the client's timeout fires first (the late reply is discarded)."""

    seconds: float
    then: Reply = field(default_factory=lambda: Reply(answer_json("late", [])))


Behaviour = Reply | Fail | Hang


@dataclass(frozen=True)
class RecordedRequest:
    model: str
    body: dict[str, Any]
    at: float  # time.monotonic() when the request arrived


def answer_json(answer: str, citations: list[str]) -> str:
    """The JSON the resolve prompt asks the model for."""
    return json.dumps({"answer": answer, "citations": citations})


def _bare(model: str) -> str:
    return model.split("/", 1)[1] if "/" in model else model


class FakeOpenAIServer(LoopbackServer):
    """``POST /v1/chat/completions`` on 127.0.0.1 with an ephemeral port, served from a daemon thread."""

    def __init__(self, default: Behaviour | None = None) -> None:
        self._default: Behaviour = default or Reply(answer_json("ok", []))
        self._scripts: dict[str, deque[Behaviour]] = {}
        self._defaults: dict[str, Behaviour] = {}
        self._lock = threading.Lock()
        self.requests: list[RecordedRequest] = []
        self._serve(self._handler_class(), "fake-openai")

    @property
    def base_url(self) -> str:
        return self.origin + "/v1"

    def script(self, model: str, *behaviours: Behaviour, then: Behaviour | None = None) -> None:
        """Queue ``behaviours`` for ``model``; ``then`` answers every request after the queue runs out."""
        with self._lock:
            self._scripts[_bare(model)] = deque(behaviours)
            if then is not None:
                self._defaults[_bare(model)] = then

    def requests_for(self, model: str) -> list[RecordedRequest]:
        with self._lock:
            return [r for r in self.requests if r.model == _bare(model)]

    def _next(self, model: str, body: dict[str, Any]) -> Behaviour:
        with self._lock:
            self.requests.append(RecordedRequest(model=model, body=body, at=time.monotonic()))
            queue = self._scripts.get(model)
            if queue:
                return queue.popleft()
            return self._defaults.get(model, self._default)

    def _handler_class(self) -> type[BaseHTTPRequestHandler]:
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, format: str, *args: Any) -> None:  # keep test output quiet
                return

            def do_POST(self) -> None:
                if not self.path.rstrip("/").endswith("/chat/completions"):
                    self._send(404, {"error": {"message": f"no route {self.path}", "type": "not_found"}})
                    return
                length = int(self.headers.get("Content-Length", "0"))
                try:
                    body = json.loads(self.rfile.read(length) or b"{}")
                except json.JSONDecodeError:
                    self._send(400, {"error": {"message": "request body is not JSON", "type": "invalid"}})
                    return
                model = _bare(str(body.get("model", "")))
                behaviour = server._next(model, body)
                if isinstance(behaviour, Hang):
                    time.sleep(behaviour.seconds)
                    behaviour = behaviour.then
                if isinstance(behaviour, Fail):
                    headers = {"Retry-After": behaviour.retry_after} if behaviour.retry_after else {}
                    error = {"message": behaviour.message, "type": "server_error", "code": behaviour.status}
                    self._send(behaviour.status, {"error": error}, headers)
                    return
                if behaviour.delay_s:
                    time.sleep(behaviour.delay_s)
                self._send(200, _completion(model, behaviour))

            def _send(
                self, status: int, payload: dict[str, Any], headers: dict[str, str] | None = None
            ) -> None:
                data = json.dumps(payload).encode()
                try:
                    self.send_response(status)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(data)))
                    for name, value in (headers or {}).items():
                        self.send_header(name, value)
                    self.end_headers()
                    self.wfile.write(data)
                except (BrokenPipeError, ConnectionResetError):
                    # The client gave up (its timeout fired): exactly what a Hang simulates.
                    self.close_connection = True

        return Handler


def _completion(model: str, reply: Reply) -> dict[str, Any]:
    return {
        "id": f"chatcmpl-fake-{time.monotonic_ns()}",
        "object": "chat.completion",
        "created": int(time.time()),
        "model": model,
        "choices": [
            {
                "index": 0,
                "message": {"role": "assistant", "content": reply.content},
                "finish_reason": "stop",
            }
        ],
        "usage": {
            "prompt_tokens": reply.prompt_tokens,
            "completion_tokens": reply.completion_tokens,
            "total_tokens": reply.prompt_tokens + reply.completion_tokens,
        },
    }


class BarrierServer(FakeOpenAIServer):
    """Answers only once ``parties`` requests are in flight together: sequential callers get a 500."""

    def __init__(self, parties: int, default: Behaviour | None = None, timeout_s: float = 5.0) -> None:
        super().__init__(default=default)
        self.barrier = threading.Barrier(parties, timeout=timeout_s)

    def _next(self, model: str, body: dict[str, Any]) -> Behaviour:
        behaviour = super()._next(model, body)
        try:
            self.barrier.wait()
        except threading.BrokenBarrierError:
            return Fail(500, message="requests did not arrive together")
        return behaviour
