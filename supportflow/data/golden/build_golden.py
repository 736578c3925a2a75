"""Regenerate ``golden.jsonl``: Bitext tickets with fixture values + the hand-checked policy cases.

Run from the repository root::

    python supportflow/data/golden/build_golden.py $DATA/bitext/bitext_cs_train_6480_short_responses.csv

Deterministic (seeded). Expected bands are derived from the shipped routing policy
(``supportflow/data/router/policy.yaml``) at build time, so a policy change is one re-run away:
band = the intent's band, made more cautious by every rule that applies to the ticket (VIP flag in the
CRM fixture, a refund above the threshold, text in a language none of whose help-center articles
declares the intent, and for hand cases the rules a person marked in ``hand_cases.yaml``). README.md
explains every choice.
"""

from __future__ import annotations

import csv
import json
import random
import re
import sys
from pathlib import Path
from typing import Any

import yaml

from supportflow.processors.knowledge.articles import Article, load_articles
from supportflow.processors.router.policy import Policy, load_policy
from supportflow.settings import Thresholds

HERE = Path(__file__).parent
SEED = 20261124
PER_INTENT = 10
CHANNEL_WEIGHTS = {"api": 0.4, "email": 0.2, "chat": 0.2, "whatsapp": 0.2}
SEVERITY = {"auto": 0, "suggest": 1, "escalate": 2}

# Acceptable help-center articles per intent: the one that answers it first, then the ones a correct
# answer may also draw on (a refund question can be answered from the refund policy).
ARTICLES: dict[str, list[str]] = {
    "cancel_order": ["cancel-an-order", "cancellation-fees", "order-statuses"],
    "change_order": ["change-an-order", "order-statuses", "cancel-an-order", "change-shipping-address"],
    "place_order": ["place-an-order", "payment-methods"],
    "track_order": [
        "track-your-order",
        "order-statuses",
        "late-or-missing-delivery",
        "delivery-times",
        "lost-package",
    ],
    "check_cancellation_fee": ["cancellation-fees", "cancel-an-order"],
    "delivery_options": ["shipping-options-and-costs", "international-shipping", "delivery-times"],
    "delivery_period": [
        "delivery-times",
        "shipping-options-and-costs",
        "international-shipping",
        "track-your-order",
    ],
    "set_up_shipping_address": ["manage-shipping-addresses", "change-shipping-address"],
    "change_shipping_address": ["change-shipping-address", "manage-shipping-addresses", "order-statuses"],
    "get_refund": ["request-a-refund", "refund-policy", "how-to-return-an-item", "returns-policy"],
    "track_refund": ["track-your-refund", "refund-policy"],
    "check_refund_policy": ["refund-policy", "returns-policy", "request-a-refund"],
    "payment_issue": ["payment-problems", "payment-methods"],
    "check_payment_methods": ["payment-methods", "gift-cards"],
    "check_invoice": ["download-an-invoice", "understanding-your-invoice"],
    "get_invoice": ["download-an-invoice", "understanding-your-invoice"],
    "create_account": ["create-an-account", "registration-problems", "membership-levels"],
    "registration_problems": ["registration-problems", "create-an-account"],
    "edit_account": ["edit-your-account", "reset-your-password"],
    "switch_account": ["switch-accounts", "membership-levels", "edit-your-account"],
    "recover_password": ["reset-your-password"],
    "delete_account": ["delete-your-account"],
    "newsletter_subscription": ["newsletter"],
    "contact_customer_service": ["contact-customer-service", "talk-to-a-human-agent"],
    "contact_human_agent": ["talk-to-a-human-agent", "contact-customer-service"],
    "complaint": ["complaints", "contact-customer-service", "damaged-or-wrong-item"],
    "review": ["reviews-and-feedback", "complaints"],
    "oos": [],
}
# The one fact an answer to the intent cannot leave out (none where several correct answers exist).
INTENT_FACTS = {
    "track_refund": "5-10 business days",
    "check_cancellation_fee": "12 hours",
    "recover_password": "Forgot password",
    "check_payment_methods": "PayPal",
}
TRANSIT = {"USD": "5-7 business days", "EUR": "3-6 business days"}  # delivery-times.md, standard
ORDER_STATUS_PREFERENCE = {
    "track_order": ("shipped",), "delivery_period": ("shipped", "processing"),
    "cancel_order": ("placed", "processing"), "change_order": ("placed", "processing"),
    "change_shipping_address": ("placed", "processing"),
}  # fmt: skip
# The policy's refund rule reads "my order" as the customer's latest order (policy.yaml comment).
MY_ORDER = ("my order", "my last order", "my recent order", "my purchase", "my package", "my parcel")


