"""Number-shaped PII with a checksum or a fixed shape: payment cards, IBANs, national ids.

Detectors take the normalised view (:mod:`supportflow.processors.redact_normalize`: ASCII digits,
ASCII dashes, plain spaces, no zero-width characters) and return spans on it. Every scan is linear
in the text: each regex starts only where a number can start and its repetitions are bounded, and
each card start costs O(1) (issuer prefix first, Luhn from prefix sums).

Cards: a *digit chain* is a run of digit groups joined by the separators people type between them:
1-4 spaces or tabs (also URL/QP/HTML-encoded: ``%20``, ``=20``, ``&nbsp;``), one of ``- . / _`` with
an optional space either side, or a line break (with an optional ``-`` or QP ``=`` before it). Any
run of whole groups inside a chain with 13-19 digits, a card network's prefix and a valid Luhn check
digit is a card; it starts at the chain's start or after whitespace in it, and the longest one from
each start wins. Within a run, dots, slashes and underscores must be the only separator
(``4111.1111.1111.1111``), while spaces, line breaks and dashes may mix: two IP addresses
(``40.112.72.205 10.0.0.12``) or two dates side by side never add up to a card. Letters or
punctuation glued on either side do not hide a card (``card-4111...``, ``no.4111...``,
``/cards/4111.../edit``, ``4111...exp``), except an order-id prefix: upper-case letters and a dash
(``NW-4000000000000002`` stays an order id).

IBANs: two letters and two check digits, in any case (glued to a leading ``IBAN`` too), then
letters/digits with the same kinds of separators (``/`` included, so ``PL61/1090...``); cut at the
country's registered length (all 89 countries of the SWIFT registry) and checked mod 97, so a word
after the IBAN never spoils it. Lower- or mixed-case candidates are only taken for a registry
country; an upper-case one from elsewhere (a territory code) is tried at each group boundary.

National ids: regexes per kind (``SSN`` on by default, see :class:`~supportflow.settings.RedactionSettings`);
a pattern with a group named ``id`` redacts only that group, so context words can anchor a match.
"""

from __future__ import annotations

import re
from bisect import bisect_right
from collections.abc import Iterable, Iterator, Mapping
from functools import lru_cache
from itertools import accumulate

Span = tuple[int, int, str]  # start, end, kind

# Groups of digits and the separators between them; "_" counts, so \b/\w cannot be used around it.
_SPACE = r"(?:[ \t]|%20|=20|&nbsp;|&#160;|&#xa0;)"
_SEP = rf"(?:{_SPACE}{{1,4}}|[ \t]?[-./_][ \t]?|[ \t]{{0,3}}[-=]?\r?\n[ \t]{{0,3}})"
_DIGIT_CHAIN = re.compile(rf"[0-9]+(?:{_SEP}[0-9]+)*")
_CHAIN_STEP = re.compile(rf"({_SEP})?([0-9]+)")  # one separator and group: "%20" is not a group "20"
_SOFT = re.compile(r"[ \t\r\n]|%20|=20|&nbsp;|&#160;|&#xa0;|=(?=\r?\n)")  # what leaves a separator "space"
_MIXABLE = frozenset({" ", "-"})
_ORDER_PREFIX = re.compile(r"(?<![A-Za-z])[A-Z]{2,5}-\Z")  # NW-, RMA-: the number is an order id
_DOUBLED = (0, 2, 4, 6, 8, 1, 3, 5, 7, 9)  # Luhn: a doubled digit's contribution
_NETWORK_DIGIT = re.compile(r"(?<![0-9])[2-6]")  # every card network's numbers start with 2-6

_IBAN_SEP = r"(?:[ \t]{1,4}|[ \t]?[-./][ \t]?|[ \t]{0,3}\r?\n[ \t]{0,3})"
_IBAN_START = re.compile(r"[A-Za-z]{2}[0-9]{2}")  # country and check digits; what precedes is checked after
_IBAN_BODY = re.compile(rf"(?:{_IBAN_SEP}?[A-Za-z0-9]){{10,30}}")
_NOT_ALNUM = re.compile(r"[^A-Za-z0-9]")
_NEXT_WORD = re.compile(r"[^A-Za-z0-9][a-z]")  # a lower-case word after the number
_IBAN_DIGITS = {ord(c): str(int(c, 36)) for c in "ABCDEFGHIJKLMNOPQRSTUVWXYZ"}  # A=10 ... Z=35

