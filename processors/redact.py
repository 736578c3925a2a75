"""PII redaction before text reaches a model prompt, a log line, a metric label or the audit topic.

Offline and rule-based (no NER model ships in a PyPI package that runs offline): regexes with checksums
where the format has one, ``phonenumbers`` for phones (:mod:`.redact_phones`), and matches of what the
CRM knows about the customer. Detectors run on a normalised view of the text (:mod:`.redact_normalize`:
NFKC, no zero-width characters, ASCII digits and dashes), so ``４１１１``, en dashes, non-breaking
spaces and zero-width joiners do not hide a number; card, IBAN and national-id formats are in
:mod:`.redact_ids`. Spans are accepted in priority order (emails first, so a name inside an address is
not half-replaced), mapped back to the ORIGINAL text and replaced there by typed placeholders in one
pass, so a placeholder is never matched again and the rest of the text stays exactly as written.

Every scan is linear in the text: regexes start at a character class and never backtrack over a
long run, overlaps are tested by bisection, and the phone parser has a per-text budget, so 256 KB of
hostile input (``"1." * 131072``, pasted price lists) takes well under a second
(``tests/unit/processors/test_redact_linear.py``).

Trade-off, on purpose: commerce identifiers the answer needs are protected from the phone, address and
national-id detectors: order ids like ``NW-100234``, amounts (``$1,200.00``, ``68.00 USD``), dates and
times, tracking numbers (UPS ``1Z...``, and any id after a carrier word: ``DHL Express 1234567890``),
and the token right after a commerce word (``invoice 2024/000123``, ``ref``, ``RMA``, ``SKU``, ``UPC``,
``ZIP 94107-1234``, ``order``...). A valid IBAN or card wins over that protection. A bare 12-22 digit
tracking number with no such context can still be redacted as a phone or card if it happens to be a
valid one (checksum, issuer prefix, and phone-plan validity all have to pass); we prefer losing a
tracking number to leaking a card. CRM names match case-, accent- and apostrophe-insensitively and
with German umlauts spelled out (``Lucia Fernandez``, ``O’Connor``, ``Mueller`` for ``Müller``). Name
parts shorter than 3 characters are not redacted (too many false hits); longer ones match on word
boundaries, so a customer called "Will" also turns "I will" into "I [NAME]".
"""

from __future__ import annotations

import functools
import ipaddress
import re
from bisect import bisect_left, bisect_right
from collections.abc import Iterable, Iterator
from dataclasses import dataclass

import phonenumbers

from supportflow.processors.redact_ids import cards, ibans, id_rules, national_ids
from supportflow.processors.redact_known import MIN_KNOWN_CHARS, known_spans
from supportflow.processors.redact_normalize import normalize
from supportflow.processors.redact_phones import PHONE_REGIONS, phones
from supportflow.schemas.models import CustomerContext
from supportflow.settings import RedactionSettings, get_settings

__all__ = ["MIN_KNOWN_CHARS", "PHONE_REGIONS", "Redaction", "redact", "redact_customer_terms"]


Span = tuple[int, int, str]  # start, end, kind


@dataclass(frozen=True)
class Redaction:
    text: str
    # counts by kind: "EMAIL", "PHONE", "CARD", "IBAN", "IP", "ADDRESS", "NAME", national ids ("SSN")
    found: dict[str, int]
    spans: tuple[Span, ...] = ()  # what was replaced, as (start, end, kind) in the ORIGINAL text


# The "@" may come URL-encoded (%40), spelled out in brackets, or between two spaces. The user part is
# RFC 5322 atext (apostrophes, "!#$%*+^`{|}~", so "%2B" too) and dots, but not the URL delimiters
# "/ = ? &": "?email=jane@x.com" redacts the address, not the URL. Quotes before it are not part of it.
_AT = r"(?:@|%40|\s?[(\[]at[)\]]\s?| @ )"
_LOCAL = r"[\w.!#$%'*+^`{|}~-]"
_EMAIL = re.compile(
    rf"(?<!{_LOCAL})['`]*(?P<email>{_LOCAL}+{_AT}[\w-]+(?:\.[\w-]+)*\.[A-Za-z]{{2,}})(?![\w-])"
)
# Patterns start with a character class (the engine then skips to candidate characters) and check
# the word boundary after it: ``[0-9](?<![\w][0-9])`` is ``\b[0-9]``.
_IPV4 = re.compile(r"[0-9](?<![\w.][0-9])[0-9]{0,2}\.(?:[0-9]{1,3}\.){2}[0-9]{1,3}(?!\w|\.[0-9])")
_IPV6 = re.compile(r"(?<![\w:])[0-9A-Fa-f]{0,4}(?::[0-9A-Fa-f]{0,4}){2,7}(?![\w:])")

