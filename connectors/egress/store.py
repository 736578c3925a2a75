"""Which requests already reached the helpdesk, so a redelivered outcome is never posted twice.

Kafka consumption is at-least-once: a worker that crashes after posting but before committing its offset
gets the same outcome again. Checking this store before posting (and recording after a success) turns
that redelivery into a no-op on the same worker; the ``Idempotency-Key`` header covers the remaining
window (crash between the post and the record) for receivers that dedupe by key. The store also keeps
which helpdesk ticket each conversation that did not come from the helpdesk is linked to
(:mod:`.tickets`), so a worker looks it up once per conversation.

SQLite in WAL mode at ``<data_dir>/egress-<connector>.sqlite3``, or ``":memory:"`` for tests.
"""

from __future__ import annotations

import sqlite3
import threading
import time
from pathlib import Path

_SCHEMA = """
CREATE TABLE IF NOT EXISTS delivered (
    key TEXT PRIMARY KEY,
    connector TEXT NOT NULL,
    ticket_id TEXT NOT NULL,
    decision TEXT NOT NULL,
    step TEXT NOT NULL,
    status INTEGER NOT NULL,
    delivered_at_ms INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS linked_ticket (
    connector TEXT NOT NULL,
    conversation_id TEXT NOT NULL,
    helpdesk_ticket_id TEXT NOT NULL,
    linked_at_ms INTEGER NOT NULL,
    PRIMARY KEY (connector, conversation_id)
)
"""


class IdempotencyStore:
    def __init__(self, path: Path | str = ":memory:") -> None:
        if str(path) != ":memory:":
            Path(path).parent.mkdir(parents=True, exist_ok=True)
        # The runner is single-threaded; the lock makes the store safe to share with a test thread too.
        self._db = sqlite3.connect(str(path), check_same_thread=False, isolation_level=None, timeout=10.0)
        self._lock = threading.Lock()
        with self._lock:
            if str(path) != ":memory:":
                self._db.execute("PRAGMA journal_mode=WAL")
            self._db.executescript(_SCHEMA)

    def contains(self, key: str) -> bool:
        with self._lock:
            return self._db.execute("SELECT 1 FROM delivered WHERE key = ?", (key,)).fetchone() is not None

    def record(
        self, key: str, *, connector: str, ticket_id: str, decision: str, step: str, status: int
    ) -> None:
        """Durable on return (autocommit): a crash after this line never re-posts the request."""
        with self._lock:
            self._db.execute(
                "INSERT OR IGNORE INTO delivered VALUES (?, ?, ?, ?, ?, ?, ?)",
                (key, connector, ticket_id, decision, step, status, int(time.time() * 1000)),
            )

    def linked_ticket(self, connector: str, conversation_id: str) -> str | None:
        """The helpdesk ticket found or created for a conversation that did not come from the helpdesk."""
        with self._lock:
            row = self._db.execute(
                "SELECT helpdesk_ticket_id FROM linked_ticket WHERE connector = ? AND conversation_id = ?",
                (connector, conversation_id),
            ).fetchone()
        return None if row is None else str(row[0])

    def link_ticket(self, connector: str, conversation_id: str, helpdesk_ticket_id: str) -> None:
        with self._lock:
            self._db.execute(
                "INSERT OR IGNORE INTO linked_ticket VALUES (?, ?, ?, ?)",
                (connector, conversation_id, helpdesk_ticket_id, int(time.time() * 1000)),
            )

    def count(self) -> int:
        """Requests recorded as delivered. (Not ``__len__``: an empty store must still be truthy.)"""
        with self._lock:
            row = self._db.execute("SELECT COUNT(*) FROM delivered").fetchone()
            return int(row[0])

    def close(self) -> None:
        with self._lock:
            self._db.close()


def store_path(data_dir: Path, connector: str) -> Path:
    return data_dir / f"egress-{connector}.sqlite3"