# Country -> IBAN length: the SWIFT IBAN registry (ISO 13616), release 100, all 89 countries.
IBAN_LENGTHS = {
    "AD": 24, "AE": 23, "AL": 28, "AT": 20, "AZ": 28, "BA": 20, "BE": 16, "BG": 22, "BH": 22, "BI": 27,
    "BR": 29, "BY": 28, "CH": 21, "CR": 22, "CY": 28, "CZ": 24, "DE": 22, "DJ": 27, "DK": 18, "DO": 28,
    "EE": 20, "EG": 29, "ES": 24, "FI": 18, "FK": 18, "FO": 18, "FR": 27, "GB": 22, "GE": 22, "GI": 23,
    "GL": 18, "GR": 27, "GT": 28, "HN": 28, "HR": 21, "HU": 28, "IE": 22, "IL": 23, "IQ": 23, "IS": 26,
    "IT": 27, "JO": 30, "KW": 30, "KZ": 20, "LB": 28, "LC": 32, "LI": 21, "LT": 20, "LU": 20, "LV": 21,
    "LY": 25, "MC": 27, "MD": 24, "ME": 22, "MK": 19, "MN": 20, "MR": 27, "MT": 31, "MU": 30, "NI": 28,
    "NL": 18, "NO": 15, "OM": 23, "PK": 24, "PL": 28, "PS": 29, "PT": 25, "QA": 29, "RO": 24, "RS": 22,
    "RU": 33, "SA": 24, "SC": 31, "SD": 18, "SE": 24, "SI": 19, "SK": 24, "SM": 27, "SO": 23, "ST": 25,
    "SV": 28, "TL": 23, "TN": 24, "TR": 26, "UA": 29, "VA": 22, "VG": 24, "XK": 20, "YE": 30,
}  # fmt: skip
IBAN_MIN, IBAN_MAX = 15, 34

# Built-in national ids (RedactionSettings.national_ids picks them by name).
NATIONAL_IDS: dict[str, str] = {
    # US SSN / ITIN: 3-2-4 digits with the same dash, space or dot twice, or 9 digits right after
    # "SSN"/"social security (number)" (and "is"/"was", ":", "=", "#"). Bare 9-digit runs elsewhere
    # are left alone (order and tracking numbers).
    "SSN": r"(?<![\w-])(?!000|666)[0-9]{3}([-. ])(?!00)[0-9]{2}\1(?!0000)[0-9]{4}(?![\w-])"
    r"|(?i:\bssn|\bsocial\s+security)(?i:\s+(?:number|num|no\.?|nr\.?|#))?(?i:\s+(?:is|was))?"
    r"[\s:#.=-]{0,3}(?P<id>[0-9]{9})(?![\w-])",
    # UK National Insurance number: AB 12 34 56 C (prefix letters as HMRC issues them).
    "NINO": r"(?<![\w-])(?i:(?![DFIQUV])[A-Z](?![DFIOQUV])[A-Z])[ ]?[0-9]{2}[ ]?[0-9]{2}[ ]?[0-9]{2}[ ]?(?i:[A-D])(?![\w-])",
    # Spanish DNI (8 digits + letter) and NIE (X/Y/Z + 7 digits + letter); the letter is checked.
    "DNI": r"(?<![\w-])(?i:[XYZ]?)[0-9]{7,8}[ -]?(?i:[A-Z])(?![\w-])",
}
# A cheap search every built-in needs to succeed before its (slower) pattern runs.
_NEEDS = {"SSN": re.compile(r"[0-9]{4}"), "NINO": re.compile(r"[0-9]{2}"), "DNI": re.compile(r"[0-9]{7}")}
_DNI_LETTERS = "TRWAGMYFPDXBNJZSQVHLCKE"


def luhn_ok(digits: str) -> bool:
    return _Luhn(digits).ok(0, len(digits))


def issuer_ok(digits: str) -> bool:
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


class _Luhn:
    """Luhn check of any slice of one digit string in O(1), from two prefix sums.

    The last digit of a number is taken as is and every second one before it doubled, so a slice
    ending at an even position weighs even positions plain and odd ones doubled, and the other way
    round for an odd end.
    """

    def __init__(self, digits: str) -> None:
        plain = list(map(int, digits))
        doubled = [_DOUBLED[v] for v in plain]
        even_plain, odd_plain = plain[:], doubled[:]
        even_plain[1::2], odd_plain[1::2] = doubled[1::2], plain[1::2]
        self.sums = (list(accumulate(even_plain, initial=0)), list(accumulate(odd_plain, initial=0)))

    def ok(self, start: int, end: int) -> bool:
        """``digits[start:end]`` passes Luhn."""
        sums = self.sums[(end - 1) % 2]
        return (sums[end] - sums[start]) % 10 == 0


@lru_cache(maxsize=512)
def _sep_kind(sep: str) -> str:
    """``" "`` for whitespace (a line break, an encoded space), else the punctuation mark."""
    return _SOFT.sub("", sep) or " "


def _separators_agree(seps: list[str]) -> bool:
    distinct = {_sep_kind(sep) for sep in seps}
    return distinct <= _MIXABLE or len(distinct) == 1


def cards(text: str) -> Iterator[Span]:
    for chain in _DIGIT_CHAIN.finditer(text):
        if chain.end() - chain.start() < 13:
            continue
        if _NETWORK_DIGIT.search(text, chain.start(), chain.end()) is None:
            continue  # no group starts with a card network's first digit
        steps = list(_CHAIN_STEP.finditer(text, chain.start(), chain.end()))
        groups = [step.span(2) for step in steps]
        digits = "".join(step.group(2) for step in steps)
        seps = [step.group(1) for step in steps[1:]]
        glued = _ORDER_PREFIX.search(text, max(0, chain.start() - 7), chain.start()) is not None
        for first, last in _chain_cards(digits, [e - s for s, e in groups], seps, glued):
            yield groups[first][0], groups[last][1], "CARD"