_STREET_TYPES = (
    "street|st|avenue|ave|road|rd|boulevard|blvd|lane|ln|drive|dr|court|ct|way|place|pl|terrace|"
    "close|crescent|square|sq|parkway|pkwy|highway|hwy|alley|row|gardens|grove|mews"
)
# Words that never start or fill a street name: keeps "8 on the way" and "401k to my new place" intact.
_NOT_STREET_NAMES = (
    "(?:the|to|my|your|our|their|his|her|its|on|of|in|at|for|and|or|a|an|by|with|from|this|that|these|"
    "those|new|more|same|other|next|last|first|all|any|some|each|per|days?|weeks?|months?|years?|hours?|"
    "minutes?|items?|times?|orders?|products?|pieces?|units?)"
)
# "221B Baker Street", "12 rue de Rivoli": a house number first.
_ADDRESS_NUMBERED = re.compile(
    rf"[0-9](?<![\w][0-9])[0-9]{{0,4}}(?:[A-Za-z]?,?\s+(?:(?!{_NOT_STREET_NAMES}\b)[A-Za-z][\w'.-]*\s+){{1,4}}"
    rf"(?:{_STREET_TYPES})\b\.?|,?\s+(?:rue|avenue|boulevard|chemin|place|all[ée]e)\s+(?:[\w'.-]+\s+){{0,3}}[\w'-]+)",
    re.IGNORECASE,
)
# "Calle Mayor 10", "Hauptstraße 5": the street word first. The German form starts only where a
# (hyphenated) word starts: "a-a-a-..." is scanned once, not from every letter.
_ADDRESS_NAMED = re.compile(
    r"\b(?:calle|avenida|av\.|rua|rue|via|carrer|chemin|boulevard)\s+(?:[\w'.-]+\s+){0,4}\d{1,5}[a-z]?\b"
    r"|(?<![\w-])[A-ZÄÖÜ][\wäöüß-]*(?:straße|strasse|str\.|weg|gasse|platz|allee|ring|damm)\s+\d{1,4}[a-z]?\b",
    re.IGNORECASE,
)
_ADDRESS_HINTS = ("calle", "avenida", "av.", "rua", "rue", "via", "carrer", "chemin", "boulevard", "str",
                  "weg", "gasse", "platz", "allee", "ring", "damm")  # fmt: skip

# Identifiers the answer needs; numeric detectors may not touch them. Each pattern starts with a
# character class, so the regex engine skips straight to candidate characters, and checks the word
# boundary after it; no repetition can backtrack over a long run of digits: every scan is linear.
_PROTECTED = (
    # Amounts before a currency word, ISO dates and times, dd/mm/yyyy (not a piece of 06.12.34.56.78),
    # hh:mm(:ss), UPS 1Z...
    re.compile(
        r"[0-9](?<![\w][0-9])(?:(?<![,.][0-9])[\d,.]*+\s?(?:USD|EUR|GBP|BRL|INR|dollars?|euros?)\b"
        r"|\d{3}-\d{2}-\d{2}(?:[T ]\d{2}:\d{2}(?::\d{2})?(?:\.\d+)?(?:Z|[+-]\d{2}:?\d{2})?)?"
        r"|(?<![0-9][./][0-9])\d?[/.]\d{1,2}[/.]\d{2,4}\b(?![./][0-9])|\d?:\d{2}(?::\d{2})?\b"
        r"|(?<=1)Z[0-9A-Z]{16}\b)"
    ),
    re.compile(r"[$€£¥]\s?\d[\d,.]*+"),  # amounts after a currency sign
    # Order / ticket ids (NW-100234), postal (AA123456789BB) and DHL (JD...) tracking numbers.
    re.compile(
        r"[A-Z](?<![\w][A-Z])(?:[A-Z]{1,4}-\d{3,}\b|[A-Z]\d{9}[A-Z]{2}\b|(?<=J)[A-Z]{1,3}\d{10,22}\b)"
    ),
)
_CARRIERS = (
    r"tracking|track|shipment|parcel|waybill|awb|carrier|dhl|dpd|ups|usps|fedex|gls|hermes|colissimo|correos"
)
# Words after which the next token is a commerce id (invoice, RMA, SKU, ZIP...), not a phone or address.
_COMMERCE = (
    r"invoice|inv|receipt|reference|ref|rma|upc|ean|gtin|isbn|sku|article|model|part|zip(?:\s?code)?|"
    r"postcode|postal\s+code|plz|order|ticket|booking|confirmation|transaction|txn|build|serial"
)
_ID_WORDS = r"(?:\s+(?:number|num|no\.?|nr\.?|id|code|#))"
_PROTECTED_AFTER_WORD = re.compile(
    # Any id after a carrier word ("DHL Express 1234567890", "tracking number: 9400...").
    rf"\b(?i:{_CARRIERS})(?i:\s+(?:express|tracking)|{_ID_WORDS}){{0,2}}[\s:#]*[A-Z0-9]{{8,30}}\b"
    # "invoice 2024/000123", "SKU 12345-678-90", "ZIP 94107-1234": one token with a digit.
    rf"|\b(?i:{_COMMERCE})\b(?i:{_ID_WORDS})?[\s:#.]{{0,3}}(?=[A-Za-z./-]*[0-9])"
    r"[A-Za-z0-9](?:[A-Za-z0-9]|[-/.](?=[A-Za-z0-9])){3,40}"
)
# Substrings one of which any text matched by _PROTECTED_AFTER_WORD contains (lower case).
_AFTER_WORD_HINTS = (
    "track", "shipment", "parcel", "waybill", "awb", "carrier", "dhl", "dpd", "ups", "fedex", "gls",
    "hermes", "colissimo", "correos", "inv", "receipt", "ref", "rma", "upc", "ean", "gtin", "isbn", "sku",
    "article", "model", "part", "zip", "post", "plz", "order", "ticket", "booking", "confirmation", "usps",
    "transaction", "txn", "build", "serial",
)  # fmt: skip


