"""PII redaction before text reaches a model prompt, a log line, a metric label or the audit topic.

Offline and rule-based (no NER model installs offline here, see PLATFORM.md): regexes with checksums
where the format has one, ``phonenumbers`` for phones, and exact matches of what the CRM knows about
the customer. Every detector proposes spans on the ORIGINAL text; spans are accepted in priority order
(emails first, so a name inside an address is not half-replaced) and replaced by typed placeholders in
one pass, so a placeholder is never matched again.

Trade-off, on purpose: commerce identifiers the answer needs are protected from the numeric detectors
(phone, card, IBAN, IP, address): order ids like ``NW-100234``, amounts (``$1,200.00``, ``68.00 USD``),
dates and times, and tracking numbers (UPS ``1Z...``, carrier-prefixed ids, and any digit run right
after "tracking"/"shipment"/"parcel"). A bare 12-22 digit tracking number with no such context can
still be redacted as a phone or card if it happens to be a valid one (checksum, issuer prefix, and
phone-plan validity all have to pass); we prefer losing a tracking number to leaking a card. Name parts
shorter than 3 characters are not redacted (too many false hits); longer ones match case-insensitively
on word boundaries, so a customer called "Will" also turns "I will" into "I [NAME]".
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from functools import lru_cache

import phonenumbers

from supportflow.schemas.models import CustomerContext

PHONE_REGIONS = ("US", "GB", "DE", "ES", "FR", "BR", "IN")
MIN_KNOWN_CHARS = 3


@dataclass(frozen=True)
class Redaction:
    text: str
    found: dict[str, int]  # counts by kind: "EMAIL", "PHONE", "CARD", "IBAN", "IP", "ADDRESS", "NAME"


Span = tuple[int, int, str]  # start, end, kind

_EMAIL = re.compile(r"(?<![\w.+-])[\w.+-]+@[\w-]+(?:\.[\w-]+)*\.[A-Za-z]{2,}(?![\w-])")
_CARD = re.compile(r"(?<![\w-])\d(?:[ -]?\d){12,18}(?![\w-])")
_IBAN = re.compile(r"\b[A-Z]{2}\d{2}(?: ?[A-Z0-9]){10,30}\b")
_IPV4 = re.compile(r"(?<![\w.])(?:\d{1,3}\.){3}\d{1,3}(?![\w.])")
_IPV6 = re.compile(r"(?<![\w:])[0-9A-Fa-f]{0,4}(?::[0-9A-Fa-f]{0,4}){2,7}(?![\w:])")
# Cheap pre-filter so phonenumbers (slow, ~60 us per region) only sees plausible candidates.
_PHONE_CANDIDATE = re.compile(r"(?<![\w-])(?:\+|00)?\(?\d[\d ()./-]{5,22}\d(?![\w-])")

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
_ADDRESS = re.compile(
    rf"\b\d{{1,5}}[A-Za-z]?,?\s+(?:(?!{_NOT_STREET_NAMES}\b)[A-Za-z][\w'.-]*\s+){{1,4}}(?:{_STREET_TYPES})\b\.?"
    r"|\b(?:calle|avenida|av\.|rua|rue|via|carrer|chemin|boulevard)\s+(?:[\w'.-]+\s+){0,4}\d{1,5}[a-z]?\b"
    r"|\b\d{1,5},?\s+(?:rue|avenue|boulevard|chemin|place|all[ée]e)\s+(?:[\w'.-]+\s+){0,3}[\w'-]+"
    r"|\b[A-ZÄÖÜ][\wäöüß-]*(?:straße|strasse|str\.|weg|gasse|platz|allee|ring|damm)\s+\d{1,4}[a-z]?\b",
    re.IGNORECASE,
)

# Identifiers the answer needs; numeric detectors may not touch them.
_PROTECTED = re.compile(
    r"\b[A-Z]{2,5}-\d{3,}\b"  # order / ticket ids: NW-100234
    r"|[$€£¥]\s?\d[\d,.]*|\b\d[\d,.]*\s?(?:USD|EUR|GBP|BRL|INR|dollars?|euros?)\b"  # amounts
    r"|\b\d{4}-\d{2}-\d{2}(?:[T ]\d{2}:\d{2}(?::\d{2})?(?:\.\d+)?(?:Z|[+-]\d{2}:?\d{2})?)?"  # ISO dates
    r"|\b\d{1,2}[/.]\d{1,2}[/.]\d{2,4}\b|\b\d{1,2}:\d{2}(?::\d{2})?\b"  # dd/mm/yyyy, times
    r"|\b1Z[0-9A-Z]{16}\b|\b[A-Z]{2}\d{9}[A-Z]{2}\b|\bJ[A-Z]{1,3}\d{10,22}\b"  # UPS, postal, DHL
    r"|\b(?i:tracking|track|shipment|parcel|waybill|awb|carrier|dhl|dpd|ups|usps|fedex|gls|hermes|colissimo|correos)(?:\s+(?:number|no\.?|id|code|#))?[\s:#]*[A-Z0-9]{8,30}\b",
    re.UNICODE,
)

# Country -> IBAN length (ISO 13616 registry, the countries customers of an EU/US store are likely from).
_IBAN_LENGTHS = {
    "AD": 24, "AT": 20, "BE": 16, "BG": 22, "BR": 29, "CH": 21, "CY": 28, "CZ": 24, "DE": 22, "DK": 18,
    "EE": 20, "ES": 24, "FI": 18, "FR": 27, "GB": 22, "GI": 23, "GR": 27, "HR": 21, "HU": 28, "IE": 22,
    "IS": 26, "IT": 27, "LI": 21, "LT": 20, "LU": 20, "LV": 21, "MC": 27, "MT": 31, "NL": 18, "NO": 15,
    "PL": 28, "PT": 25, "RO": 24, "SE": 24, "SI": 19, "SK": 24, "SM": 27, "TR": 26, "UA": 29,
}  # fmt: skip


def redact(text: str, known: Iterable[str] = ()) -> Redaction:
    """Replace PII in ``text`` with typed placeholders; ``known`` are exact CRM values to remove too."""
    protected = [(m.start(), m.end()) for m in _PROTECTED.finditer(text)]
    accepted: list[Span] = []

    def take(spans: Iterable[Span], respect_protected: bool) -> None:
        for start, end, kind in spans:
            if any(start < e and s < end for s, e, _ in accepted):
                continue
            if respect_protected and any(start < e and s < end for s, e in protected):
                continue
            accepted.append((start, end, kind))

    take(_emails(text), respect_protected=False)
    take(_known(text, tuple(known)), respect_protected=False)
    take(_ibans(text), respect_protected=True)
    # A Luhn-valid number with a card network's prefix is a card even where a protected pattern
    # covers it: the carrier-word rule protects any token after "dhl"/"tracking", digits included.
    take(_cards(text), respect_protected=False)
    take(_ips(text), respect_protected=False)  # four valid octets never look like a date
    take(_phones(text, protected), respect_protected=True)
    take(((m.start(), m.end(), "ADDRESS") for m in _ADDRESS.finditer(text)), respect_protected=True)
    if not accepted:
        return Redaction(text, {})
    accepted.sort()
    parts: list[str] = []
    found: dict[str, int] = {}
    cursor = 0
    for start, end, kind in accepted:
        parts.append(text[cursor:start])
        parts.append(f"[{kind}]")
        found[kind] = found.get(kind, 0) + 1
        cursor = end
    parts.append(text[cursor:])
    return Redaction("".join(parts), found)


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


def _phone_forms(phone: str) -> list[str]:
    """The CRM's phone as stored plus the ways a customer might type it (international, national, bare)."""
    forms = [phone]
    try:
        parsed = phonenumbers.parse(phone, None if phone.startswith("+") else PHONE_REGIONS[0])
    except phonenumbers.NumberParseException:
        return forms
    for fmt in (
        phonenumbers.PhoneNumberFormat.E164,
        phonenumbers.PhoneNumberFormat.INTERNATIONAL,
        phonenumbers.PhoneNumberFormat.NATIONAL,
    ):
        forms.append(phonenumbers.format_number(parsed, fmt))
    forms.append(str(parsed.national_number))
    return forms


