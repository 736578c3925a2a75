"""Hard facts in text — the claims a customer can hold us to — in one normalised form.

``extract_facts("Refunds over $200 take 5-10 business days")`` gives ``money:200`` and
``duration:5-10 business day``. The same function runs over the answer and over its sources, so
``$200``, ``200 USD`` and ``200.00`` meet as ``money:200``; ``November 2, 2026`` and
``2026-11-02T15:20:00Z`` meet as ``date:2026-11-02``. Named entities and identifiers are checked by
containment instead (see :func:`Fact.supported_by`).
"""

from __future__ import annotations

import re
from collections.abc import Set as AbstractSet
from dataclasses import dataclass
from functools import lru_cache

from supportflow.processors.knowledge.phrasing import (
    DEFAULT_LANGUAGE,
    describe_order,
    order_totals,
    speaks,
)
from supportflow.schemas.models import CustomerContext

MONTHS = {
    m: i + 1
    for i, names in enumerate(
        [
            ("january", "jan"),
            ("february", "feb"),
            ("march", "mar"),
            ("april", "apr"),
            ("may",),
            ("june", "jun"),
            ("july", "jul"),
            ("august", "aug"),
            ("september", "sep", "sept"),
            ("october", "oct"),
            ("november", "nov"),
            ("december", "dec"),
        ]
    )
    for m in names
}
_MONTH = r"(?:" + "|".join(sorted(MONTHS, key=len, reverse=True)) + r")\.?"
_NUMBER_WORDS = {
    "one": 1, "two": 2, "three": 3, "four": 4, "five": 5, "six": 6, "seven": 7, "eight": 8, "nine": 9,
    "ten": 10, "eleven": 11, "twelve": 12, "fourteen": 14, "fifteen": 15, "twenty": 20, "thirty": 30,
    "forty-five": 45, "sixty": 60, "ninety": 90,
}  # fmt: skip
_NUM = r"(?:\d+(?:[.,]\d+)*|" + "|".join(_NUMBER_WORDS) + r")"
_UNITS = {
    "minute": "minute", "min": "minute", "hour": "hour", "hr": "hour", "day": "day", "week": "week",
    "month": "month", "year": "year",
}  # fmt: skip
_CURRENCY = {"$": "USD", "usd": "USD", "dollar": "USD", "dollars": "USD", "€": "EUR", "eur": "EUR",
             "euro": "EUR", "euros": "EUR", "£": "GBP", "gbp": "GBP"}  # fmt: skip

# Order matters: earlier patterns claim their span so later ones do not re-read the same characters.
_PATTERNS: list[tuple[str, re.Pattern[str]]] = [
    ("url", re.compile(r"\bhttps?://[^\s)>\]]+|\bwww\.[^\s)>\]]+", re.IGNORECASE)),
    ("email", re.compile(r"\b[\w.+-]+@[\w-]+(?:\.[\w-]+)+\b")),
    ("date", re.compile(r"\b\d{4}-\d{2}-\d{2}(?:[T ]\d{2}:\d{2}(?::\d{2})?Z?)?")),
    ("date", re.compile(rf"\b{_MONTH}\s+\d{{1,2}}(?:st|nd|rd|th)?(?:,?\s+\d{{4}})?\b", re.IGNORECASE)),
    ("date", re.compile(rf"\b\d{{1,2}}(?:st|nd|rd|th)?\s+{_MONTH}(?:,?\s+\d{{4}})?\b", re.IGNORECASE)),
    ("date", re.compile(r"\b\d{1,2}/\d{1,2}/\d{4}\b")),
    ("id", re.compile(r"\b(?=[A-Z0-9-]*\d)(?=[A-Z0-9-]*[A-Z])[A-Z0-9]+(?:-[A-Z0-9]+)+\b")),  # NW-100231
    ("id", re.compile(r"\b(?=[A-Za-z0-9]*\d)(?=[A-Za-z0-9]*[A-Za-z])[A-Za-z0-9]{8,}\b")),  # 1Z999AA1...
    ("phone", re.compile(r"(?<![\w-])\+?\d{1,3}[\s.-]?\(?\d{2,4}\)?(?:[\s.-]?\d{2,4}){2,4}(?![\w-])")),
    ("money", re.compile(rf"[$€£]\s?{_NUM}|\b{_NUM}\s?(?:usd|eur|gbp|dollars?|euros?)\b", re.IGNORECASE)),
    ("percent", re.compile(rf"\b{_NUM}\s?(?:%|percent\b)", re.IGNORECASE)),
    (
        "time",
        re.compile(r"\b\d{1,2}(?::\d{2})?\s?(?:a\.?m\.?|p\.?m\.?)(?!\w)|\b\d{1,2}:\d{2}\b", re.IGNORECASE),
    ),
    (
        "duration",
        re.compile(
            rf"\b{_NUM}(?:\s?(?:-|–|to|or)\s?{_NUM})?[\s-]+(?:(business|working|calendar)[\s-]+)?"
            r"(minute|min|hour|hr|day|week|month|year)s?\b",
            re.IGNORECASE,
        ),
    ),
    ("number", re.compile(r"\b\d+(?:[.,]\d+)*\b")),
]
# Letters beyond ASCII belong to the word: "Haustür" is one word, not the name "Haust".
_ENTITY = re.compile(r"\b[A-ZÀ-ÖØ-Þ][\w&'’.-]*[^\W_]|\b[A-ZÀ-ÖØ-Þ]\b")
_NOT_ENTITIES = frozenset({"I", "A", "OK", "Hi", "Hello", "Dear", "Thanks", "Yes", "No"})


