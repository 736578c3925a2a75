"""The bundled CRM fixture: fictional customers and orders of the fictional store Northwind Outfitters."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from supportflow.data import data_path
from supportflow.schemas.errors import SchemaError


def fixture_path() -> Path:
    return data_path("crm", "customers.json")


def load_fixture(path: Path | None = None) -> dict[str, Any]:
    """``{"customers": [...], "orders": [...]}`` from the bundled file (or ``path``)."""
    source = path or fixture_path()
    try:
        data = json.loads(source.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise SchemaError(f"CRM fixture {source} could not be read: {exc}") from exc
    if (
        not isinstance(data, dict)
        or not isinstance(data.get("customers"), list)
        or not isinstance(data.get("orders"), list)
    ):
        raise SchemaError(f"CRM fixture {source} needs 'customers' and 'orders' lists")
    return data
