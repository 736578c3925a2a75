"""The default CRM: a local SQLite file built from the bundled fixture on first use.

One connection shared across threads (Faust agents and the HTTP API may call concurrently), guarded
by a lock because a sqlite3 connection is not safe for concurrent use even with check_same_thread off.
"""

from __future__ import annotations

import json
import os
import sqlite3
import threading
from pathlib import Path
from typing import Any

from supportflow.connectors.crm.base import MAX_ORDERS
from supportflow.connectors.crm.fixture import load_fixture
from supportflow.processors.contacts import normalize_email, normalize_phone, stored_email
from supportflow.schemas.errors import PermanentError, TransientError
from supportflow.schemas.models import CustomerContext, Order

_SCHEMA = """
CREATE TABLE customers (
    customer_id TEXT PRIMARY KEY,
    name TEXT NOT NULL DEFAULT '',
    email TEXT,
    phone TEXT,
    tier TEXT NOT NULL DEFAULT 'standard',
    vip INTEGER NOT NULL DEFAULT 0,
    language TEXT NOT NULL DEFAULT 'en'
);
CREATE UNIQUE INDEX customers_email ON customers(email);
CREATE INDEX customers_phone ON customers(phone);
CREATE TABLE orders (
    order_id TEXT PRIMARY KEY,
    customer_id TEXT NOT NULL REFERENCES customers(customer_id),
    status TEXT NOT NULL,
    total REAL NOT NULL,
    currency TEXT NOT NULL DEFAULT 'USD',
    placed_at TEXT NOT NULL DEFAULT '',
    items TEXT NOT NULL DEFAULT '[]',
    carrier TEXT NOT NULL DEFAULT '',
    tracking_number TEXT NOT NULL DEFAULT '',
    delivered_at TEXT NOT NULL DEFAULT ''
);
CREATE INDEX orders_customer ON orders(customer_id, placed_at);
"""
_TIMEOUT_S = 5.0


def build_database(db_path: Path, fixture: dict[str, Any] | None = None) -> None:
    """Write the fixture into a new database at ``db_path`` (atomically: build aside, then rename)."""
    data = fixture or load_fixture()
    db_path.parent.mkdir(parents=True, exist_ok=True)
    tmp = db_path.with_name(f".{db_path.name}.{os.getpid()}.{threading.get_ident()}.tmp")
    tmp.unlink(missing_ok=True)
    conn = sqlite3.connect(tmp, timeout=_TIMEOUT_S)
    try:
        conn.executescript(_SCHEMA)
        conn.executemany(
            "INSERT INTO customers VALUES (?, ?, ?, ?, ?, ?, ?)",
            [
                (
                    c["customer_id"],
                    c.get("name", ""),
                    stored_email(c.get("email")),
                    normalize_phone(c.get("phone")),
                    c.get("tier", "standard"),
                    int(bool(c.get("vip"))),
                    c.get("language", "en"),
                )
                for c in data["customers"]
            ],
        )
        conn.executemany(
            "INSERT INTO orders VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            [
                (
                    o["order_id"],
                    o["customer_id"],
                    o["status"],
                    float(o["total"]),
                    o.get("currency", "USD"),
                    o.get("placed_at", ""),
                    json.dumps(o.get("items", [])),
                    o.get("carrier", ""),
                    o.get("tracking_number", ""),
                    o.get("delivered_at", ""),
                )
                for o in data["orders"]
            ],
        )
        conn.commit()
    finally:
        conn.close()
    # Two workers starting together may both build; os.replace makes the last one win atomically.
    os.replace(tmp, db_path)


class SqliteCrm:
    """CrmConnector over a SQLite file; creates it from the bundled fixture when missing."""

    def __init__(self, db_path: Path) -> None:
        self.db_path = Path(db_path)
        if not self.db_path.exists():
            build_database(self.db_path)
        self._lock = threading.Lock()
        self._conn = sqlite3.connect(self.db_path, check_same_thread=False, timeout=_TIMEOUT_S)
        self._conn.row_factory = sqlite3.Row

    def find_customer(
        self, *, customer_id: str | None = None, email: str | None = None, phone: str | None = None
    ) -> CustomerContext | None:
        lookups = [
            ("customer_id", (customer_id or "").strip() or None),
            ("email", normalize_email(email)),
            ("phone", normalize_phone(phone)),
        ]
        try:
            with self._lock:
                for column, value in lookups:
                    if value is None:
                        continue
                    # column comes from the fixed list above, never from input.
                    row = self._conn.execute(
                        f"SELECT * FROM customers WHERE {column} = ?", (value,)
                    ).fetchone()
                    if row is not None:
                        return self._context(row)
        except sqlite3.OperationalError as exc:  # locked / busy / disk I/O: may clear up
            raise TransientError(f"CRM database {self.db_path} unavailable: {exc}") from exc
        except sqlite3.DatabaseError as exc:  # corrupt file, wrong schema: retrying will not help
            raise PermanentError(f"CRM database {self.db_path} is unusable: {exc}") from exc
        return None

    def _context(self, row: sqlite3.Row) -> CustomerContext:
        orders = self._conn.execute(
            "SELECT * FROM orders WHERE customer_id = ? ORDER BY placed_at DESC, order_id DESC LIMIT ?",
            (row["customer_id"], MAX_ORDERS),
        ).fetchall()
        return CustomerContext(
            customer_id=row["customer_id"],
            name=row["name"],
            email=row["email"] or "",
            phone=row["phone"] or "",
            tier=row["tier"],
            vip=bool(row["vip"]),
            language=row["language"],
            orders=[
                Order(
                    order_id=o["order_id"],
                    status=o["status"],
                    total=o["total"],
                    currency=o["currency"],
                    placed_at=o["placed_at"],
                    items=json.loads(o["items"]),
                    carrier=o["carrier"],
                    tracking_number=o["tracking_number"],
                    delivered_at=o["delivered_at"],
                )
                for o in orders
            ],
        )

    def close(self) -> None:
        with self._lock:
            self._conn.close()
