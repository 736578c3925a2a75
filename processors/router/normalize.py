"""Entity normalisation for the n-gram view: the same stable token for every order id, amount, e-mail...

Why: the n-gram head learns surface strings. Training data writes an order as ``113542617735902``
or ``#12588``, real tickets as ``NW-100231``; amounts as ``$299`` or ``893 USD``. Left raw, every new
id or amount is a bag of unseen character n-grams that pulls the ticket away from its intent (and
toward whatever class has the most varied text, usually out-of-scope). Replaced by one token per
kind, "refund NW-100263 $893" and "refund 4587345 $299" look the same, which is what they are.

Applied identically when training and predicting (the artifact records that it was used), and only
to the n-gram view: the embedding is computed once by the caller on the raw text and reused by
retrieval.
"""

from __future__ import annotations

import re

NORMALIZATION_VERSION = "entities-v1"

# Order matters: URLs and e-mails contain digits and dots that later patterns would split up.
_PATTERNS: tuple[tuple[re.Pattern[str], str], ...] = (
    (re.compile(r"\b(?:https?://|www\.)\S+", re.IGNORECASE), " zzurl "),
    (re.compile(r"\b[\w.+-]+@[\w-]+(?:\.[\w-]+)+\b"), " zzemail "),
    # $893, € 1.200,50, USD 40, 893 USD, 20 dollars, 15,99€
    (
        re.compile(
            r"(?:[$€£]|\b(?:usd|eur|gbp)\s?)\s?\d[\d.,]*(?:\s?(?:usd|eur|gbp)\b)?"
            r"|\b\d[\d.,]*\s?(?:[$€£]|(?:usd|eur|gbp|dollars?|euros?|bucks|pounds)\b)",
            re.IGNORECASE,
        ),
        " zzmoney ",
    ),
    # International or formatted phone numbers: +1 415 555 0134, (415) 555-0134.
    (re.compile(r"(?:\+\d[\d\s().-]{7,}\d|\(\d{3}\)\s?\d{3}[\s.-]\d{4})"), " zzphone "),
    # Identifiers: NW-100231, INV-2024-0042, 1Z999AA10123456784 (letters and >= 3 digits) ...
    (
        re.compile(r"#?\b(?=[A-Z0-9-]*\d{3})(?=[A-Z0-9-]*[A-Z])[A-Z0-9]+(?:-[A-Z0-9]+)*\b", re.IGNORECASE),
        " zzid ",
    ),
    # ... and bare numbers: 113542617735902, #12588 (not years, sizes or quantities).
    (re.compile(r"#\d+\b|\b\d{5,}\b"), " zzid "),
)
_SPACES = re.compile(r"[ \t]+")


def normalize_for_intent(text: str) -> str:
    """``text`` with URLs, e-mails, amounts, phone numbers and ids replaced by fixed tokens."""
    for pattern, token in _PATTERNS:
        text = pattern.sub(token, text)
    return _SPACES.sub(" ", text).strip()
