"""Which requests already reached the helpdesk, so a redelivered outcome is never posted twice.

Kafka consumption is at-least-once: a worker that crashes after posting but before committing its offset
gets the same outcome again. Checking this store before posting (and recording after a success) turns
that redelivery into a no-op on the same worker; the ``Idempotency-Key`` header covers the remaining
window (crash between the post and the record) for receivers that dedupe by key.

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
            self._db.execute(_SCHEMA)

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
