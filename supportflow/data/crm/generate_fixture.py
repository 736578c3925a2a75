"""Regenerate ``customers.json``: the fictional Northwind Outfitters CRM fixture.

Run from the repository root: ``python supportflow/data/crm/generate_fixture.py``. The output is
deterministic (seeded), so re-running it produces the same file byte for byte. Every person, address,
phone number and order here is invented; phone numbers use fictional/reserved-looking ranges.
"""

from __future__ import annotations

import json
import random
from datetime import UTC, datetime, timedelta
from pathlib import Path

# (name, email, phone E.164, language, currency, tier)
CUSTOMERS: list[tuple[str, str, str, str, str, str]] = [
    ("Maya Thompson", "maya.thompson@example.com", "+14155550101", "en", "USD", "vip"),
    ("Daniel Okafor", "daniel.okafor@example.net", "+12125550102", "en", "USD", "standard"),
    ("Lucía Fernández", "lucia.fernandez@example.es", "+34612000103", "es", "EUR", "plus"),
    ("Jonas Becker", "jonas.becker@example.de", "+4915112000104", "de", "EUR", "standard"),
    ("Camille Laurent", "camille.laurent@example.fr", "+33612000105", "fr", "EUR", "plus"),
    ("Priya Raman", "priya.raman@example.com", "+13125550106", "en", "USD", "standard"),
    ("Ethan Walsh", "ethan.walsh@example.org", "+16175550107", "en", "USD", "standard"),
    ("Sofia Almeida", "sofia.almeida@example.pt", "+351912000108", "pt", "EUR", "standard"),
    ("Grace Kim", "grace.kim@example.com", "+12065550109", "en", "USD", "vip"),
    ("Marcus Reed", "marcus.reed@example.com", "+17135550110", "en", "USD", "standard"),
    ("Hannah Schulz", "hannah.schulz@example.de", "+4917612000111", "de", "EUR", "vip"),
    ("Oliver Grant", "oliver.grant@example.com", "+13035550112", "en", "USD", "plus"),
    ("Carmen Ruiz", "carmen.ruiz@example.es", "+34622000113", "es", "EUR", "standard"),
    ("Noah Patel", "noah.patel@example.com", "+14085550114", "en", "USD", "standard"),
    ("Léa Moreau", "lea.moreau@example.fr", "+33622000115", "fr", "EUR", "standard"),
    ("Ava Martinez", "ava.martinez@example.com", "+13055550116", "es", "USD", "plus"),
    ("Liam O'Connor", "liam.oconnor@example.ie", "+353851000117", "en", "EUR", "standard"),
    ("Emma Johansson", "emma.johansson@example.se", "+46701000118", "en", "EUR", "standard"),
    ("Benjamin Carter", "ben.carter@example.com", "+15035550119", "en", "USD", "vip"),
    ("Chloe Nguyen", "chloe.nguyen@example.com", "+17145550120", "en", "USD", "standard"),
    ("Mateo Silva", "mateo.silva@example.pt", "+351932000121", "pt", "EUR", "plus"),
    ("Isabella Rossi", "isabella.rossi@example.it", "+393471000122", "it", "EUR", "standard"),
    ("Lucas Weber", "lucas.weber@example.de", "+4915212000123", "de", "EUR", "standard"),
    ("Zoe Adams", "zoe.adams@example.com", "+16465550124", "en", "USD", "standard"),
    ("Samuel Brooks", "samuel.brooks@example.com", "+14045550125", "en", "USD", "plus"),
    ("Elena Petrova", "elena.petrova@example.com", "+12155550126", "en", "USD", "standard"),
    ("Hugo Dubois", "hugo.dubois@example.fr", "+33632000127", "fr", "EUR", "vip"),
    ("Mia Fischer", "mia.fischer@example.at", "+436641000128", "de", "EUR", "standard"),
    ("James Whitaker", "james.whitaker@example.com", "+16025550129", "en", "USD", "standard"),
    ("Valentina Gómez", "valentina.gomez@example.es", "+34632000130", "es", "EUR", "standard"),
    ("Henry Lawson", "henry.lawson@example.com", "+18015550131", "en", "USD", "standard"),
    ("Aisha Bello", "aisha.bello@example.com", "+12025550132", "en", "USD", "plus"),
    ("Thomas Müller", "thomas.mueller@example.de", "+4916012000133", "de", "EUR", "standard"),
    ("Olivia Bennett", "olivia.bennett@example.com", "+19175550134", "en", "USD", "standard"),
    ("Rafael Costa", "rafael.costa@example.pt", "+351962000135", "pt", "EUR", "standard"),
    ("Nora Lindqvist", "nora.lindqvist@example.se", "+46731000136", "en", "EUR", "standard"),
    ("William Hayes", "william.hayes@example.com", "+16155550137", "en", "USD", "standard"),
    ("Inès Girard", "ines.girard@example.fr", "+33642000138", "fr", "EUR", "standard"),
    ("Kevin Zhao", "kevin.zhao@example.com", "+14255550139", "en", "USD", "standard"),
    ("Ruth Abernathy", "ruth.abernathy@example.com", "+15125550140", "en", "USD", "standard"),
]