def redact(text: str, known: Iterable[str] = (), settings: RedactionSettings | None = None) -> Redaction:
    """Replace PII in ``text`` with typed placeholders; ``known`` are exact CRM values to remove too.

    ``settings`` picks the national ids and extra id patterns (default: ``get_settings().redaction``).
    """
    config = settings if settings is not None else get_settings().redaction
    view = normalize(text)
    accepted = _detect(view.text, tuple(known), id_rules(config.national_ids, config.id_patterns))
    if not accepted:
        return Redaction(text, {})
    spans = sorted((*view.original_span(start, end), kind) for start, end, kind in accepted)
    parts: list[str] = []
    found: dict[str, int] = {}
    cursor = 0
    for start, end, kind in spans:
        parts.append(text[cursor:start])
        parts.append(f"[{kind}]")
        found[kind] = found.get(kind, 0) + 1
        cursor = end
    parts.append(text[cursor:])
    return Redaction("".join(parts), found, tuple(spans))


class _Intervals:
    """Non-overlapping ``[start, end)`` intervals kept sorted: overlap and containment by bisection."""

    def __init__(self, intervals: Iterable[tuple[int, int]] = ()) -> None:
        """``intervals`` may overlap: they are merged."""
        self.starts: list[int] = []
        self.ends: list[int] = []
        for start, end in sorted(intervals):
            if self.ends and start < self.ends[-1]:
                self.ends[-1] = max(self.ends[-1], end)
            else:
                self.starts.append(start)
                self.ends.append(end)

    def add(self, start: int, end: int) -> None:
        at = bisect_left(self.starts, start)
        self.starts.insert(at, start)
        self.ends.insert(at, end)

    def overlaps(self, start: int, end: int) -> bool:
        # Only the last interval starting before ``end`` can reach past ``start`` (they do not overlap).
        at = bisect_left(self.starts, end)
        return at > 0 and self.ends[at - 1] > start

    def covers(self, start: int, end: int) -> bool:
        at = bisect_right(self.starts, start)
        return at > 0 and self.ends[at - 1] >= end


def _detect(text: str, known: tuple[str, ...], ids: tuple[tuple[str, str], ...]) -> list[Span]:
    """Spans on the normalised ``text``, accepted in priority order, never overlapping."""
    lower = text.lower()
    protected = _Intervals(_protected(text, lower))
    taken = _Intervals()
    accepted: list[Span] = []

    def take(spans: Iterable[Span], respect_protected: bool) -> None:
        for start, end, kind in spans:
            if taken.overlaps(start, end) or (respect_protected and protected.overlaps(start, end)):
                continue
            taken.add(start, end)
            accepted.append((start, end, kind))

    take(_emails(text), respect_protected=False)
    take(known_spans(text, known), respect_protected=False)
    # A mod-97-valid IBAN of its country's length, or a Luhn-valid number with a card network's
    # prefix, wins over protected patterns: the carrier-word rule protects any token after
    # "dhl"/"tracking", digits included, and "WEST-1234" inside "GB82-WEST-1234-..." looks like an order id.
    take(ibans(text), respect_protected=False)
    take(cards(text), respect_protected=False)
    take(_ips(text), respect_protected=False)  # four valid octets never look like a date
    take(national_ids(text, ids), respect_protected=True)
    # The parser is slow: skip candidates inside a protected span or a card/IBAN/id already taken.
    take(phones(text, lambda s, e: protected.covers(s, e) or taken.covers(s, e)), respect_protected=True)
    take(_addresses(text, lower), respect_protected=True)
    return accepted