def load_fixture() -> tuple[dict[str, dict[str, Any]], dict[str, list[dict[str, Any]]]]:
    data = json.loads((HERE.parent / "crm" / "customers.json").read_text(encoding="utf-8"))
    orders: dict[str, list[dict[str, Any]]] = {}
    for order in data["orders"]:
        orders.setdefault(order["customer_id"], []).append(order)
    return {c["customer_id"]: c for c in data["customers"]}, orders


def is_vip(customer: dict[str, Any]) -> bool:
    return bool(customer["vip"]) or customer["tier"].lower() == "vip"


def band_for(policy: Policy, intent: str, rules: list[str]) -> str:
    """The intent's band, made more cautious by each applicable rule's action."""
    band = policy.for_intent(intent).band.value
    for rule in rules:
        action = getattr(policy.rules, rule).action
        band = max(band, action, key=SEVERITY.__getitem__)
    return band


def ticket_for(customer: dict[str, Any], channel: str, text: str, subject: str = "") -> dict[str, Any]:
    """API-shaped ticket carrying the identity the channel's wire format has."""
    ticket: dict[str, Any] = {"text": text, "name": customer["name"]}
    if subject:
        ticket["subject"] = subject
    if channel == "whatsapp":
        ticket["phone"] = customer["phone"]
    else:
        ticket["email"] = customer["email"]
    if channel in ("api", "chat"):
        ticket["customer_id"] = customer["customer_id"]
    return ticket


def order_facts(intent: str, order: dict[str, Any] | None) -> list[str]:
    if intent != "track_order" or order is None:
        return []
    return [order["tracking_number"]] if order["tracking_number"] else [order["status"]]


# ---------------------------------------------------------------- Bitext part


def _refund_rule_applies(policy: Policy, intent: str, text: str) -> bool:
    rule = policy.rules.refund
    return intent not in rule.ignore_intents and (intent in rule.intents or rule.matches(text) is not None)


def _rule_free(policy: Policy, intent: str, text: str, tags: str) -> bool:
    """Keep Bitext rows whose band is the intent's band alone; rule-driven cases are hand-written.

    Rows tagged W (offensive language) and rows with legal, closure, human-request or anger wording
    are skipped unless the intent escalates anyway.
    """
    if policy.for_intent(intent).band.value == "escalate":
        return True
    r = policy.rules
    hits = r.legal.matches(text) or r.account_closure.matches(text) or r.human_request.matches(text)
    return "W" not in tags and not hits and not r.anger.escalation_words(text)


def _pick_order(
    rng: random.Random, intent: str, orders: list[dict[str, Any]], cap: float | None
) -> dict[str, Any]:
    pool = [o for o in orders if cap is None or o["total"] <= cap] or orders
    preferred = [o for o in pool if o["status"] in ORDER_STATUS_PREFERENCE.get(intent, ())]
    return rng.choice(preferred or pool)


