"""Matches of what the CRM knows about the customer (name and its parts, email, phone forms) in a text.

Values are looked for in the normalised view of the text (:mod:`.redact_normalize`), case-insensitively,
on word boundaries, longest first (the full name before its parts). Both sides are compared by their
:func:`~supportflow.processors.redact_normalize.match_key` (no accents, one apostrophe), and a name also
by the ways people type it without the right keyboard: ``Lucia Fernandez`` for ``Lucía Fernández``,
``O’Connor`` or ``OConnor`` for ``O'Connor``, ``Mueller`` or ``Muller`` for ``Müller`` (and ``Müller``
for ``Mueller``). Values shorter than :data:`MIN_KNOWN_CHARS` are ignored (too many false hits).
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterator
from functools import lru_cache

from supportflow.processors.redact_normalize import fold, match_key

Span = tuple[int, int, str]  # start, end, kind
MIN_KNOWN_CHARS = 3


def _known_kind(value: str) -> str:
    if "@" in value:
        return "EMAIL"
    digits = sum(c.isdigit() for c in value)
    if digits >= 7 and re.fullmatch(r"[\d\s()+./-]+", value):
        return "PHONE"
    if digits and re.search(r"[A-Za-z]", value):
        return "ADDRESS"
    return "NAME"


_GERMAN = str.maketrans({"ä": "ae", "ö": "oe", "ü": "ue", "Ä": "Ae", "Ö": "Oe", "Ü": "Ue"})
_DIGRAPH = re.compile(r"(?<=[A-Za-z])([aouAOU])[eE]")  # Mueller, Schroeder: the umlaut spelled out


def _spellings(name: str) -> set[str]:
    """Match keys of the ways a customer types a CRM name: accents off, ``ü`` as ``ue`` or ``u`` (and
    ``ue`` as ``u``), any apostrophe or none (``O'Connor``, ``O’Connor``, ``OConnor``)."""
    forms = {match_key(name)[0], match_key(name.translate(_GERMAN))[0]}
    forms |= {_DIGRAPH.sub(r"\1", form) for form in forms}
    forms |= {form.replace("'", "") for form in forms if "'" in form}
    return forms


@lru_cache(maxsize=4096)
def _known_pattern(known: tuple[str, ...]) -> tuple[re.Pattern[str], dict[str, str]] | None:
    kinds: dict[str, str] = {}
    for value in known:
        folded = fold(value).strip()  # matched on the normalised text, so normalised too
        if len(folded) < MIN_KNOWN_CHARS:
            continue
        kind = _known_kind(folded)
        keys = _spellings(folded) if kind == "NAME" else {match_key(folded)[0]}
        for key in keys:
            kinds.setdefault(key.casefold(), kind)
    values = sorted((k for k in kinds if len(k) >= MIN_KNOWN_CHARS), key=len, reverse=True)
    if not values:
        return None
    alternatives = "|".join(re.escape(v) for v in values)  # longest first: full name before its parts
    return re.compile(rf"(?<!\w)(?:{alternatives})(?!\w)", re.IGNORECASE), kinds


def known_spans(text: str, known: tuple[str, ...]) -> Iterator[Span]:
    """CRM values in the normalised ``text``, compared without accents (see :func:`match_key`)."""
    compiled = _known_pattern(known) if known else None
    if compiled is None:
        return
    pattern, kinds = compiled
    key, index = match_key(text)
    for m in pattern.finditer(key):
        start, end = (m.start(), m.end()) if index is None else (index[m.start()], index[m.end() - 1] + 1)
        while end < len(text) and unicodedata.combining(text[end]):
            end += 1  # an accent typed after the last letter belongs to the name
        yield start, end, kinds.get(m.group(0).casefold(), "NAME")
