"""Feedback joined to the outcome it is about: a bounded entry per ticket key, in any key-value store.

An outcome is kept under four keys, because each source names a ticket its own way: its ticket id and
its external id (the API client's own ticket id: API and file feedback), its conversation id (a Zendesk ticket's ``external_id``, or the Zendesk or
Freshdesk id of a ticket that came from the helpdesk) and the ``sf-<hash>`` tag egress puts on a
Freshdesk ticket it created. Feedback looks itself up by its ``ticket_id``, then its ``external_id``.

Feedback that arrives before its outcome (a webhook can overtake the pipeline) is kept pending in the
entry of its ticket id, at most ``MAX_PENDING`` per key, and joined when the outcome comes. Each entry
remembers the feedback ids it counted (at most ``MAX_COUNTED``), so a replayed feedback is counted
once. Entries untouched for ``max_age_ms`` are expired by the store's owner (:func:`expired`).
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Protocol

import orjson

from supportflow.processors.redact import redact
from supportflow.schemas.models import Decision, Feedback, Outcome

MAX_PENDING = 16
MAX_COUNTED = 64
#: The draft kept for edit distance (longer drafts are compared on their first characters).
MAX_ANSWER_CHARS = 4_000


class Store(Protocol):
    def get(self, key: str) -> bytes | None: ...
    def put(self, key: str, value: bytes) -> None: ...


@dataclass(frozen=True)
class Decided:
    """What the join keeps of an outcome: its path, intent and redacted answer."""

    ticket_id: str
    path: str
    intent: str
    answer: str
    decided_at_ms: int
    router_version: str = ""


@dataclass(frozen=True)
class Joined:
    decided: Decided
    feedback: Feedback


@dataclass
class Entry:
    decided: Decided | None = None
    pending: list[Feedback] = field(default_factory=list)
    counted: list[str] = field(default_factory=list)
    touched_ms: int = 0
    #: Under a conversation id or tag: the ticket id whose entry holds the outcome (kept once).
    alias: str = ""

    def dumps(self) -> bytes:
        return orjson.dumps({
            "decided": None if self.decided is None else self.decided.__dict__,
            "pending": [f.model_dump(mode="json") for f in self.pending],
            "counted": self.counted, "touched_ms": self.touched_ms, "alias": self.alias,
        })  # fmt: skip

    @classmethod
    def loads(cls, raw: bytes | None) -> Entry:
        if not raw:
            return cls()
        doc = orjson.loads(raw)
        decided = Decided(**doc["decided"]) if doc.get("decided") else None
        pending = [Feedback.model_validate(f) for f in doc.get("pending", [])]
        counted, touched = list(doc.get("counted", [])), int(doc.get("touched_ms", 0))
        return cls(decided, pending, counted, touched, str(doc.get("alias", "")))

    def count(self, feedback_id: str) -> None:
        self.counted = [*self.counted, feedback_id][-MAX_COUNTED:]


def path_of(decision: Decision | str) -> str:
    """The dashboards' name of a decision: auto / suggested / escalated / closed."""
    value = str(decision)
    return "auto" if value == Decision.AUTO_RESOLVED else value


def freshdesk_link_tag(conversation_id: str) -> str:
    """The tag egress puts on a Freshdesk ticket it created (``connectors.egress.freshdesk``)."""
    return "sf-" + hashlib.sha256(conversation_id.encode()).hexdigest()[:20]


def outcome_keys(outcome: Outcome) -> list[str]:
    keys = [
        outcome.ticket_id,
        outcome.external_id,
        outcome.conversation_id,
        freshdesk_link_tag(outcome.conversation_id),
    ]
    return list(dict.fromkeys(k for k in keys if k))


def decided(outcome: Outcome) -> Decided:
    """Only a suggestion's draft is kept: edit distance is measured on drafts an agent sent or changed."""
    keep = outcome.decision == Decision.SUGGESTED and outcome.answer
    answer = redact(outcome.answer[:MAX_ANSWER_CHARS]).text if keep else ""
    return Decided(
        outcome.ticket_id,
        path_of(outcome.decision),
        outcome.intent,
        answer,
        outcome.decided_at_ms,
        outcome.router_version,
    )


@dataclass
class JoinCounts:
    joined: int = 0
    duplicates: int = 0
    pending_dropped: int = 0


class FeedbackJoin:
    """The join over ``store``; every method returns the pairs it could join now."""

    def __init__(self, store: Store) -> None:
        self.store = store
        self.counts = JoinCounts()

    def _load(self, key: str) -> Entry:
        return Entry.loads(self.store.get(key))

    def _save(self, key: str, entry: Entry, now_ms: int) -> None:
        entry.touched_ms = now_ms
        self.store.put(key, entry.dumps())

    def add_outcome(self, outcome: Outcome, now_ms: int) -> list[Joined]:
        """Keep the outcome under each of its keys; join what was pending under them."""
        kept = decided(outcome)
        joined: list[Joined] = []
        for key in outcome_keys(outcome):
            entry = self._load(key)
            if key == outcome.ticket_id:
                entry.decided, entry.alias = kept, ""
            else:  # the latest outcome of a conversation is the one its helpdesk ticket's feedback is about
                entry.decided, entry.alias = None, outcome.ticket_id
            for waiting in entry.pending:
                if waiting.feedback_id not in entry.counted:
                    entry.count(waiting.feedback_id)
                    joined.append(Joined(kept, waiting))
            entry.pending = []
            self._save(key, entry, now_ms)
        self.counts.joined += len(joined)
        return joined

    def add_feedback(self, feedback: Feedback, now_ms: int) -> list[Joined]:
        """Join to the outcome under the feedback's ticket id or external id, else keep it pending."""
        for key in _lookup_keys(feedback):
            entry = self._load(key)
            if feedback.feedback_id in entry.counted or _is_pending(entry, feedback):
                self.counts.duplicates += 1
                return []
            found = self._load(entry.alias).decided if entry.alias else entry.decided
            if found is not None:
                entry.count(feedback.feedback_id)
                self._save(key, entry, now_ms)
                self.counts.joined += 1
                return [Joined(found, feedback)]
        key = feedback.ticket_id
        entry = self._load(key)
        entry.pending.append(feedback)
        if len(entry.pending) > MAX_PENDING:  # oldest first out: a flood on one ticket stays bounded
            entry.pending = entry.pending[-MAX_PENDING:]
            self.counts.pending_dropped += 1
        self._save(key, entry, now_ms)
        return []


def _lookup_keys(feedback: Feedback) -> Iterator[str]:
    yield from dict.fromkeys(k for k in (feedback.ticket_id, feedback.external_id) if k)


def _is_pending(entry: Entry, feedback: Feedback) -> bool:
    return any(p.feedback_id == feedback.feedback_id for p in entry.pending)


def expired(raw: bytes | None, now_ms: int, max_age_ms: int) -> bool:
    """An entry nobody touched for ``max_age_ms``: its outcome and pending feedback are dropped."""
    return now_ms - Entry.loads(raw).touched_ms > max_age_ms


class MemoryStore(dict[str, bytes]):
    """A plain dict as the join's store (the report and the tests)."""

    def put(self, key: str, value: bytes) -> None:
        self[key] = value
