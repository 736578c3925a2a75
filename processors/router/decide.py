"""``decide``: hard rules first, then the model's confidence, then the policy's band for the intent.

A pure function of its inputs (no I/O after the lexicon and language model are loaded), well under
a millisecond per ticket. Every rule or threshold that fires adds a reason; the band is the most
cautious one any of them asks for (escalate > suggest > auto).
"""

from __future__ import annotations

from supportflow.processors.router.model import OOS, Prediction
from supportflow.processors.router.policy import Action, Policy, RefundRule
from supportflow.processors.router.signals import (
    Money,
    caps_shouting,
    detect_language,
    find_amounts,
    sentiment_compound,
)
from supportflow.schemas.models import Band, CustomerContext, Order, RouteDecision, Ticket
from supportflow.settings import Thresholds

_SEVERITY = {Band.AUTO: 0, Band.SUGGEST: 1, Band.ESCALATE: 2}
_MY_ORDER = (
    "my order", "my last order", "my recent order", "my purchase", "my package", "my parcel",
    "mi pedido", "mi compra", "mi paquete",  # es
    "meine bestellung", "mein paket", "meinen einkauf",  # de
    "ma commande", "mon colis", "mon achat",  # fr
    "meu pedido", "minha encomenda", "minha compra", "meu pacote",  # pt
    "mio ordine", "mio pacco", "mio acquisto",  # it
)  # fmt: skip


def _band(action: Action) -> Band:
    return Band.ESCALATE if action == "escalate" else Band.SUGGEST


def decide(
    ticket: Ticket,
    prediction: Prediction,
    customer: CustomerContext | None,
    policy: Policy,
    thresholds: Thresholds,
    auto_threshold: float,
    covered_languages: tuple[str, ...] = ("en",),
    model_version: str = "",
) -> RouteDecision:
    """Band, tier and reasons for one ticket. ``model_version`` (the router's ``version``) is recorded
    on the decision as ``model``."""
    text = f"{ticket.subject}\n{ticket.text}" if ticket.subject else ticket.text
    rules = policy.rules
    intent_policy = policy.for_intent(prediction.intent)
    band = intent_policy.band
    reasons: list[str] = []

    def fire(reason: str, to: Band) -> None:
        nonlocal band
        reasons.append(reason)
        if _SEVERITY[to] > _SEVERITY[band]:
            band = to

    if band is not Band.AUTO:
        reasons.append(f"policy:intent_band={band.value}")

    language = detect_language(ticket.text)
    # Hard rules: they do not depend on the model being right.
    if rules.legal.matches(text):
        fire("rule:legal", _band(rules.legal.action))
    if rules.account_closure.matches(text):
        fire("rule:account_closure", _band(rules.account_closure.action))
    if rules.refund.enabled and (amount := _refund_amount(text, prediction.intent, customer, rules.refund)):
        limit = (
            rules.refund.amount if rules.refund.amount is not None else thresholds.refund_escalation_amount
        )
        if amount.amount > limit:
            fire(f"rule:refund_over_threshold:{amount.amount:.2f}>{limit:.2f}", _band(rules.refund.action))
    if rules.vip.enabled and customer is not None and (customer.vip or customer.tier.lower() == "vip"):
        fire("rule:vip", _band(rules.vip.action))
    if anger := _anger_reason(text, policy, language):
        fire(anger, _band(rules.anger.action))
    if rules.human_request.matches(text):
        fire("rule:human_request", _band(rules.human_request.action))

    if rules.language.enabled and language not in covered_languages:
        fire(f"language:{language}_not_covered", _band(rules.language.action))
    elif rules.language.enabled and language not in rules.language.auto_languages:
        fire(f"language:{language}_not_calibrated", Band.SUGGEST)

    # The model: out of scope never answers itself; unsure predictions get a human look.
    if prediction.intent == OOS and rules.out_of_scope.enabled:
        fire("rule:out_of_scope", _band(rules.out_of_scope.action))
    if prediction.confidence < thresholds.min_confidence:
        fire(f"threshold:confidence<{thresholds.min_confidence:.2f}", Band.SUGGEST)
    if prediction.confidence < auto_threshold:
        fire(f"threshold:auto<{auto_threshold:.2f}", Band.SUGGEST)

    return RouteDecision(
        intent=prediction.intent,
        confidence=prediction.confidence,
        band=band,
        tier=intent_policy.tier,
        reasons=reasons,
        language=language,
        model=model_version,
    )


def _refund_amount(
    text: str, intent: str, customer: CustomerContext | None, rule: RefundRule
) -> Money | None:
    """The largest amount at stake in a refund or dispute, from the text or else the CRM order."""
    if intent in rule.ignore_intents:
        return None
    if intent not in rule.intents and rule.matches(text) is None:
        return None
    amounts = find_amounts(text)
    if amounts:
        return max(amounts, key=lambda m: m.amount)
    order = _mentioned_order(text, customer)
    return Money(order.total, order.currency) if order else None


def _mentioned_order(text: str, customer: CustomerContext | None) -> Order | None:
    """The customer's order named by id in the text, else their latest one if the text says "my order"
    (in any of the policy's languages)."""
    if customer is None or not customer.orders:
        return None
    lowered = text.lower()
    for order in customer.orders:
        if order.order_id and order.order_id.lower() in lowered:
            return order
    if any(p in lowered for p in _MY_ORDER):
        # ISO-8601 timestamps sort as strings; orders without a date count as oldest.
        return max(customer.orders, key=lambda o: o.placed_at or "")
    return None


def _anger_reason(text: str, policy: Policy, language: str = "en") -> str | None:
    rule = policy.rules.anger
    if not rule.enabled:
        return None
    points: list[str] = []
    words = rule.escalation_words(text)
    points += [f"word={w}" for w in dict.fromkeys(words)][:2]
    # VADER's lexicon is English: German "die Bestellung" reads as "die" (-0.60). Other languages
    # score from their escalation words, shouting and "!!" only.
    compound = sentiment_compound(text) if language == "en" else 0.0
    if compound <= rule.negative_compound:
        points.append(f"sentiment={compound:.2f}")
    if compound <= rule.very_negative_compound:
        points.append("very_negative")
    ratio, shouted = caps_shouting(text)
    if shouted >= rule.caps_min_words and ratio >= rule.caps_ratio:
        points += [f"caps={ratio:.2f}", "shouting"]
    if "!" * rule.exclamations in text:
        points.append("exclamations")
    if len(points) < rule.fire_at:
        return None
    return "rule:anger:" + ",".join(p for p in points if p not in ("very_negative", "shouting"))