def _protected(text: str, lower: str) -> Iterator[tuple[int, int]]:
    for pattern in _PROTECTED:
        for m in pattern.finditer(text):
            yield m.span()
    if any(hint in lower for hint in _AFTER_WORD_HINTS):  # skip the slow keyword scan when none is there
        for m in _PROTECTED_AFTER_WORD.finditer(text):
            yield m.span()


def _addresses(text: str, lower: str) -> Iterator[Span]:
    for m in _ADDRESS_NUMBERED.finditer(text):
        yield m.start(), m.end(), "ADDRESS"
    if any(hint in lower for hint in _ADDRESS_HINTS):
        for m in _ADDRESS_NAMED.finditer(text):
            yield m.start(), m.end(), "ADDRESS"


def redact_customer_terms(customer: CustomerContext | None) -> list[str]:
    """The CRM values to pass to :func:`redact` as ``known``: full name, its parts, email, phone forms."""
    if customer is None:
        return []
    terms: list[str] = []
    name = customer.name.strip()
    if name:
        terms.append(name)
        parts = re.split(r"[\s,]+", name)
        parts += [piece for part in parts if "-" in part for piece in part.split("-")]  # "Fernández-Ruiz"
        terms.extend(part for part in parts if len(part) >= MIN_KNOWN_CHARS)
    if customer.email.strip():
        terms.append(customer.email.strip())
    if customer.phone.strip():
        terms.extend(_phone_forms(customer.phone.strip()))
    address = getattr(customer, "address", "")  # not on CustomerContext today; used if a CRM adds it
    if isinstance(address, str) and address.strip():
        terms.append(address.strip())
    return list(dict.fromkeys(t for t in terms if len(t) >= MIN_KNOWN_CHARS))


@functools.lru_cache(maxsize=4096)
def _phone_forms(phone: str) -> tuple[str, ...]:
    """The CRM's phone as stored plus the ways a customer might type it (international, national, bare).

    Cached: parsing and formatting a number costs ~0.15 ms, and every stage that redacts asks again
    for the same customers."""
    forms = [phone]
    try:
        parsed = phonenumbers.parse(phone, None if phone.startswith("+") else PHONE_REGIONS[0])
    except phonenumbers.NumberParseException:
        return tuple(forms)
    for fmt in (
        phonenumbers.PhoneNumberFormat.E164,
        phonenumbers.PhoneNumberFormat.INTERNATIONAL,
        phonenumbers.PhoneNumberFormat.NATIONAL,
    ):
        forms.append(phonenumbers.format_number(parsed, fmt))
    forms.append(str(parsed.national_number))
    return tuple(forms)


def _emails(text: str) -> Iterator[Span]:
    if "@" in text or "%40" in text or "at)" in text or "at]" in text:
        for m in _EMAIL.finditer(text):
            yield m.start("email"), m.end("email"), "EMAIL"


def _ips(text: str) -> Iterator[Span]:
    if "." in text:
        for m in _IPV4.finditer(text):
            try:
                ipaddress.IPv4Address(m.group(0))
            except ValueError:
                continue
            yield m.start(), m.end(), "IP"
    if "::" in text or text.count(":") >= 7:
        for m in _IPV6.finditer(text):
            candidate = m.group(0)
            if not any(c.isalnum() for c in candidate):
                continue
            try:
                ipaddress.IPv6Address(candidate)
            except ValueError:
                continue
            yield m.start(), m.end(), "IP"


def _bench(argv: list[str] | None = None) -> None:
    """``python -m supportflow.processors.redact --csv FILE``: throughput and what fired on real texts."""
    import argparse
    import csv
    import time

    parser = argparse.ArgumentParser(description=_bench.__doc__)
    parser.add_argument("--csv", required=True, help="CSV with a 'text' column (e.g. a train split)")
    parser.add_argument("--column", default="text")
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args(argv)
    with open(args.csv, newline="", encoding="utf-8") as handle:
        texts = [row[args.column] for row in csv.DictReader(handle)]
    known = ("Maya Thompson", "Maya", "Thompson", "maya.thompson@example.com", "+14155550101")
    found: dict[str, int] = {}
    changed = 0
    for text in texts:
        result = redact(text, known)
        changed += result.text != text
        for kind, count in result.found.items():
            found[kind] = found.get(kind, 0) + count
    started = time.perf_counter()
    for _ in range(args.repeat):
        for text in texts:
            redact(text, known)
    elapsed = time.perf_counter() - started
    rate = len(texts) * args.repeat / elapsed
    print(f"texts={len(texts)} texts_per_s={rate:.0f} changed={changed} found={found}")


if __name__ == "__main__":
    _bench()