def bitext_cases(
    rows: list[dict[str, str]], policy: Policy, customers: dict[str, dict[str, Any]],
    orders: dict[str, list[dict[str, Any]]], limit: float, exclude: set[str],
) -> list[dict[str, Any]]:  # fmt: skip
    rng = random.Random(SEED)
    pool = sorted(cid for cid, c in customers.items() if not is_vip(c) and orders.get(cid))
    by_intent: dict[str, list[dict[str, str]]] = {}
    for row in rows:
        if row["instruction"].strip() not in exclude and _rule_free(
            policy, row["intent"], row["instruction"], row["tags"]
        ):
            by_intent.setdefault(row["intent"], []).append(row)
    cases = []
    for intent in sorted(by_intent):
        chosen = rng.sample(sorted(by_intent[intent], key=lambda r: r["instruction"]), PER_INTENT)
        for n, row in enumerate(chosen, start=1):
            customer = customers[rng.choice(pool)]
            channel = rng.choices(list(CHANNEL_WEIGHTS), weights=list(CHANNEL_WEIGHTS.values()))[0]
            cases.append(_bitext_case(f"bx-{intent}-{n:02d}", row, customer, orders[customer["customer_id"]],
                                      channel, policy, limit, rng))  # fmt: skip
    return cases


_MONEY = re.compile(
    r"[$€]\s?(\d[\d,]*(?:\.\d+)?)|\b(\d[\d,]*(?:\.\d+)?)\s?(?:dollars?|usd|euros?|eur)\b", re.I
)


def _stated_amount(text: str) -> float | None:
    """The largest money amount written in the text ("$350", "1200 dollars", "€24"), if any."""
    values = [float((a or b).replace(",", "")) for a, b in _MONEY.findall(text)]
    return max(values) if values else None


def _entity_span(row: dict[str, str]) -> tuple[int, int] | None:
    """Bitext's character span of the entity (``00004587345`` for the value ``4587345``), if consistent."""
    try:
        start, end = int(row["start_offset"]), int(row["end_offset"])
    except ValueError:
        return None
    value = row["entity_value"].lstrip("0")
    return (start, end) if value and value in row["instruction"][start:end] else None


def _bitext_case(
    case_id: str, row: dict[str, str], customer: dict[str, Any], orders: list[dict[str, Any]],
    channel: str, policy: Policy, limit: float, rng: random.Random,
) -> dict[str, Any]:  # fmt: skip
    intent, text, kind = row["intent"], row["instruction"], row["entity_type"]
    refund_rule = _refund_rule_applies(policy, intent, text)
    order = None
    amount: float | None = None
    tags = ["bitext", f"bitext_tags:{row['tags']}"]
    span = _entity_span(row)
    if kind in ("order_id", "invoice_id") and span:
        # Refund-rule rows get an order under the threshold: the amount rule is tested by hand cases.
        order = _pick_order(rng, intent, orders, limit if refund_rule else None)
        text = text[: span[0]] + order["order_id"] + text[span[1] :]
    elif kind == "person_name" and span:
        text = text[: span[0]] + customer["name"] + text[span[1] :]
    if refund_rule:
        # As the policy reads it: the amount written in the text (Bitext's own amounts are kept),
        # else the order the ticket names, else the latest order when it says "my order".
        amount = _stated_amount(text)
        if amount is None and order is not None:
            amount = order["total"]
        if amount is None and any(p in text.lower() for p in MY_ORDER):
            amount = max(orders, key=lambda o: o["placed_at"])["total"]
    rules = []
    if refund_rule and amount is not None and amount > limit:
        rules.append("refund")
        tags.append("refund:above")
    facts = order_facts(intent, order)
    if intent in INTENT_FACTS:
        facts.append(INTENT_FACTS[intent])
    if intent == "delivery_period":
        facts.append(TRANSIT[orders[0]["currency"]])
    return _case(case_id, channel, customer, text, "", intent, rules, facts, tags, policy)


def _case(
    case_id: str, channel: str, customer: dict[str, Any], text: str, subject: str, intent: str,
    rules: list[str], facts: list[str], tags: list[str], policy: Policy, articles: list[str] | None = None,
) -> dict[str, Any]:  # fmt: skip
    rules = list(dict.fromkeys(rules + (["vip"] if is_vip(customer) else [])))
    return {
        "id": case_id,
        "channel": channel,
        "ticket": ticket_for(customer, channel, text, subject),
        "customer_id": customer["customer_id"],
        "expected_intent": intent,
        "expected_band": band_for(policy, intent, rules),
        "expected_articles": ARTICLES[intent] if articles is None else articles,
        "required_facts": facts,
        "tags": sorted(set(tags + [f"policy:{r}" for r in rules])),
    }