def _emails(text: str) -> Iterator[Span]:
    if "@" in text:
        for m in _EMAIL.finditer(text):
            yield m.start(), m.end(), "EMAIL"


def _known_kind(value: str) -> str:
    if "@" in value:
        return "EMAIL"
    digits = sum(c.isdigit() for c in value)
    if digits >= 7 and re.fullmatch(r"[\d\s()+./-]+", value):
        return "PHONE"
    if digits and re.search(r"[A-Za-z]", value):
        return "ADDRESS"
    return "NAME"


@lru_cache(maxsize=4096)
def _known_pattern(known: tuple[str, ...]) -> tuple[re.Pattern[str], dict[str, str]] | None:
    values = sorted({k.strip() for k in known if len(k.strip()) >= MIN_KNOWN_CHARS}, key=len, reverse=True)
    if not values:
        return None
    kinds = {v.casefold(): _known_kind(v) for v in values}
    alternatives = "|".join(re.escape(v) for v in values)  # longest first: full name before its parts
    return re.compile(rf"(?<!\w)(?:{alternatives})(?!\w)", re.IGNORECASE), kinds


def _known(text: str, known: tuple[str, ...]) -> Iterator[Span]:
    compiled = _known_pattern(known) if known else None
    if compiled is None:
        return
    pattern, kinds = compiled
    for m in pattern.finditer(text):
        yield m.start(), m.end(), kinds.get(m.group(0).casefold(), "NAME")


