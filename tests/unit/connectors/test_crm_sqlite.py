"""SQLite CRM built from the bundled Northwind Outfitters fixture."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest

from supportflow.connectors.crm import (
    MAX_ORDERS,
    CrmConnector,
    SqliteCrm,
    crm_db_path,
    load_fixture,
    open_crm,
)
from supportflow.processors.contacts import normalize_phone
from supportflow.schemas.errors import PermanentError
from supportflow.settings import Settings


@pytest.fixture(scope="module")
def crm(tmp_path_factory: pytest.TempPathFactory) -> SqliteCrm:
    return SqliteCrm(tmp_path_factory.mktemp("crm") / "crm.sqlite3")


def test_fixture_is_the_documented_fictional_store() -> None:
    data = load_fixture()
    assert "Fictional" in data["_notice"] and data["store"]["name"] == "Northwind Outfitters"
    assert len(data["customers"]) == 40 and len(data["orders"]) == 120
    totals = [o["total"] for o in data["orders"]]
    assert min(totals) >= 15 and max(totals) <= 1500
    assert all(o["tracking_number"] and o["carrier"] for o in data["orders"] if o["status"] == "shipped")
    assert all(normalize_phone(c["phone"]) == c["phone"] for c in data["customers"])
    assert {o["placed_at"][:4] for o in data["orders"]} == {"2026"}


def test_open_crm_creates_db_from_fixture_once(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path)
    first = open_crm(settings)
    assert isinstance(first, CrmConnector)
    assert crm_db_path(settings) == tmp_path / "crm.sqlite3"
    mtime = crm_db_path(settings).stat().st_mtime_ns
    second = open_crm(settings)
    assert crm_db_path(settings).stat().st_mtime_ns == mtime  # reused, not rebuilt
    assert second.find_customer(customer_id="cus_0001") == first.find_customer(customer_id="cus_0001")


def test_open_crm_honours_explicit_db_path(tmp_path: Path) -> None:
    crm = open_crm(Settings(data_dir=tmp_path / "unused", crm_db=tmp_path / "elsewhere.db"))
    assert crm.find_customer(customer_id="cus_0002") is not None
    assert (tmp_path / "elsewhere.db").exists()


def test_find_by_id_returns_profile_and_orders_newest_first(crm: SqliteCrm) -> None:
    maya = crm.find_customer(customer_id="cus_0001")
    assert maya is not None
    assert (maya.name, maya.email, maya.phone, maya.tier, maya.vip) == (
        "Maya Thompson",
        "maya.thompson@example.com",
        "+14155550101",
        "vip",
        True,
    )
    assert maya.orders[0].order_id == "NW-100248"
    assert maya.orders[0].items == ["1 x Alpine Down Parka", "2 x Trailhead Merino Base Layer"]
    placed = [o.placed_at for o in maya.orders]
    assert placed == sorted(placed, reverse=True) and len(maya.orders) <= MAX_ORDERS


def test_find_by_email_is_case_insensitive(crm: SqliteCrm) -> None:
    found = crm.find_customer(email="  Grace.KIM@Example.com ")
    assert found is not None and found.customer_id == "cus_0009"


@pytest.mark.parametrize("phone", ["15125550140", "+1 512-555-0140", "(512) 555-0140", "001 512 555 0140"])
def test_find_by_phone_normalizes_to_e164(crm: SqliteCrm, phone: str) -> None:
    found = crm.find_customer(phone=phone)
    assert found is not None and found.name == "Ruth Abernathy"


def test_find_prefers_id_then_falls_back_to_email(crm: SqliteCrm) -> None:
    found = crm.find_customer(customer_id="cus_9999", email="jonas.becker@example.de")
    assert found is not None and found.customer_id == "cus_0004"


@pytest.mark.parametrize(
    "kwargs",
    [
        {},
        {"email": "nobody@example.com"},
        {"phone": "+15550000000"},
        {"customer_id": "cus_9999"},
        {"email": "not an email"},
    ],
)
def test_find_unknown_returns_none(crm: SqliteCrm, kwargs: dict[str, str]) -> None:
    assert crm.find_customer(**kwargs) is None


def test_find_is_injection_safe(crm: SqliteCrm) -> None:
    assert crm.find_customer(customer_id="cus_0001' OR '1'='1") is None


def test_customer_with_many_orders_is_capped(crm: SqliteCrm) -> None:
    counts: dict[str, int] = {}
    for order in load_fixture()["orders"]:
        counts[order["customer_id"]] = counts.get(order["customer_id"], 0) + 1
    busiest = max(counts, key=lambda c: counts[c])
    found = crm.find_customer(customer_id=busiest)
    assert found is not None and len(found.orders) == min(counts[busiest], MAX_ORDERS)


def test_concurrent_lookups_share_one_connection(crm: SqliteCrm) -> None:
    errors: list[BaseException] = []

    def worker(n: int) -> None:
        try:
            for i in range(50):
                cid = f"cus_{(n * 7 + i) % 40 + 1:04d}"
                found = crm.find_customer(customer_id=cid)
                assert found is not None and found.customer_id == cid
        except BaseException as exc:  # surfaced to the main thread below
            errors.append(exc)

    threads = [threading.Thread(target=worker, args=(n,)) for n in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=30)
    assert errors == []


def test_corrupt_database_is_a_permanent_error(tmp_path: Path) -> None:
    db = tmp_path / "crm.sqlite3"
    db.write_bytes(b"this is not a sqlite file" * 100)
    with pytest.raises(PermanentError, match="unusable"):
        SqliteCrm(db).find_customer(customer_id="cus_0001")
