"""Make short templated training instructions look like the tickets a store actually receives.

Public intent data (Bitext) is one lower-case sentence of <= 60 characters ("how can I cancel purchase
113542617735902?"). Real tickets greet, give an order id in the store's own format, add a second
sentence, sign off with a name. A router trained only on the templates learns "short and templated =
in scope", so a real ticket looks unlike every intent and falls to out-of-scope. Each variant here
keeps the instruction's meaning and adds that ticket surface; the same wrappers also go around
out-of-scope rows, so a greeting or a signature is never evidence for an intent.

Deterministic for a given ``random.Random``.
"""

from __future__ import annotations

import random
import re
from collections.abc import Sequence

GREETINGS = (
    "Hi,", "Hello,", "Hi there,", "Hey,", "Hello team,", "Good morning,", "Dear support,", "Hi Northwind,",
    "Hey there!", "Good afternoon,", "Hello support team,",
)  # fmt: skip
NAMES = (
    "Anna", "Daniel", "Maria", "James", "Priya", "Tom", "Lucia", "Ahmed", "Sofia", "Chris", "Emma", "Jonas",
    "Mei", "Carlos", "Olivia", "Sam", "Fatima", "Peter", "Laura", "Kenji",
)  # fmt: skip
SIGN_OFFS = (
    "Thanks,\n{name}", "Best regards,\n{name}", "Kind regards,\n{name}", "Cheers, {name}", "Thank you!",
    "Thanks in advance.", "Regards,\n{name} {initial}.", "Thanks so much,\n{name}", "Sent from my iPhone",
    "Best,\n{name}",
)  # fmt: skip
# Sentences that add length and tone but no intent.
NEUTRAL = (
    "Hope you can help.", "I'd appreciate a quick reply.", "Thanks for your help.", "I've been a customer for years.",
    "This is the first time I'm writing to you.", "Please let me know as soon as possible.",
    "Not sure if this is the right place to ask.", "I couldn't find the answer on your website.",
    "Sorry if this was asked before.", "Looking forward to hearing from you.",
)  # fmt: skip
# Intents whose tickets usually name an order: their variants may say which one.
ORDER_INTENTS = frozenset({
    "track_order", "cancel_order", "change_order", "check_cancellation_fee", "change_shipping_address",
    "get_refund", "track_refund", "payment_issue", "check_invoice", "get_invoice", "complaint",
    "delivery_period",
})  # fmt: skip
ORDER_SENTENCES = (
    "My order number is {order}.", "Order {order}.", "It's order {order}.", "The order is {order}.",
    "(order {order})", "Order number: {order}",
)  # fmt: skip
# Bitext speaks of "an item", "the product", "some articles"; a store's customers name the thing.
PRODUCTS = (
    "rain jacket", "hiking boots", "down jacket", "fleece", "backpack", "tent", "sleeping bag", "wool socks",
    "trail shoes", "beanie", "t-shirts", "jeans", "parka", "gloves", "water bottle", "camping chair",
)  # fmt: skip
_GENERIC_ITEM = re.compile(
    r"\b(?:an? |the |some |several |this |that )?(?:items?|products?|articles?)\b", re.IGNORECASE
)
_BARE_ID = re.compile(r"#?\b\d{5,}\b")
_BREAKS = ("\n", " ", "\n\n")


def store_order_id(rng: random.Random) -> str:
    """An order id in the formats shops use (NW-100231, #482913, A1002938), not the data set's digits."""
    kind = rng.random()
    if kind < 0.6:
        return f"NW-{rng.randint(100000, 109999)}"
    if kind < 0.8:
        return f"#{rng.randint(100000, 999999)}"
    return f"{rng.choice('ABCKW')}{rng.randint(1000000, 9999999)}"


def _sentence(text: str) -> str:
    """Capitalised, with end punctuation, as people type in an e-mail."""
    text = text.strip()
    if not text:
        return text
    text = text[0].upper() + text[1:]
    return text if text[-1] in ".?!)" else text + ("?" if _looks_like_question(text) else ".")


def _looks_like_question(text: str) -> bool:
    first = text.split(maxsplit=1)[0].lower()
    return first in {
        "how",
        "what",
        "where",
        "when",
        "can",
        "could",
        "is",
        "are",
        "do",
        "does",
        "will",
        "would",
    }


def realistic_variant(
    text: str, label: str, rng: random.Random, same_intent: Sequence[str] = (), oos_label: str = "oos"
) -> str:
    """One ticket-shaped rewrite of ``text`` (of intent ``label``); ``same_intent`` offers other
    instructions of the same intent for a two-sentence ticket."""
    body = _BARE_ID.sub(lambda _: store_order_id(rng), text)
    if rng.random() < 0.5:
        body = _GENERIC_ITEM.sub(lambda _: f"the {rng.choice(PRODUCTS)}", body)
    if rng.random() < 0.6:
        body = _sentence(body)
    parts = [body]
    roll = rng.random()
    if same_intent and roll < 0.25:
        parts.append(_sentence(_BARE_ID.sub(lambda _: store_order_id(rng), rng.choice(same_intent))))
    elif label != oos_label and label in ORDER_INTENTS and roll < 0.6 and not _BARE_ID.search(text):
        parts.append(rng.choice(ORDER_SENTENCES).format(order=store_order_id(rng)))
    elif roll < 0.8:
        parts.append(rng.choice(NEUTRAL))
    message = " ".join(parts)
    if rng.random() < 0.65:
        message = rng.choice(GREETINGS) + rng.choice(_BREAKS) + message
    if rng.random() < 0.6:
        sign_off = rng.choice(SIGN_OFFS).format(name=rng.choice(NAMES), initial=rng.choice("BCDKLMPRS"))
        message = message + rng.choice(_BREAKS) + sign_off
    return message