def _luhn_ok(digits: str) -> bool:
    total = 0
    for i, ch in enumerate(reversed(digits)):
        d = int(ch)
        if i % 2:
            d = d * 2 - 9 if d > 4 else d * 2
        total += d
    return total % 10 == 0


def _issuer_ok(digits: str) -> bool:
    """Card networks' prefixes (Visa, Mastercard, Amex, Discover, JCB, Diners, UnionPay, Maestro)."""
    two, four = int(digits[:2]), int(digits[:4])
    return (
        digits[0] == "4"
        or 51 <= two <= 55
        or 2221 <= four <= 2720
        or two in (34, 37, 35, 36, 38, 62, 65)
        or 300 <= int(digits[:3]) <= 305
        or four == 6011
        or 644 <= int(digits[:3]) <= 649
        or digits[:2] in ("50", "56", "57", "58", "63", "67")
    )


def _cards(text: str) -> Iterator[Span]:
    for m in _CARD.finditer(text):
        digits = re.sub(r"[ -]", "", m.group(0))
        if 13 <= len(digits) <= 19 and _issuer_ok(digits) and _luhn_ok(digits):
            yield m.start(), m.end(), "CARD"


def _iban_valid(compact: str) -> bool:
    rearranged = compact[4:] + compact[:4]
    return int("".join(str(int(c, 36)) for c in rearranged)) % 97 == 1


def _ibans(text: str) -> Iterator[Span]:
    for m in _IBAN.finditer(text):
        start, raw = m.start(), m.group(0)
        length = _IBAN_LENGTHS.get(raw[:2])
        if length is None:
            compact = raw.replace(" ", "")
            if _iban_valid(compact):
                yield start, m.end(), "IBAN"
            continue
        # The regex may run into a following uppercase word: cut at the country's exact length.
        taken, end = 0, start
        while end < m.end() and taken < length:
            taken += raw[end - start] != " "
            end += 1
        if taken == length and _iban_valid(text[start:end].replace(" ", "")):
            yield start, end, "IBAN"


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


def _phones(text: str, protected: Sequence[tuple[int, int]] = ()) -> Iterator[Span]:
    for m in _PHONE_CANDIDATE.finditer(text):
        if sum(c.isdigit() for c in m.group(0)) < 7:
            continue
        # A hit inside a protected span (a tracking number, a date) would be dropped anyway; the parser
        # is the slow part of redaction (7 regions), and CRM order lines are full of tracking numbers.
        if any(s <= m.start() and m.end() <= e for s, e in protected):
            continue
        # The first region that finds a valid number in the candidate wins; "+" numbers match in any.
        for region in PHONE_REGIONS:
            hits = list(
                phonenumbers.PhoneNumberMatcher(m.group(0), region, leniency=phonenumbers.Leniency.VALID)
            )
            if hits:
                for hit in hits:
                    yield m.start() + hit.start, m.start() + hit.end, "PHONE"
                break


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
