"""The tickets behind the fake helpdesk (tests/fakes/crm_server.py): created, looked up and updated.

- Zendesk ``GET /api/v2/tickets.json?external_id=X`` lists the tickets whose ``external_id`` is X;
  ``POST /api/v2/tickets.json`` creates one (``{"ticket": {comment, external_id, subject, requester,
  tags, metadata}}``) and answers ``201 {"ticket": {...}}``.
- Freshdesk ``GET /api/v2/search/tickets?query="tag:'X'"`` answers ``{"results": [...], "total": n}``;
  ``POST /api/v2/tickets`` needs a requester (email or phone, a name with a bare phone), subject,
  description, status, priority and answers ``201 {"id": ...}``.

A creation re-sent with an ``Idempotency-Key`` already seen returns the first ticket, as Zendesk does.
Updates and conversation posts to a known ticket are applied to it (Zendesk ``additional_tags``
append, Freshdesk ``tags`` replace), so a test sees what an agent would: the ticket's comments and tags.
"""

from __future__ import annotations

import re
import threading
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs, urlsplit

FRESHDESK_TAG_QUERY = re.compile(r"^\"tag:'([^']+)'\"$")


@dataclass
class HelpdeskTicket:
    id: int
    api: str
    external_id: str | None
    tags: list[str]
    requester: dict[str, str]
    subject: str
    comments: list[dict[str, Any]] = field(default_factory=list)  # the opening one first
    metadata: list[dict[str, Any]] = field(default_factory=list)  # Zendesk audit metadata, per request

    def as_json(self) -> dict[str, Any]:
        return {"id": self.id, "external_id": self.external_id, "tags": self.tags, "subject": self.subject}


class TicketBook:
    def __init__(self, first_id: int = 90001) -> None:
        self.tickets: dict[int, HelpdeskTicket] = {}
        self._next_id = first_id
        self._created_by_key: dict[str, int] = {}
        self._lock = threading.Lock()

    def of(self, api: str) -> list[HelpdeskTicket]:
        with self._lock:
            return [t for t in self.tickets.values() if t.api == api]

    def zendesk_list(self, target: str) -> dict[str, Any]:
        wanted = parse_qs(urlsplit(target).query).get("external_id", [""])[0]
        with self._lock:
            found = [
                t.as_json() for t in self.tickets.values() if t.api == "zendesk" and t.external_id == wanted
            ]
        return {"tickets": found, "count": len(found)}

    def freshdesk_search(self, target: str) -> dict[str, Any] | None:
        """None when the query is not one this fake (and this use of Freshdesk's search) understands."""
        match = FRESHDESK_TAG_QUERY.match(parse_qs(urlsplit(target).query).get("query", [""])[0])
        if not match:
            return None
        with self._lock:
            found = [
                t.as_json() for t in self.tickets.values() if t.api == "freshdesk" and match[1] in t.tags
            ]
        return {"results": found, "total": len(found)}

    def create(self, api: str, body: dict[str, Any], key: str) -> HelpdeskTicket:
        with self._lock:
            if key in self._created_by_key:
                return self.tickets[self._created_by_key[key]]
            ticket_id, self._next_id = self._next_id, self._next_id + 1
            if api == "zendesk":
                spec = body["ticket"]
                ticket = HelpdeskTicket(
                    ticket_id, api, spec.get("external_id"), list(spec.get("tags", [])),
                    spec.get("requester", {}), spec["subject"], [spec["comment"]], [spec.get("metadata", {})],
                )  # fmt: skip
            else:
                requester = {k: body[k] for k in ("email", "phone", "name") if k in body}
                comment = {"body": body["description"], "private": False}
                ticket = HelpdeskTicket(
                    ticket_id, api, None, list(body.get("tags", [])), requester, body["subject"], [comment]
                )
            self.tickets[ticket_id] = ticket
            self._created_by_key[key] = ticket_id
            return ticket

    def apply(self, api: str, method: str, path: str, body: dict[str, Any]) -> None:
        """An update or a reply/note to a ticket this book holds; other ticket ids are left alone."""
        ticket_id = int(re.findall(r"/tickets/(\d+)", path)[0])
        with self._lock:
            ticket = self.tickets.get(ticket_id)
            if ticket is None:
                return
            if api == "zendesk":
                spec = body["ticket"]
                ticket.comments.append(spec["comment"])
                ticket.tags.extend(t for t in spec.get("additional_tags", []) if t not in ticket.tags)
                ticket.metadata.append(spec.get("metadata", {}))
            elif method == "POST":
                ticket.comments.append(body)
            elif "tags" in body:
                ticket.tags = list(body["tags"])


def zendesk_creation_problems(body: Any) -> list[str]:
    if not isinstance(body, dict) or set(body) != {"ticket"} or not isinstance(body["ticket"], dict):
        return ['body must be {"ticket": {...}}']
    ticket = body["ticket"]
    allowed = {"comment", "external_id", "subject", "requester", "tags", "metadata", "priority", "status"}
    problems = [f"unknown field {k}" for k in ticket if k not in allowed]
    comment = ticket.get("comment")
    if not isinstance(comment, dict) or not str(comment.get("body", "")).strip():
        problems.append("comment.body is required")
    if not isinstance(ticket.get("external_id", ""), str):
        problems.append("external_id must be a string")
    requester = ticket.get("requester", {"email": "x@example.com"})
    if not isinstance(requester, dict) or "@" not in str(requester.get("email", "")):
        problems.append("requester needs an email")
    if not isinstance(ticket.get("subject"), str):
        problems.append("subject must be a string")
    if not isinstance(ticket.get("metadata", {}), dict):
        problems.append("metadata must be an object")
    return problems


def freshdesk_creation_problems(body: dict[str, Any]) -> list[str]:
    allowed = {"email", "phone", "name", "subject", "description", "status", "priority", "tags"}
    problems = [f"unexpected field {k}" for k in body if k not in allowed]
    if not (body.get("email") or body.get("phone")):
        problems.append("a requester (email or phone) is mandatory")
    if body.get("phone") and not body.get("email") and not body.get("name"):
        problems.append("name is mandatory with a phone and no email")
    for name in ("subject", "description"):
        if not isinstance(body.get(name), str) or not body[name].strip():
            problems.append(f"{name} is mandatory")
    if body.get("status") not in {2, 3, 4, 5}:
        problems.append("status must be 2-5")
    if body.get("priority") not in {1, 2, 3, 4}:
        problems.append("priority must be 1-4")
    if not isinstance(body.get("tags", []), list):
        problems.append("tags must be a list of strings")
    return problems