# Apparel and outdoor gear with a list price in the customer's currency.
CATALOG: list[tuple[str, float]] = [
    ("Trailhead Merino Base Layer", 68.0),
    ("Summit 3-Season Tent", 389.0),
    ("Ridgeline Waterproof Jacket", 229.0),
    ("Alpine Down Parka", 349.0),
    ("Canyon Hiking Boots", 179.0),
    ("Basecamp Fleece Hoodie", 79.0),
    ("Wool Hiking Socks (3-pack)", 24.0),
    ("Packable Rain Poncho", 15.0),
    ("Trail Neck Gaiter", 20.0),
    ("Trekking Poles (pair)", 119.0),
    ("Glacier 0°F Sleeping Bag", 459.0),
    ("Daypack 28L", 89.0),
    ("Expedition Backpack 65L", 279.0),
    ("Organic Cotton Tee", 29.0),
    ("Stretch Hiking Pants", 84.0),
    ("Insulated Water Bottle", 32.0),
    ("Headlamp 400lm", 45.0),
    ("Camp Stove Kit", 129.0),
    ("Sun Hat UPF 50", 36.0),
]

CARRIERS_US = ["UPS", "FedEx", "USPS"]
CARRIERS_EU = ["DHL", "DPD", "GLS"]
STATUSES = [
    "placed",
    "processing",
    "shipped",
    "delivered",
    "delivered",
    "delivered",
    "cancelled",
    "returned",
    "refunded",
]
NOW = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)

# Orders the sample tickets talk about: fixed so their stories match the CRM.
# order_id -> (customer index, status, items with quantities, placed_at, delivered_at)
STORY_ORDERS: dict[str, tuple[int, str, list[tuple[str, int]], str, str]] = {
    "NW-100231": (1, "shipped", [("Canyon Hiking Boots", 1)], "2026-11-02T15:20:00Z", ""),
    "NW-100248": (
        0,
        "processing",
        [("Alpine Down Parka", 1), ("Trailhead Merino Base Layer", 2)],
        "2026-11-18T09:05:00Z",
        "",
    ),
    "NW-100257": (6, "delivered", [("Trail Neck Gaiter", 1)], "2026-10-21T18:40:00Z", "2026-10-25T14:02:00Z"),
    "NW-100263": (
        8,
        "delivered",
        [("Glacier 0°F Sleeping Bag", 1), ("Summit 3-Season Tent", 1), ("Headlamp 400lm", 1)],
        "2026-10-28T11:11:00Z",
        "2026-11-03T16:30:00Z",
    ),
    "NW-100270": (9, "placed", [("Basecamp Fleece Hoodie", 1)], "2026-11-19T21:47:00Z", ""),
    "NW-100276": (12, "shipped", [("Stretch Hiking Pants", 2)], "2026-11-05T08:15:00Z", ""),
    "NW-100281": (
        3,
        "delivered",
        [("Ridgeline Waterproof Jacket", 1)],
        "2026-11-01T10:00:00Z",
        "2026-11-06T12:44:00Z",
    ),
}