# ---------------------------------------------------------------- hand-written part


def hand_cases(policy: Policy, customers: dict[str, dict[str, Any]]) -> list[dict[str, Any]]:
    cases = []
    articles = load_articles(HERE.parent / "helpcenter")
    for raw in yaml.safe_load((HERE / "hand_cases.yaml").read_text(encoding="utf-8")):
        customer = customers[raw["customer"]]
        lang = raw["id"].split("-")[1] if raw["id"].startswith("lang-") else _language_hint(raw["id"])
        rules = list(raw.get("rules", []))
        tags = ["hand", *raw.get("tags", [])]
        expected_articles = raw.get("articles")
        if lang != "en":
            tags.append(f"lang:{lang}")
            localized = localized_articles(articles, lang, raw["intent"])
            if localized:
                expected_articles = expected_articles if expected_articles is not None else localized
            elif raw["intent"] != "oos":
                # The product answers only from articles in the ticket's language: without one for
                # this intent the agent gets a draft from the English article.
                rules.append("language")
                tags.append("lang_no_article")
            if lang not in policy.rules.language.auto_languages and "language" not in rules:
                # The router's confidence is not calibrated on this language: a draft (the policy's
                # rules.language.auto_languages).
                rules.append("language")
                tags.append("lang_not_calibrated")
        if raw["intent"] == "oos":
            rules.append("out_of_scope")
        cases.append(_case(f"h-{raw['id']}", raw["channel"], customer, raw["text"], raw.get("subject", ""),
                           raw["intent"], rules, list(raw.get("facts", [])), tags, policy,
                           expected_articles))  # fmt: skip
    return cases


def localized_articles(articles: list[Article], lang: str, intent: str) -> list[str]:
    """Articles in ``lang`` a correct answer to ``intent`` may cite; [] when none declares the intent.

    The ones declaring the intent, then the translations of the intent's other acceptable English
    articles (``ARTICLES``), as for English tickets. Translations are ``<english-id>-<lang>``.
    """
    in_lang = [a for a in articles if a.language == lang]
    declaring = [a.id for a in in_lang if intent in a.intents]
    if not declaring:
        return []
    translated = {a.id.removesuffix(f"-{lang}"): a.id for a in in_lang}
    related = [translated[e] for e in ARTICLES.get(intent, []) if e in translated]
    return list(dict.fromkeys(declaring + related))


# Hand cases outside the lang-* block that are written in another language (by id).
NON_ENGLISH = {"vip-08": "fr", "legal-07": "es", "legal-08": "de"}


def _language_hint(case_id: str) -> str:
    return NON_ENGLISH.get(case_id, "en")


def _retrieval_queries() -> set[str]:
    """Bitext instructions already used to tune or report retrieval: kept out of the golden set."""
    texts: set[str] = set()
    for name in ("queries.csv", "queries_dev.csv"):
        path = HERE.parent / "helpcenter" / name
        if path.exists():
            with path.open(encoding="utf-8") as fh:
                texts |= {row["text"].strip() for row in csv.DictReader(fh)}
    return texts


def build(bitext_csv: Path) -> list[dict[str, Any]]:
    policy = load_policy()
    customers, orders = load_fixture()
    limit = policy.rules.refund.amount
    limit = limit if limit is not None else Thresholds().refund_escalation_amount
    with bitext_csv.open(encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh))
    cases = bitext_cases(rows, policy, customers, orders, limit, _retrieval_queries())
    cases += hand_cases(policy, customers)
    return sorted(cases, key=lambda c: c["id"])


def main(argv: list[str]) -> int:
    if len(argv) != 2:
        print(__doc__, file=sys.stderr)
        return 2
    cases = build(Path(argv[1]))
    out = HERE / "golden.jsonl"
    out.write_text("".join(json.dumps(c, ensure_ascii=False) + "\n" for c in cases), encoding="utf-8")
    bands: dict[str, int] = {}
    for c in cases:
        bands[c["expected_band"]] = bands.get(c["expected_band"], 0) + 1
    print(f"wrote {len(cases)} cases to {out}: {bands}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
