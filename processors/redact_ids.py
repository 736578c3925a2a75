"""Number-shaped PII with a checksum or a fixed shape: payment cards, IBANs, national ids.

Detectors take the normalised view (:mod:`supportflow.processors.redact_normalize`: ASCII digits,
plain spaces, no zero-width characters) and return spans on it.

Cards: a *digit chain* is a run of digit groups joined by the separators people type between them
(1-3 spaces or tabs, or one of ``- . / _`` with an optional space either side). Any run of whole groups
inside a chain with 13-19 digits, a card network's prefix and a valid Luhn check digit is a card;
it starts at the chain's start or after whitespace in it, and the longest one from each start wins. Within a run, dots, slashes and underscores must be the only
separator (``4111.1111.1111.1111``), while spaces and dashes may mix as before: two IP addresses
(``40.112.72.205 10.0.0.12``) or two dates side by side never add up to a card. A chain glued to a
word on the left (``NW-4000000000000002``, ``ABC4111...``) does not start a card there.

IBANs: two letters and two check digits, in any case, then 10-30 letters/digits with the same
separators; cut at the country's registered length and checked mod 97. Lower- or mixed-case
candidates are only taken for a country in the registry table (fewer chances of a word matching).

National ids: regexes per kind (``SSN`` on by default, see :class:`~supportflow.settings.RedactionSettings`);
a pattern with a group named ``id`` redacts only that group, so context words can anchor a match.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator, Mapping
from functools import lru_cache

Span = tuple[int, int, str]  # start, end, kind

# Groups of digits and the separators between them; "_" counts, so \b/\w cannot be used around it.
_SEP = r"(?:[ \t]{1,3}|[ \t]?[-./_][ \t]?)"
_DIGIT_CHAIN = re.compile(rf"[0-9]+(?:{_SEP}[0-9]+)*")
_DIGIT_GROUP = re.compile(r"[0-9]+")
_MIXABLE = frozenset({" ", "-"})

_IBAN_SEP = r"(?:[ \t]{1,3}|[ \t]?[-.][ \t]?)"
_IBAN = re.compile(
    rf"(?<![A-Za-z0-9])[A-Za-z]{{2}}[0-9]{{2}}(?:{_IBAN_SEP}?[A-Za-z0-9]){{10,30}}(?![A-Za-z0-9])"
)

# Country -> IBAN length (ISO 13616 registry, the countries customers of an EU/US store are likely from).
IBAN_LENGTHS = {
    "AD": 24, "AT": 20, "BE": 16, "BG": 22, "BR": 29, "CH": 21, "CY": 28, "CZ": 24, "DE": 22, "DK": 18,
    "EE": 20, "ES": 24, "FI": 18, "FR": 27, "GB": 22, "GI": 23, "GR": 27, "HR": 21, "HU": 28, "IE": 22,
    "IS": 26, "IT": 27, "LI": 21, "LT": 20, "LU": 20, "LV": 21, "MC": 27, "MT": 31, "NL": 18, "NO": 15,
    "PL": 28, "PT": 25, "RO": 24, "SE": 24, "SI": 19, "SK": 24, "SM": 27, "TR": 26, "UA": 29,
}  # fmt: skip

# Built-in national ids (RedactionSettings.national_ids picks them by name).
NATIONAL_IDS: dict[str, str] = {
    # US SSN / ITIN: 3-2-4 digits with the same dash, space or dot twice, or 9 digits right after
    # "SSN"/"social security (number)". Bare 9-digit runs are left alone (order and tracking numbers).
    "SSN": r"(?<![\w-])(?!000|666)[0-9]{3}([-. ])(?!00)[0-9]{2}\1(?!0000)[0-9]{4}(?![\w-])"
    r"|(?i:\bssn|\bsocial\s+security(?:\s+(?:number|no\.?|#))?)[\s:#.-]{0,3}(?P<id>[0-9]{9})(?![\w-])",
    # UK National Insurance number: AB 12 34 56 C (prefix letters as HMRC issues them).
    "NINO": r"(?<![\w-])(?i:(?![DFIQUV])[A-Z](?![DFIOQUV])[A-Z])[ ]?[0-9]{2}[ ]?[0-9]{2}[ ]?[0-9]{2}[ ]?(?i:[A-D])(?![\w-])",
    # Spanish DNI (8 digits + letter) and NIE (X/Y/Z + 7 digits + letter); the letter is checked.
    "DNI": r"(?<![\w-])(?i:[XYZ]?)[0-9]{7,8}[ -]?(?i:[A-Z])(?![\w-])",
}
# A cheap search every built-in needs to succeed before its (slower) pattern runs.
_NEEDS = {"SSN": re.compile(r"[0-9]{4}"), "NINO": re.compile(r"[0-9]{2}"), "DNI": re.compile(r"[0-9]{7}")}
_DNI_LETTERS = "TRWAGMYFPDXBNJZSQVHLCKE"


def luhn_ok(digits: str) -> bool:
    total = 0
    for i, ch in enumerate(reversed(digits)):
        d = int(ch)
        if i % 2:
            d = d * 2 - 9 if d > 4 else d * 2
        total += d
    return total % 10 == 0


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


def _glued_left(text: str, start: int) -> bool:
    """The chain at ``start`` continues a word: ``NW-4000...``, ``ABC4111...``, ``x_4111...``."""
    before = text[start - 1] if start else ""
    if before.isalpha() or before == "_":
        return True
    return before in "-./" and start >= 2 and text[start - 2].isalnum()


def _glued_right(text: str, end: int) -> bool:
    after = text[end] if end < len(text) else ""
    if after.isalpha() or after == "_":
        return True
    return after in "-/" and end + 1 < len(text) and text[end + 1].isalnum()


def _separators_agree(seps: list[str]) -> bool:
    kinds = {s.strip(" \t") or " " for s in seps}
    return kinds <= _MIXABLE or len(kinds) == 1


def _card_in(groups: list[tuple[int, int]], seps: list[str], text: str, first: int) -> tuple[int, int] | None:
    """The longest Luhn-valid card made of whole groups from ``groups[first]`` on, as (first, last)."""
    digits = ""
    runs: list[str] = []
    for last in range(first, len(groups)):
        digits += text[groups[last][0] : groups[last][1]]
        if len(digits) > 19:
            break
        runs.append(digits)
    for last in range(first + len(runs) - 1, first - 1, -1):
        number = runs[last - first]
        if len(number) < 13 or not _separators_agree(seps[first:last]):
            continue
        if issuer_ok(number) and luhn_ok(number):
            return first, last
    return None


def cards(text: str) -> Iterator[Span]:
    for chain in _DIGIT_CHAIN.finditer(text):
        if chain.end() - chain.start() < 13:
            continue
        groups = [
            (m.start() + chain.start(), m.end() + chain.start())
            for m in _DIGIT_GROUP.finditer(chain.group(0))
        ]
        seps = [text[groups[i][1] : groups[i + 1][0]] for i in range(len(groups) - 1)]
        if _glued_right(text, chain.end()):
            groups, seps = groups[:-1], seps[:-1]  # the last group continues a word: no card ends there
        # A card starts the chain or follows whitespace, never a "-"/"."/"/" inside it: the day of
        # "2024-03-25 2024-03-26" is not the start of a number.
        glued = _glued_left(text, chain.start())
        starts = [i for i in range(len(groups)) if (seps[i - 1].strip(" \t") == "" if i else not glued)]
        next_free = 0
        for first in starts:
            if first < next_free:
                continue
            found = _card_in(groups, seps, text, first)
            if found is not None:
                yield groups[found[0]][0], groups[found[1]][1], "CARD"
                next_free = found[1] + 1


def iban_valid(compact: str) -> bool:
    rearranged = compact[4:] + compact[:4]
    return int("".join(str(int(c, 36)) for c in rearranged)) % 97 == 1


def ibans(text: str) -> Iterator[Span]:
    for m in _IBAN.finditer(text):
        start, raw = m.start(), m.group(0)
        country = raw[:2].upper()
        length = IBAN_LENGTHS.get(country)
        if length is None:
            compact = re.sub(r"[^A-Za-z0-9]", "", raw)
            if raw[:2] == country and iban_valid(compact.upper()):
                yield start, m.end(), "IBAN"
            continue
        # The regex may run into a following word: cut at the country's exact length.
        taken, end = 0, start
        while end < m.end() and taken < length:
            taken += raw[end - start].isalnum()
            end += 1
        compact = re.sub(r"[^A-Za-z0-9]", "", text[start:end]).upper()
        if taken == length and iban_valid(compact):
            yield start, end, "IBAN"


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
