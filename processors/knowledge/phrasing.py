"""What the offline drafter says around the help center's own words, in each language it answers in.

An extractive answer is the article's sentences plus a greeting, the customer's order facts and a
sign-off. Those three are written here once per language, so a Spanish ticket answered from the
Spanish article reads Spanish from the first line to the last, and the groundedness scorer checks
the order sentence against the CRM facts written the same way. A language missing here falls back
to English; the gate then keeps the answer from being sent automatically (its language differs).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import datetime

from supportflow.processors.knowledge.articles import DEFAULT_LANGUAGE
from supportflow.schemas.models import Order


@dataclass(frozen=True)
class Phrasing:
    hello: str  # no name known
    hello_named: str  # "{name}" is the customer's first name
    sign_off: str
    order: str  # "{order_id}", "{placed}", "{status}"
    placed: str  # "{date}": joins ``order`` when the CRM has the date
    carrier: str  # "{carrier}", "{tracking}"
    tracking: str  # "{number}"
    delivered: str  # "{date}"
    months: tuple[str, ...]  # January .. December
    date: str  # "{day}", "{month}", "{year}"
    facts: str  # the CRM line the scorer reads: "{order_id}", "{total}", "{currency}", "{items}"
    statuses: dict[str, str] = field(default_factory=dict)  # CRM status -> customer-facing word


PHRASINGS: dict[str, Phrasing] = {
    "en": Phrasing(
        "Hello,", "Hi {name},", "Best regards,\nNorthwind Outfitters Support",
        'Your order {order_id}{placed} has the status "{status}".', ", placed on {date},",
        " Carrier: {carrier}{tracking}.", ", tracking number {number}", " It was delivered on {date}.",
        ("January", "February", "March", "April", "May", "June", "July", "August", "September",
         "October", "November", "December"),
        "{month} {day}, {year}", "Order {order_id} total {total} {currency}, items: {items}.",
    ),
    "es": Phrasing(
        "Hola:", "Hola, {name}:", "Saludos cordiales,\nAtención al cliente de Northwind Outfitters",
        'Su pedido {order_id}{placed} tiene el estado "{status}".', ", realizado el {date},",
        " Transportista: {carrier}{tracking}.", ", número de seguimiento {number}",
        " Se entregó el {date}.",
        ("enero", "febrero", "marzo", "abril", "mayo", "junio", "julio", "agosto", "septiembre",
         "octubre", "noviembre", "diciembre"),
        "{day} de {month} de {year}", "Pedido {order_id}: total {total} {currency}, artículos: {items}.",
        {"placed": "realizado", "processing": "en preparación", "shipped": "enviado",
         "delivered": "entregado", "cancelled": "cancelado", "returned": "devuelto",
         "refunded": "reembolsado"},
    ),
    "de": Phrasing(
        "Guten Tag,", "Guten Tag {name},", "Mit freundlichen Grüßen\nIhr Northwind Outfitters Kundenservice",
        'Ihre Bestellung {order_id}{placed} hat den Status "{status}".', " vom {date}",
        " Versanddienstleister: {carrier}{tracking}.", ", Sendungsnummer {number}",
        " Sie wurde am {date} zugestellt.",
        ("Januar", "Februar", "März", "April", "Mai", "Juni", "Juli", "August", "September",
         "Oktober", "November", "Dezember"),
        "{day}. {month} {year}", "Bestellung {order_id}: Summe {total} {currency}, Artikel: {items}.",
        {"placed": "Aufgegeben", "processing": "In Bearbeitung", "shipped": "Versandt",
         "delivered": "Zugestellt", "cancelled": "Storniert", "returned": "Zurückgesendet",
         "refunded": "Erstattet"},
    ),
    "fr": Phrasing(
        "Bonjour,", "Bonjour {name},", "Cordialement,\nLe service client Northwind Outfitters",
        'Votre commande {order_id}{placed} a le statut "{status}".', ", passée le {date},",
        " Transporteur : {carrier}{tracking}.", ", numéro de suivi {number}",
        " Elle a été livrée le {date}.",
        ("janvier", "février", "mars", "avril", "mai", "juin", "juillet", "août", "septembre",
         "octobre", "novembre", "décembre"),
        "{day} {month} {year}", "Commande {order_id} : total {total} {currency}, articles : {items}.",
        {"placed": "passée", "processing": "en préparation", "shipped": "expédiée",
         "delivered": "livrée", "cancelled": "annulée", "returned": "retournée",
         "refunded": "remboursée"},
    ),
    "pt": Phrasing(
        "Olá,", "Olá {name},", "Com os melhores cumprimentos,\nApoio ao Cliente Northwind Outfitters",
        'A sua encomenda {order_id}{placed} tem o estado "{status}".', ", feita a {date},",
        " Transportadora: {carrier}{tracking}.", ", número de seguimento {number}",
        " Foi entregue a {date}.",
        ("janeiro", "fevereiro", "março", "abril", "maio", "junho", "julho", "agosto", "setembro",
         "outubro", "novembro", "dezembro"),
        "{day} de {month} de {year}", "Encomenda {order_id}: total {total} {currency}, artigos: {items}.",
        {"placed": "registada", "processing": "em processamento", "shipped": "enviada",
         "delivered": "entregue", "cancelled": "cancelada", "returned": "devolvida",
         "refunded": "reembolsada"},
    ),
    "it": Phrasing(
        "Buongiorno,", "Buongiorno {name},", "Cordiali saluti,\nAssistenza clienti Northwind Outfitters",
        'Il Suo ordine {order_id}{placed} è nello stato "{status}".', ", effettuato il {date},",
        " Corriere: {carrier}{tracking}.", ", numero di tracciamento {number}",
        " È stato consegnato il {date}.",
        ("gennaio", "febbraio", "marzo", "aprile", "maggio", "giugno", "luglio", "agosto", "settembre",
         "ottobre", "novembre", "dicembre"),
        "{day} {month} {year}", "Ordine {order_id}: totale {total} {currency}, articoli: {items}.",
        {"placed": "effettuato", "processing": "in lavorazione", "shipped": "spedito",
         "delivered": "consegnato", "cancelled": "annullato", "returned": "reso",
         "refunded": "rimborsato"},
    ),
}  # fmt: skip


def phrasing(language: str) -> Phrasing:
    """The phrases for ``language``; English when this module does not speak it."""
    return PHRASINGS.get(language) or PHRASINGS[DEFAULT_LANGUAGE]


def speaks(language: str) -> bool:
    return language in PHRASINGS


def greeting(first_name: str, language: str) -> str:
    p = phrasing(language)
    return p.hello_named.format(name=first_name) if first_name else p.hello


def format_date(iso: str, language: str = DEFAULT_LANGUAGE) -> str:
    """``2026-11-02T15:20:00Z`` -> ``November 2, 2026`` / ``2 de noviembre de 2026`` / ``2. November 2026``."""
    try:
        value = datetime.fromisoformat(iso.replace("Z", "+00:00"))
    except ValueError:
        return iso
    p = phrasing(language)
    return p.date.format(day=value.day, month=p.months[value.month - 1], year=value.year)


def describe_order(order: Order, language: str = DEFAULT_LANGUAGE) -> str:
    """CRM facts about an order as customer-facing text: what the drafter says and the scorer checks."""
    p = phrasing(language)
    placed = p.placed.format(date=format_date(order.placed_at, language)) if order.placed_at else ""
    status = p.statuses.get(order.status, order.status)
    text = p.order.format(order_id=order.order_id, placed=placed, status=status)
    if order.carrier:
        tracking = p.tracking.format(number=order.tracking_number) if order.tracking_number else ""
        text += p.carrier.format(carrier=order.carrier, tracking=tracking)
    if order.delivered_at and order.status in ("delivered", "returned", "refunded"):
        text += p.delivered.format(date=format_date(order.delivered_at, language))
    return text


def order_totals(order: Order, language: str = DEFAULT_LANGUAGE) -> str:
    """The order's total and items, as the scorer's evidence (not said to the customer unprompted)."""
    return phrasing(language).facts.format(
        order_id=order.order_id, total=f"{order.total:.2f}", currency=order.currency,
        items=", ".join(order.items),
    )  # fmt: skip


def _neutral_lines() -> re.Pattern[str]:
    """Greetings and sign-offs of every language: they claim nothing, so the scorer skips them."""
    lines: set[str] = set()
    for p in PHRASINGS.values():
        lines.update(line.strip() for line in p.sign_off.splitlines())
        lines.add(p.hello)
    named = {re.escape(p.hello_named.split("{name}")[0].strip()) for p in PHRASINGS.values()}
    return re.compile(
        "^(?:" + "|".join(sorted(re.escape(line) for line in lines)) + ")$"
        "|^(?:" + "|".join(sorted(named)) + r")\s[^.!?\n]{0,40}[,:.!]?$",
        re.IGNORECASE,
    )


NEUTRAL_LINE = _neutral_lines()
