"""Regenerate ``queries.csv`` (and ``queries_dev.csv``): the retrieval eval set, from Bitext instructions.

Run from the repository root::

    python supportflow/data/helpcenter/build_queries.py \
        ../shared/data/bitext/bitext_cs_train_6480_short_responses.csv

Each Bitext intent maps to the help-center article that answers it (``INTENT_ARTICLE``). For every
intent the script draws 20 distinct instructions (seeded): 10 go to ``queries_dev.csv`` (used to tune
hybrid search) and 10 to ``queries.csv`` (the reported numbers), so tuning never sees the reported
queries. The instruction text is Bitext's (CDLA-Sharing-1.0, see README.md); only Bitext's
``{{Placeholder}}`` entities, if present, are filled with Northwind-style values.
"""

from __future__ import annotations

import csv
import random
import re
import sys
from pathlib import Path

SEED = 20261123
PER_INTENT = 10
HERE = Path(__file__).parent

INTENT_ARTICLE: dict[str, str] = {
    "cancel_order": "cancel-an-order",
    "change_order": "change-an-order",
    "place_order": "place-an-order",
    "track_order": "track-your-order",
    "check_cancellation_fee": "cancellation-fees",
    "change_shipping_address": "change-shipping-address",
    "set_up_shipping_address": "manage-shipping-addresses",
    "delivery_options": "shipping-options-and-costs",
    "delivery_period": "delivery-times",
    "check_refund_policy": "refund-policy",
    "get_refund": "request-a-refund",
    "track_refund": "track-your-refund",
    "check_payment_methods": "payment-methods",
    "payment_issue": "payment-problems",
    "check_invoice": "download-an-invoice",
    "get_invoice": "download-an-invoice",
    "create_account": "create-an-account",
    "registration_problems": "registration-problems",
    "edit_account": "edit-your-account",
    "switch_account": "switch-accounts",
    "delete_account": "delete-your-account",
    "recover_password": "reset-your-password",
    "newsletter_subscription": "newsletter",
    "contact_customer_service": "contact-customer-service",
    "contact_human_agent": "talk-to-a-human-agent",
    "complaint": "complaints",
    "review": "reviews-and-feedback",
}
PLACEHOLDERS = {
    "{{Order Number}}": "NW-100231",
    "{{Invoice Number}}": "INV-2026-000123",
    "{{Refund Amount}}": "$84",
    "{{Account Type}}": "Plus",
    "{{Account Category}}": "VIP",
    "{{Person Name}}": "Maya Thompson",
    "{{Delivery City}}": "Columbus",
    "{{Delivery Country}}": "Germany",
}


def _fill(text: str) -> str:
    for placeholder, value in PLACEHOLDERS.items():
        text = text.replace(placeholder, value)
    return re.sub(r"\{\{[^}]+\}\}", "it", text).strip()


def build(bitext_csv: Path) -> tuple[list[tuple[str, str]], list[tuple[str, str]]]:
    by_intent: dict[str, list[str]] = {}
    with bitext_csv.open(encoding="utf-8") as fh:
        for row in csv.DictReader(fh):
            by_intent.setdefault(row["intent"], []).append(_fill(row["instruction"]))
    missing = set(INTENT_ARTICLE) - set(by_intent)
    if missing:
        raise SystemExit(f"intents missing from {bitext_csv}: {sorted(missing)}")
    rng = random.Random(SEED)
    dev: list[tuple[str, str]] = []
    test: list[tuple[str, str]] = []
    for intent in sorted(INTENT_ARTICLE):
        texts = sorted(set(by_intent[intent]))
        sample = rng.sample(texts, 2 * PER_INTENT)
        article = INTENT_ARTICLE[intent]
        dev.extend((t, article) for t in sample[:PER_INTENT])
        test.extend((t, article) for t in sample[PER_INTENT:])
    return dev, test


def _write(path: Path, rows: list[tuple[str, str]]) -> None:
    with path.open("w", encoding="utf-8", newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow(["text", "article_id"])
        writer.writerows(rows)


def main(argv: list[str]) -> int:
    if len(argv) != 2:
        print(__doc__, file=sys.stderr)
        return 2
    dev, test = build(Path(argv[1]))
    _write(HERE / "queries_dev.csv", dev)
    _write(HERE / "queries.csv", test)
    print(f"wrote {len(test)} queries to queries.csv and {len(dev)} to queries_dev.csv")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
