"""PII redaction before text reaches a model prompt, a log line, a metric label or the audit topic.

Offline and rule-based (no NER model installs offline here, see PLATFORM.md): regexes with checksums
where the format has one, ``phonenumbers`` for phones, and exact matches of what the CRM knows about
the customer. Detectors run on a normalised view of the text (:mod:`.redact_normalize`: NFKC, no
zero-width characters, ASCII digits), so ``４１１１``, non-breaking spaces and zero-width joiners do
not hide a number; card and IBAN separators are in :mod:`.redact_ids`. Spans are accepted in priority
order (emails first, so a name inside an address is not half-replaced), mapped back to the ORIGINAL
text and replaced there by typed placeholders in one pass, so a placeholder is never matched again and
the rest of the text stays exactly as written.

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

from supportflow.processors.redact_ids import cards, ibans, id_rules, national_ids
from supportflow.processors.redact_normalize import fold, normalize
from supportflow.schemas.models import CustomerContext
from supportflow.settings import RedactionSettings, get_settings

PHONE_REGIONS = ("US", "GB", "DE", "ES", "FR", "BR", "IN")
MIN_KNOWN_CHARS = 3


Span = tuple[int, int, str]  # start, end, kind


@dataclass(frozen=True)
class Redaction:
    text: str
    # counts by kind: "EMAIL", "PHONE", "CARD", "IBAN", "IP", "ADDRESS", "NAME", national ids ("SSN")
    found: dict[str, int]
    spans: tuple[Span, ...] = ()  # what was replaced, as (start, end, kind) in the ORIGINAL text


# The "@" may come URL-encoded (%40) or spelled out in brackets; "+" and "." URL-encoded in the user part.
_AT = r"(?:@|%40|\s?[(\[]at[)\]]\s?)"
_EMAIL = re.compile(rf"(?<![\w.+-])(?:[\w.+-]|%2[BbEe])+{_AT}[\w-]+(?:\.[\w-]+)*\.[A-Za-z]{{2,}}(?![\w-])")
_IPV4 = re.compile(r"(?<![\w.])(?:[0-9]{1,3}\.){3}[0-9]{1,3}(?!\w|\.[0-9])")
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


def _detect(text: str, known: tuple[str, ...], ids: tuple[tuple[str, str], ...]) -> list[Span]:
    """Spans on the normalised ``text``, accepted in priority order, never overlapping."""
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
    take(_known(text, known), respect_protected=False)
    # A mod-97-valid IBAN of its country's length, or a Luhn-valid number with a card network's
    # prefix, wins over protected patterns: the carrier-word rule protects any token after
    # "dhl"/"tracking", digits included, and "WEST-1234" inside "GB82-WEST-1234-..." looks like an order id.
    take(ibans(text), respect_protected=False)
    take(cards(text), respect_protected=False)
    take(_ips(text), respect_protected=False)  # four valid octets never look like a date
    take(national_ids(text, ids), respect_protected=True)
    # The parser is slow: skip candidates inside a protected span or a card/IBAN/id already taken.
    take(_phones(text, protected + [(s, e) for s, e, _ in accepted]), respect_protected=True)
    take(((m.start(), m.end(), "ADDRESS") for m in _ADDRESS.finditer(text)), respect_protected=True)
    return accepted


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
    if "@" in text or "%40" in text or "at)" in text or "at]" in text:
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
    folded = (fold(k).strip() for k in known)  # matched on the normalised text, so normalised too
    values = sorted({k for k in folded if len(k) >= MIN_KNOWN_CHARS}, key=len, reverse=True)
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
        # A hit inside a protected span (a tracking number, a date) or an accepted one would be dropped
        # anyway; the parser is the slow part of redaction (7 regions), and CRM order lines are full of
        # tracking numbers.
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
