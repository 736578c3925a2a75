"""Customer context for a ticket: who is asking, their tier, their recent orders.

``open_crm(settings)`` returns the SQLite CRM built from the bundled Northwind Outfitters fixture
(fictional); :class:`HttpCrm` is the adapter shape for a real CRM's REST API.
"""

from __future__ import annotations

from pathlib import Path

from supportflow.connectors.crm.base import MAX_ORDERS, CrmConnector
from supportflow.connectors.crm.fixture import fixture_path, load_fixture
from supportflow.connectors.crm.http import HttpCrm, customer_from_json
from supportflow.connectors.crm.sqlite import SqliteCrm, build_database
from supportflow.settings import Settings

CRM_DB_NAME = "crm.sqlite3"


def crm_db_path(settings: Settings) -> Path:
    return settings.crm_db or settings.data_dir / CRM_DB_NAME


def open_crm(settings: Settings) -> CrmConnector:
    """The configured CRM: SQLite at ``settings.crm_db`` (default ``<data_dir>/crm.sqlite3``), created
    from the bundled fixture the first time (later calls reuse the file)."""
    return SqliteCrm(crm_db_path(settings))


__all__ = [
    "MAX_ORDERS",
    "CrmConnector",
    "HttpCrm",
    "SqliteCrm",
    "build_database",
    "crm_db_path",
    "customer_from_json",
    "fixture_path",
    "load_fixture",
    "open_crm",
]
