"""Phone numbers in the normalised view: cheap candidates, a shape filter, then ``phonenumbers``, budgeted.

A candidate is a digit run of 7+ digits typed with phone separators (spaces, ``( ) . / -``, an
optional ``+``/``00``), at most 24 characters long, so the scan is linear. Before the parser sees a
candidate it must look like a phone, not a version, a list or a price table: no more than two
one-digit groups unless they are under half of its groups (``1.1.1.1.1.1.1``, ``1 2 3 4 5 6 7``
are not phones), and not only decimals (``12.99 14.50 7.25``). The parser then tries the regions in
:data:`PHONE_REGIONS` (leniency VALID; a ``+`` number matches in any region); the first region
with a valid number wins.

The digits of a WhatsApp link (``wa.me/4915123456789``, ``api.whatsapp.com/send?phone=...``) are an
international number without its ``+``: redacted as they are, unparsed.

Budget: the parser costs 0.5-2 ms per candidate (7 regions), so one text gets at most
:data:`MAX_PARSES` distinct candidates parsed (repeats are looked up, not parsed again). Past the
budget every remaining phone-shaped candidate is redacted as ``PHONE`` without parsing: a pasted dump
of thousands of digit groups is over-redacted in bounded time instead of parsed for minutes, and
never leaks a phone. Results are not cached across texts (no phone number outlives its redaction).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator

import phonenumbers

Span = tuple[int, int, str]  # start, end, kind

PHONE_REGIONS = ("US", "GB", "DE", "ES", "FR", "BR", "IN")
MAX_PARSES = 128  # distinct candidates parsed per text; a real ticket has a handful

# Whole tokens only: not starting or ending inside "1.2.3" or "12/34" (a window of a longer chain).
_CANDIDATE = re.compile(r"(?<![\w-])(?<![0-9][./])(?:\+|00)?\(?\d[\d ()./-]{5,22}\d(?![\w-]|[./][0-9])")
_GROUP = re.compile(r"[0-9]+")
_LINK = re.compile(
    r"(?i:\bwa\.me/|\bwhatsapp\.com/send/?\?phone=|\bwhatsapp://send/?\?phone=)\+?(?P<id>[0-9]{7,15})(?![0-9])"
)


def phones(text: str, skip: Callable[[int, int], bool] = lambda start, end: False) -> Iterator[Span]:
    """Phone spans on the normalised ``text``; ``skip(start, end)``: a candidate already taken or protected."""
    yield from _links(text)
    parsed: dict[str, tuple[tuple[int, int], ...]] = {}
    for m in _CANDIDATE.finditer(text):
        candidate = m.group(0)
        # The parser is the slow part of redaction, and CRM order lines are full of tracking numbers:
        # a candidate inside a protected span or an accepted one would be dropped anyway.
        if not phone_shaped(candidate) or skip(m.start(), m.end()):
            continue
        hits = parsed.get(candidate)
        if hits is None:
            if len(parsed) >= MAX_PARSES:
                yield m.start(), m.end(), "PHONE"  # fail closed: over budget, phone-shaped is enough
                continue
            hits = parsed[candidate] = _parse(candidate)
        for start, end in hits:
            yield m.start() + start, m.start() + end, "PHONE"


def phone_shaped(candidate: str) -> bool:
    """7+ digits, not mostly one-digit groups (versions, lists), not only decimals (price tables)."""
    groups = _GROUP.findall(candidate)
    if sum(map(len, groups)) < 7:
        return False
    singles = sum(len(g) == 1 for g in groups)
    if singles >= 3 and singles * 2 > len(groups):
        return False
    tokens = candidate.split()
    return len(tokens) < 2 or not all("." in t and sum(c.isdigit() for c in t) < 7 for t in tokens)


def _parse(candidate: str) -> tuple[tuple[int, int], ...]:
    for region in PHONE_REGIONS:
        matcher = phonenumbers.PhoneNumberMatcher(candidate, region, leniency=phonenumbers.Leniency.VALID)
        hits = tuple((hit.start, hit.end) for hit in matcher)
        if hits:
            return hits
    return ()


def _links(text: str) -> Iterator[Span]:
    if "wa.me" not in text and "whatsapp" not in text.lower():
        return
    for m in _LINK.finditer(text):
        yield m.start("id"), m.end("id"), "PHONE"  # the link is a chat with that number: no parsing