def _order_total(items: list[tuple[str, int]]) -> float:
    prices = dict(CATALOG)
    return round(sum(prices[name] * qty for name, qty in items), 2)


def _tracking(rng: random.Random, carrier: str) -> str:
    if carrier == "UPS":
        return "1Z" + "".join(rng.choices("0123456789ABCDEFGHJKLMNPRSTUVWXYZ", k=16))
    if carrier in ("FedEx", "DPD", "GLS"):
        return "".join(rng.choices("0123456789", k=12 if carrier == "FedEx" else 14))
    if carrier == "USPS":
        return "9400" + "".join(rng.choices("0123456789", k=18))
    return "JD" + "".join(rng.choices("0123456789", k=18))


def _order(
    rng: random.Random,
    order_id: str,
    cust: int,
    status: str,
    items: list[tuple[str, int]],
    placed: datetime,
    delivered: datetime | None,
) -> dict[str, object]:
    currency = CUSTOMERS[cust][4]
    carrier = ""
    tracking = ""
    if status in ("shipped", "delivered", "returned", "refunded"):
        carrier = rng.choice(CARRIERS_US if currency == "USD" else CARRIERS_EU)
        tracking = _tracking(rng, carrier)
    return {
        "order_id": order_id,
        "customer_id": f"cus_{cust + 1:04d}",
        "status": status,
        "total": _order_total(items),
        "currency": currency,
        "placed_at": placed.strftime("%Y-%m-%dT%H:%M:%SZ"),
        "items": [f"{qty} x {name}" for name, qty in items],
        "carrier": carrier,
        "tracking_number": tracking,
        "delivered_at": delivered.strftime("%Y-%m-%dT%H:%M:%SZ") if delivered else "",
    }


def build() -> dict[str, object]:
    rng = random.Random(20260101)
    orders: list[dict[str, object]] = []
    for n in range(120):
        order_id = f"NW-{100201 + n}"
        if order_id in STORY_ORDERS:
            cust, status, items, placed_s, delivered_s = STORY_ORDERS[order_id]
            placed = datetime.fromisoformat(placed_s.replace("Z", "+00:00"))
            delivered = datetime.fromisoformat(delivered_s.replace("Z", "+00:00")) if delivered_s else None
            orders.append(_order(rng, order_id, cust, status, items, placed, delivered))
            continue
        # Every customer gets at least two orders; the rest are spread at random.
        cust = n % 40 if n < 80 else rng.randrange(40)
        picks = rng.sample(CATALOG, k=rng.choice([1, 1, 1, 2, 2, 3]))
        items = [(name, rng.choice([1, 1, 1, 2])) for name, _ in picks]
        while _order_total(items) > 1500:
            items = items[:-1]
        placed = NOW - timedelta(days=rng.randrange(2, 320), minutes=rng.randrange(1440))
        age_days = (NOW - placed).days
        if age_days < 3:
            status = rng.choice(["placed", "processing"])
        elif age_days < 8:
            status = rng.choice(["processing", "shipped", "shipped"])
        else:
            status = rng.choice(STATUSES)
        delivered = (
            placed + timedelta(days=rng.randrange(3, 8))
            if status in ("delivered", "returned", "refunded")
            else None
        )
        orders.append(_order(rng, order_id, cust, status, items, placed, delivered))
    customers = []
    for i, (name, email, phone, language, _currency, tier) in enumerate(CUSTOMERS):
        customers.append(
            {
                "customer_id": f"cus_{i + 1:04d}",
                "name": name,
                "email": email,
                "phone": phone,
                "tier": tier,
                "vip": tier == "vip",
                "language": language,
            }
        )
    return {
        "_notice": "Fictional data for the fictional store Northwind Outfitters. Any resemblance to real "
        "people is coincidental. Generated by generate_fixture.py (seeded).",
        "store": {"name": "Northwind Outfitters", "ships_to": ["US", "EU"], "currencies": ["USD", "EUR"]},
        "customers": customers,
        "orders": orders,
    }


if __name__ == "__main__":
    out = Path(__file__).with_name("customers.json")
    out.write_text(json.dumps(build(), indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
    print(f"wrote {out}")
