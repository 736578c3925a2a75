"""A helpdesk + webhook receiver on loopback that validates what egress sends, for tests.

It speaks just enough of three APIs to reject what the real ones would reject:

- Zendesk ``PUT /api/v2/tickets/{id}.json``: basic auth ``{email}/token:{token}``; body
  ``{"ticket": {"comment": {"body", "public"}, "status", "priority", "group_id", "additional_tags"}}``.
- Freshdesk ``POST /api/v2/tickets/{id}/reply``, ``POST .../notes`` (``private``),
  ``PUT /api/v2/tickets/{id}`` (status 2-5, priority 1-4, group_id, tags); basic auth ``{api_key}:X``.
- Ticket lookup and creation for conversations the helpdesk has no ticket for, and the tickets they
  create (tests/fakes/helpdesk_tickets.py): ``server.tickets``.
- Signed webhook ``POST {webhook_path}``: HMAC-SHA256 over ``"{timestamp}." + body``, checked here with
  its own code (not the code under test), timestamp within tolerance.

Every request must carry an ``Idempotency-Key``. Requests are recorded with their arrival time
(``time.monotonic()``) so tests measure waits from what the server saw. Behaviours can be scripted per
path (or for any path): ``Respond(500)``, ``Respond(429, retry_after="1")``, ``Hang(2.0)`` (answer after
the client's timeout), ``Respond(400)``. ``on_request`` runs on arrival, before the answer: the crash
test uses it to kill the egress process with a request in flight.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import re
import socket
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler
from typing import Any
from urllib.parse import urlsplit

from tests.fakes.helpdesk_tickets import (
    TicketBook,
    freshdesk_creation_problems,
    zendesk_creation_problems,
)
from tests.fakes.loopback import LoopbackServer


@dataclass(frozen=True)
class Respond:
    status: int
    retry_after: str | None = None


@dataclass(frozen=True)
class Hang:
    seconds: float


Behaviour = Respond | Hang


@dataclass
class Recorded:
    api: str  # "zendesk" | "freshdesk" | "webhook" | "unknown"
    method: str
    path: str
    headers: dict[str, str]  # lower-case names
    raw: bytes
    at: float
    status: int = 0  # what the server answered; 0 while in flight or when the client gave up

    @property
    def json(self) -> Any:
        return json.loads(self.raw)

    @property
    def key(self) -> str:
        return self.headers.get("idempotency-key", "")


ZENDESK_PATH = re.compile(r"^/api/v2/tickets/(\d+)\.json$")
FRESHDESK_CONVERSATION = re.compile(r"^/api/v2/tickets/(\d+)/(reply|notes)$")
FRESHDESK_TICKET = re.compile(r"^/api/v2/tickets/(\d+)$")
ZENDESK_TICKETS = "/api/v2/tickets.json"  # GET ?external_id=, POST creates
FRESHDESK_TICKETS = "/api/v2/tickets"  # POST creates
FRESHDESK_SEARCH = "/api/v2/search/tickets"  # GET ?query=
TAG = re.compile(r"^[a-z0-9_\-/]+$")


def _basic(user: str, password: str) -> str:
    return "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()


class FakeCrmServer(LoopbackServer):
    def __init__(
        self,
        *,
        zendesk_email: str = "agent@example.com",
        zendesk_token: str = "zd-token",
        freshdesk_key: str = "fd-key",
        webhook_secret: bytes = b"whsec-test",
        webhook_path: str = "/hooks/supportflow",
        signature_tolerance_s: float = 300.0,
        on_request: Callable[[Recorded], None] | None = None,
    ) -> None:
        self._zendesk_auth = _basic(f"{zendesk_email}/token", zendesk_token)
        self._freshdesk_auth = _basic(freshdesk_key, "X")
        self.webhook_secret = webhook_secret
        self.webhook_path = webhook_path
        self.signature_tolerance_s = signature_tolerance_s
        self.on_request = on_request
        self.requests: list[Recorded] = []
        self.applied_keys: set[str] = set()  # keys of requests answered 2xx: what "happened" in the helpdesk
        self.tickets = TicketBook()
        self._scripts: dict[str | None, deque[Behaviour]] = {}
        self._lock = threading.Lock()
        self._serve(self._handler_class(), "fake-crm")

    @property
    def base_url(self) -> str:
        return self.origin

    @property
    def webhook_url(self) -> str:
        return self.base_url + self.webhook_path

    def script(self, *behaviours: Behaviour, path: str | None = None) -> None:
        """Queue behaviours for requests to ``path`` (any path when None); afterwards requests succeed."""
        with self._lock:
            self._scripts.setdefault(path, deque()).extend(behaviours)

    def recorded(self, api: str | None = None, path: str | None = None) -> list[Recorded]:
        with self._lock:
            return [
                r for r in self.requests if (api is None or r.api == api) and (path is None or r.path == path)
            ]

    # -- validation: returns (status, error body) or None when the request is acceptable -----------

    def _validate(self, rec: Recorded) -> tuple[int, dict[str, Any]] | None:
        if not rec.key:
            return 400, {"error": "missing Idempotency-Key"}
        if rec.api == "webhook":
            return self._validate_webhook(rec)
        expected_auth = self._zendesk_auth if rec.api == "zendesk" else self._freshdesk_auth
        if rec.headers.get("authorization") != expected_auth:
            return 401, {"error": "Couldn't authenticate you"}
        if rec.method == "GET":
            problems = []
            if rec.api == "freshdesk" and self.tickets.freshdesk_search(rec.path) is None:
                problems = ["query must be \"tag:'<tag>'\""]
        elif not rec.headers.get("content-type", "").startswith("application/json"):
            return 415, {"error": "Content-Type must be application/json"}
        else:
            try:
                body = rec.json
            except ValueError:
                return 400, {"error": "body is not JSON"}
            problems = _problems(rec, body)
        if problems:
            if rec.api == "zendesk":
                return 422, {
                    "error": "RecordInvalid",
                    "description": "Record validation errors",
                    "details": problems,
                }
            return 400, {"description": "Validation failed", "errors": [{"message": p} for p in problems]}
        return None

    def _validate_webhook(self, rec: Recorded) -> tuple[int, dict[str, Any]] | None:
        timestamp = rec.headers.get("x-supportflow-timestamp", "")
        if not timestamp.isdigit() or abs(time.time() - int(timestamp)) > self.signature_tolerance_s:
            return 401, {"error": "stale or missing timestamp"}
        mac = hmac.new(self.webhook_secret, timestamp.encode() + b"." + rec.raw, hashlib.sha256).hexdigest()
        if not hmac.compare_digest(rec.headers.get("x-supportflow-signature", ""), "sha256=" + mac):
            return 401, {"error": "bad signature"}
        try:
            body = rec.json
        except ValueError:
            return 400, {"error": "body is not JSON"}
        if not isinstance(body, dict) or not {"ticket_id", "decision", "conversation_id"} <= body.keys():
            return 400, {"error": "not an outcome"}
        return None

    def _next_behaviour(self, path: str) -> Behaviour | None:
        with self._lock:
            for key in (path, None):
                queue = self._scripts.get(key)
                if queue:
                    return queue.popleft()
        return None

    def _classify(self, method: str, target: str) -> str:
        path = urlsplit(target).path
        if method == "POST" and path == self.webhook_path:
            return "webhook"
        if (method == "PUT" and ZENDESK_PATH.match(path)) or (
            method in ("GET", "POST") and path == ZENDESK_TICKETS
        ):
            return "zendesk"
        if (
            (method == "POST" and (FRESHDESK_CONVERSATION.match(path) or path == FRESHDESK_TICKETS))
            or (method == "PUT" and FRESHDESK_TICKET.match(path))
            or (method == "GET" and path == FRESHDESK_SEARCH)
        ):
            return "freshdesk"
        return "unknown"

    def _ticket_answer(self, rec: Recorded, path: str) -> tuple[int, dict[str, Any]]:
        """Lookups and creations of helpdesk tickets (validated already)."""
        if rec.method == "GET":
            found = self.tickets.zendesk_list(rec.path) if rec.api == "zendesk" else None
            return 200, found or self.tickets.freshdesk_search(rec.path) or {}
        ticket = self.tickets.create(rec.api, rec.json, rec.key).as_json()
        return 201, {"ticket": ticket} if rec.api == "zendesk" else ticket

    def _handler_class(self) -> type[BaseHTTPRequestHandler]:
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, format: str, *args: Any) -> None:
                return

            def setup(self) -> None:
                super().setup()
                # Headers and body go out in two writes; without this, Nagle + delayed ACK add ~40 ms.
                self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

            def do_GET(self) -> None:
                self._handle("GET")

            def do_PUT(self) -> None:
                self._handle("PUT")

            def do_POST(self) -> None:
                self._handle("POST")

            def _handle(self, method: str) -> None:
                raw = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                rec = Recorded(
                    api=server._classify(method, self.path), method=method, path=self.path,
                    headers={k.lower(): v for k, v in self.headers.items()}, raw=raw, at=time.monotonic(),
                )  # fmt: skip
                with server._lock:
                    server.requests.append(rec)
                if server.on_request:
                    server.on_request(rec)
                if rec.api == "unknown":
                    self._send(rec, 404, {"error": f"no route {method} {self.path}"})
                    return
                invalid = server._validate(rec)
                if invalid:
                    self._send(rec, *invalid)
                    return
                behaviour = server._next_behaviour(self.path)
                if isinstance(behaviour, Hang):
                    time.sleep(behaviour.seconds)  # the client has given up by now; the answer is lost
                elif isinstance(behaviour, Respond):
                    headers = {"Retry-After": behaviour.retry_after} if behaviour.retry_after else {}
                    self._send(rec, behaviour.status, {"error": "scripted"}, headers)
                    return
                self._succeed(rec)

            def _succeed(self, rec: Recorded) -> None:
                with server._lock:
                    replay = rec.key in server.applied_keys
                    if rec.method != "GET":  # a lookup changes nothing: there is nothing to replay
                        server.applied_keys.add(rec.key)
                headers = {"x-idempotency-lookup": "hit" if replay else "miss"}
                path = urlsplit(rec.path).path
                if path in (ZENDESK_TICKETS, FRESHDESK_TICKETS, FRESHDESK_SEARCH):
                    self._send(rec, *server._ticket_answer(rec, path), headers)
                    return
                ticket_id = int(rec.path.split("/")[4].split(".")[0]) if rec.api != "webhook" else 0
                if rec.api != "webhook" and not replay:  # a replayed request is not applied twice
                    server.tickets.apply(rec.api, rec.method, path, rec.json)
                if rec.api == "freshdesk" and rec.method == "POST":
                    self._send(rec, 201, {"id": len(server.requests), "ticket_id": ticket_id}, headers)
                elif rec.api == "webhook":
                    self._send(rec, 202, {"received": True}, headers)
                else:
                    self._send(rec, 200, {"ticket": {"id": ticket_id}}, headers)

            def _send(
                self,
                rec: Recorded,
                status: int,
                payload: dict[str, Any],
                headers: dict[str, str] | None = None,
            ) -> None:
                data = json.dumps(payload).encode()
                rec.status = status  # before the write: the client may read it the moment it is sent
                try:
                    self.send_response(status)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(data)))
                    for name, value in (headers or {}).items():
                        self.send_header(name, value)
                    self.end_headers()
                    self.wfile.write(data)
                except (BrokenPipeError, ConnectionResetError):
                    rec.status = 0  # the client gave up before the answer
                    self.close_connection = True

        return Handler


def _problems(rec: Recorded, body: Any) -> list[str]:
    path = urlsplit(rec.path).path
    if rec.api == "zendesk":
        return zendesk_creation_problems(body) if path == ZENDESK_TICKETS else _zendesk_problems(body)
    if path == FRESHDESK_TICKETS:
        return freshdesk_creation_problems(body) if isinstance(body, dict) else ["body must be an object"]
    return _freshdesk_problems(rec, body)


def _zendesk_problems(body: Any) -> list[str]:
    if not isinstance(body, dict) or set(body) != {"ticket"} or not isinstance(body["ticket"], dict):
        return ['body must be {"ticket": {...}}']
    ticket = body["ticket"]
    allowed = {"comment", "status", "priority", "group_id", "additional_tags", "tags", "metadata"}
    problems = [f"unknown field {k}" for k in ticket if k not in allowed]
    comment = ticket.get("comment")
    if (
        not isinstance(comment, dict)
        or not isinstance(comment.get("body"), str)
        or not comment["body"].strip()
    ):
        problems.append("comment.body is required")
    elif not isinstance(comment.get("public"), bool):
        problems.append("comment.public must be a boolean")
    if "status" in ticket and ticket["status"] not in {"new", "open", "pending", "hold", "solved", "closed"}:
        problems.append(f"invalid status {ticket['status']!r}")
    if "priority" in ticket and ticket["priority"] not in {"low", "normal", "high", "urgent"}:
        problems.append(f"invalid priority {ticket['priority']!r}")
    if "group_id" in ticket and not isinstance(ticket["group_id"], int):
        problems.append("group_id must be an integer")
    for field in ("additional_tags", "tags"):
        tags = ticket.get(field, [])
        if not isinstance(tags, list) or not all(isinstance(t, str) and TAG.match(t) for t in tags):
            problems.append(f"{field} must be a list of tags ([a-z0-9_-/])")
    return problems


def _freshdesk_problems(rec: Recorded, body: Any) -> list[str]:
    if not isinstance(body, dict):
        return ["body must be a JSON object"]
    match = FRESHDESK_CONVERSATION.match(rec.path)
    if match:
        allowed = {"body", "private"} if match.group(2) == "notes" else {"body"}
        problems = [f"unexpected field {k}" for k in body if k not in allowed]
        if not isinstance(body.get("body"), str) or not body["body"].strip():
            problems.append("body is required")
        if match.group(2) == "notes" and not isinstance(body.get("private"), bool):
            problems.append("private must be a boolean")
        return problems
    allowed = {"status", "priority", "group_id", "tags"}
    problems = [f"unexpected field {k}" for k in body if k not in allowed]
    if not body:
        problems.append("no field to update")
    if "status" in body and body["status"] not in {2, 3, 4, 5}:
        problems.append(f"invalid status {body['status']!r}")
    if "priority" in body and body["priority"] not in {1, 2, 3, 4}:
        problems.append(f"invalid priority {body['priority']!r}")
    if "group_id" in body and not isinstance(body["group_id"], int):
        problems.append("group_id must be an integer")
    if "tags" in body and not (
        isinstance(body["tags"], list) and all(isinstance(t, str) for t in body["tags"])
    ):
        problems.append("tags must be a list of strings")
    return problems