def _chain_cards(digits: str, sizes: list[int], seps: list[str], glued: bool) -> Iterator[tuple[int, int]]:
    """(first, last) group of each card in one chain: longest valid run from each allowed start."""
    offsets = list(accumulate(sizes, initial=0))  # digits before each group
    luhn: _Luhn | None = None
    next_free = 0
    for first in range(len(sizes)):
        begin = offsets[first]
        if first < next_free or digits[begin] not in "23456" or len(digits) - begin < 13:
            continue
        # A card starts the chain or follows whitespace, never a "-"/"."/"/" inside it: the day of
        # "2024-03-25 2024-03-26" is not the start of a number.
        if (_sep_kind(seps[first - 1]) != " " if first else glued) or not issuer_ok(digits[begin:]):
            continue
        luhn = luhn or _Luhn(digits)
        last = bisect_right(offsets, begin + 19) - 2  # the last group that keeps 19 digits or fewer
        while last >= first and offsets[last + 1] - begin >= 13:
            if _separators_agree(seps[first:last]) and luhn.ok(begin, offsets[last + 1]):
                yield first, last
                next_free = last + 1
                break
            last -= 1


def iban_valid(compact: str) -> bool:
    """ISO 7064 mod 97-10 of an IBAN without separators (upper or lower case)."""
    rearranged = (compact[4:] + compact[:4]).upper()
    return int(rearranged.translate(_IBAN_DIGITS)) % 97 == 1


def ibans(text: str) -> Iterator[Span]:
    pos = 0
    while (m := _IBAN_START.search(text, pos)) is not None:
        start = m.start()
        pos = start + 1
        before = text[start - 1] if start else " "
        if before.isascii() and before.isalnum() and text[max(0, start - 4) : start].lower() != "iban":
            continue  # inside a word (but "IBANDE89..." is an IBAN glued to its label)
        body = _IBAN_BODY.match(text, m.end())
        if body is None:
            continue
        end = _iban_end(text, start, text[start : body.end()])
        if end is not None:
            yield start, end, "IBAN"
            pos = end


def _iban_end(text: str, start: int, raw: str) -> int | None:
    """Where the IBAN at ``start`` ends (the candidate ``raw`` may run into the next words), or None."""
    country = raw[:2].upper()
    length = IBAN_LENGTHS.get(country)
    if length is None:
        if raw[:2] != country:
            return None
        # Unregistered code: try the checksum at each group boundary before the next word, longest first.
        word = _NEXT_WORD.search(raw)
        raw = raw[: word.start()] if word else raw
        ends = [start + m.start() for m in _NOT_ALNUM.finditer(raw)] + [start + len(raw)]
        for end in reversed(ends):
            compact = _NOT_ALNUM.sub("", text[start:end])
            if IBAN_MIN <= len(compact) <= IBAN_MAX and iban_valid(compact):
                return end
        return None
    compact = _NOT_ALNUM.sub("", raw)
    if len(compact) < length or not iban_valid(compact[:length]):
        return None
    taken, end = 0, start
    while taken < length:  # the end of the length-th letter or digit
        taken += raw[end - start].isalnum()
        end += 1
    # An IBAN is a token of its country's length: more digits glued on mean these characters are
    # something else (e.g. "nº4191062764617008" holds the checksum-valid "NO41 9106 2764 617").
    return None if end < len(text) and text[end].isdigit() else end


@lru_cache(maxsize=64)
def compile_ids(rules: tuple[tuple[str, str], ...]) -> tuple[tuple[str, re.Pattern[str]], ...]:
    return tuple((kind, re.compile(pattern)) for kind, pattern in rules)


def id_rules(national_ids: Iterable[str], id_patterns: Mapping[str, str]) -> tuple[tuple[str, str], ...]:
    """(kind, regex) for the built-in national ids picked by name plus the configured extra patterns."""
    rules = [(name, NATIONAL_IDS[name]) for name in national_ids]
    return tuple(rules + sorted(id_patterns.items()))


def national_ids(text: str, rules: tuple[tuple[str, str], ...]) -> Iterator[Span]:
    for kind, pattern in compile_ids(rules):
        needs = _NEEDS.get(kind)
        if needs is not None and pattern.pattern == NATIONAL_IDS[kind] and needs.search(text) is None:
            continue
        for m in pattern.finditer(text):
            start, end = m.span("id") if "id" in pattern.groupindex and m.group("id") else m.span()
            if end > start and (kind != "DNI" or _dni_ok(m.group(0))):
                yield start, end, kind


def _dni_ok(raw: str) -> bool:
    compact = re.sub(r"[ -]", "", raw).upper()
    number = "XYZ".index(compact[0]) if compact[0] in "XYZ" else None
    body = (str(number) + compact[1:-1]) if number is not None else compact[:-1]
    return len(body) == 8 and _DNI_LETTERS[int(body) % 23] == compact[-1]