@dataclass(frozen=True)
class Fact:
    kind: str  # url | email | date | id | phone | money | percent | time | duration | number | entity
    key: str  # normalised value compared across texts
    text: str  # as written

    def supported_by(self, keys: AbstractSet[str], haystack: str) -> bool:
        """True when the evidence (its fact ``keys`` and lower-cased text) states this fact."""
        if self.kind == "entity":  # whole word: "UPS" must not be found inside "groups"
            return re.search(rf"(?<!\w){re.escape(self.key)}(?!\w)", haystack) is not None
        if self.kind in _CONTAINMENT:  # whole token: "NW-1002" must not be found inside "NW-100231"
            return re.search(rf"(?<![\w.-]){re.escape(self.key)}(?![\w-])", haystack) is not None
        if self.key in keys:
            return True
        value = self.key.split(":", 1)[1]
        if self.kind == "money":  # "$200" is supported by a source that says "200" next to "USD"
            return f"number:{value}" in keys
        if self.kind == "date" and value.startswith("-"):  # "November 2" without a year
            return any(k.startswith("date:") and k.endswith(value[1:]) for k in keys)
        if self.kind == "duration":  # "10 days" is supported by "10 business days"
            numbers, qualifier, unit = value.split("|")
            return not qualifier and any(
                k.startswith(f"duration:{numbers}|") and k.endswith(f"|{unit}") for k in keys
            )
        return False


_CONTAINMENT = frozenset({"url", "email", "id", "entity"})


def extract_facts(text: str) -> list[Fact]:
    facts: list[Fact] = []
    taken = [False] * len(text)
    for kind, pattern in _PATTERNS:
        for match in pattern.finditer(text):
            start, end = match.span()
            if any(taken[start:end]):
                continue
            value = _normalise(kind, match)
            if value is None:
                continue
            taken[start:end] = [True] * (end - start)
            key = value if kind in _CONTAINMENT else f"{kind}:{value}"
            facts.append(Fact(kind, key, match.group(0)))
    facts.extend(_entities(text, taken))
    return facts


@lru_cache(maxsize=16_384)
def fact_keys(text: str) -> frozenset[str]:
    """Fact keys of ``text``; cached because help-center passages are checked again for every ticket."""
    keys = {f.key for f in extract_facts(text) if f.kind not in _CONTAINMENT}
    # A money amount in a source also licenses the bare number.
    keys |= {"number:" + k.split(":", 1)[1] for k in keys if k.startswith("money:")}
    return frozenset(keys)


def _normalise(kind: str, match: re.Match[str]) -> str | None:
    raw = match.group(0)
    low = raw.lower()
    if kind == "url":
        return low.rstrip(".,;:!?").removeprefix("https://").removeprefix("http://").removeprefix("www.")
    if kind in ("email", "id"):
        return low
    if kind == "phone":
        digits = re.sub(r"\D", "", raw)
        return digits if len(digits) >= 9 else None
    if kind == "money":
        return _number(re.sub(r"[$€£]|usd|eur|gbp|dollars?|euros?", "", low).strip())
    if kind == "percent":
        return _number(re.sub(r"%|percent", "", low).strip())
    if kind == "time":
        return _time(low)
    if kind == "date":
        return _date(raw)
    if kind == "duration":
        head = low[: match.start(1 if match.group(1) else 2) - match.start()]
        numbers = "-".join(_number(n) for n in re.findall(rf"\b{_NUM}\b", head)[:2])
        unit = _UNITS[match.group(2).lower()]
        qualifier = (match.group(1) or "").lower().replace("working", "business")
        return f"{numbers}|{qualifier}|{unit}"
    if kind == "number":
        return _number(low)
    return None


def _number(raw: str) -> str:
    raw = raw.strip().lower()
    if raw in _NUMBER_WORDS:
        return str(_NUMBER_WORDS[raw])
    if re.fullmatch(r"\d{1,3}(?:,\d{3})+(?:\.\d+)?", raw):
        raw = raw.replace(",", "")
    raw = raw.replace(",", ".")
    try:
        value = float(raw)
    except ValueError:
        return raw
    return str(int(value)) if value == int(value) else f"{value:g}"


def _time(low: str) -> str:
    match = re.match(r"(\d{1,2})(?::(\d{2}))?\s?([ap])?", low)
    if not match:
        return low
    hour, minute = int(match.group(1)), int(match.group(2) or 0)
    if match.group(3) == "p" and hour < 12:
        hour += 12
    if match.group(3) == "a" and hour == 12:
        hour = 0
    return f"{hour:02d}:{minute:02d}"


def _date(raw: str) -> str | None:
    iso = re.match(r"(\d{4})-(\d{2})-(\d{2})", raw)
    if iso:
        return f"{iso.group(1)}-{iso.group(2)}-{iso.group(3)}"
    slash = re.match(r"(\d{1,2})/(\d{1,2})/(\d{4})", raw)
    if slash:  # US order: month/day/year
        return f"{slash.group(3)}-{int(slash.group(1)):02d}-{int(slash.group(2)):02d}"
    month = next((MONTHS[w.rstrip(".")] for w in re.findall(r"[A-Za-z]+\.?", raw.lower())
                  if w.rstrip(".") in MONTHS), None)  # fmt: skip
    numbers = re.findall(r"\d+", raw)
    if month is None or not numbers:
        return None
    day = int(numbers[0])
    year = numbers[1] if len(numbers) > 1 else "-"
    return f"{year}-{month:02d}-{day:02d}"


def _entities(text: str, taken: list[bool]) -> list[Fact]:
    """Capitalised words that do not start a sentence: product, carrier, place and brand names."""
    facts: list[Fact] = []
    for match in _ENTITY.finditer(text):
        start, end = match.span()
        word = match.group(0).rstrip(".")
        if any(taken[start:end]) or word in _NOT_ENTITIES or word.lower() in MONTHS:
            continue
        before = text[:start].rstrip()
        sentence_start = not before or before[-1] in ".!?:\n(\"'•-*" or re.search(r"\d[.)]$", before)
        if sentence_start and not (word.isupper() and len(word) > 1):
            continue  # an ordinary capitalised first word, unless it is an acronym such as UPS
        facts.append(Fact("entity", word.lower(), word))
    return facts


def customer_fact_lines(customer: CustomerContext | None, language: str = DEFAULT_LANGUAGE) -> list[str]:
    """Every CRM fact about ``customer`` as text: the evidence an answer may use besides the sources.
    For an answer in another ``language``, the same order facts are also written as the drafter
    writes them in it, so a sentence is compared with evidence in its own language."""
    if customer is None:
        return []
    lines = [f"Customer {customer.name} <{customer.email}> {customer.phone}, tier {customer.tier}."]
    for order in customer.orders:
        lines.append(describe_order(order))
        items = ", ".join(order.items)
        lines.append(
            f"Order {order.order_id} total {order.total:.2f} {order.currency}, items: {items}; "
            f"placed {order.placed_at}, delivered {order.delivered_at or 'not yet'}."
        )
        if language != DEFAULT_LANGUAGE and speaks(language):
            lines += [describe_order(order, language), order_totals(order, language)]
    return lines
