"""The text PII detectors match on, and the way back to the customer's original offsets.

Customers paste numbers with fullwidth or Arabic-Indic digits, non-breaking spaces and zero-width
characters (copied from a banking app, a PDF or a chat client). Detectors run on a normalised view:

- NFKC, per character cluster (a base character and the combining marks after it), so fullwidth
  ``４`` becomes ``4``, ``＠`` becomes ``@``, a non-breaking or ideographic space a plain space;
- format characters (Unicode category Cf: zero-width space/joiners, BOM, soft hyphen, bidi marks)
  dropped;
- every other decimal digit (Arabic-Indic, Devanagari, ...) mapped to its ASCII digit;
- dashes (hyphen U+2010, non-breaking hyphen, figure/en/em dash, minus sign U+2212, ...) mapped to
  ASCII ``-``, so ``4111–1111–1111–1111`` and ``536–22–4187`` read like their ASCII spelling.

Each normalised character remembers the original range it came from, so a span found on the view
maps back to the original text, and redaction replaces exactly that range: the rest of the text,
zero-width characters and fullwidth letters included, is left as the customer wrote it.
ASCII text (the common case) is its own view, with no per-character work.

:func:`match_key` goes one step further for CRM values (names): accents off (``é``, ``e\u0301`` ->
``e``, ``ß`` -> ``ss``) and every apostrophe as ``'``, with a map back to the view.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from functools import lru_cache

# An optional ASCII base character followed by a run of non-ASCII characters (which may combine with it).
_NON_ASCII_RUN = re.compile(r"[\x00-\x7f]?[^\x00-\x7f]+")
_NON_ASCII_OR_BACKTICK = re.compile(r"[^\x00-\x5f\x61-\x7f]+")
# What NFKC leaves alone but the view changes: format characters (Cf), dashes, non-ASCII decimal digits.
_DASHES = "\u058a\u05be\u1806\u2010\u2011\u2012\u2013\u2014\u2015\u2e3a\u2e3b\u2212"
_DASH_SET = frozenset(_DASHES)
_CF_RANGES = (
    "\u00ad\u0600-\u0605\u061c\u06dd\u070f\u0890\u0891\u08e2\u180e\u200b-\u200f\u202a-\u202e"
    "\u2060-\u2064\u2066-\u206f\ufeff\ufff9-\ufffb\U000110bd\U000110cd\U00013430-\U0001343f"
    "\U0001bca0-\U0001bca3\U0001d173-\U0001d17a\U000e0001\U000e0020-\U000e007f"
)
_NEEDS_FOLDING = re.compile(f"[{_CF_RANGES}{_DASHES}]|(?![0-9])\\d")
# Letters whose accent-free spelling is not their NFD base; apostrophe look-alikes.
_KEY_SPECIAL = {
    "ß": "ss", "æ": "ae", "Æ": "AE", "œ": "oe", "Œ": "OE", "ø": "o", "Ø": "O", "đ": "d", "Đ": "D",
    "ł": "l", "Ł": "L", "ı": "i", "ð": "d", "Ð": "D", "þ": "th", "Þ": "TH",
    "\u2018": "'", "\u2019": "'", "\u201b": "'", "\u02bc": "'", "\u02bb": "'", "\u00b4": "'", "\u2032": "'",
}  # fmt: skip


@dataclass(frozen=True)
class Normalized:
    """``text`` is the view detectors match on; ``starts``/``ends`` map its characters to the original."""

    original: str
    text: str
    starts: tuple[int, ...] | None = None  # None: the view is the original (identity map)
    ends: tuple[int, ...] | None = None

    def original_span(self, start: int, end: int) -> tuple[int, int]:
        """The range of the original text that produced ``text[start:end]`` (``end > start``)."""
        if self.starts is None or self.ends is None:
            return start, end
        return self.starts[start], self.ends[end - 1]


def normalize(text: str) -> Normalized:
    """The matching view of ``text`` (see the module docstring) with its map back to ``text``."""
    if text.isascii() or _is_view(text):
        return Normalized(text, text)
    chars: list[str] = []
    starts: list[int] = []
    ends: list[int] = []
    cursor = 0
    for m in _NON_ASCII_RUN.finditer(text):
        run_start, run = m.start(), m.group()
        folded = _fold_run(run)
        if folded is None:  # accented letters and the like: already their own view, like ASCII
            continue
        chars.append(text[cursor:run_start])  # the text since the last folded run maps one to one
        starts.extend(range(cursor, run_start))
        ends.extend(range(cursor + 1, run_start + 1))
        view, run_starts, run_ends = folded
        chars.append(view)
        starts.extend([run_start + i for i in run_starts])
        ends.extend([run_start + i for i in run_ends])
        cursor = m.end()
    if cursor < len(text):
        chars.append(text[cursor:])
        starts.extend(range(cursor, len(text)))
        ends.extend(range(cursor + 1, len(text) + 1))
    view = "".join(chars)
    if view == text:
        return Normalized(text, text)
    return Normalized(text, view, tuple(starts), tuple(ends))


def fold(value: str) -> str:
    """The matching view of a value to look for (a CRM name, email or phone): same rules as the text."""
    return normalize(value).text


def _is_view(text: str) -> bool:
    return unicodedata.is_normalized("NFKC", text) and _NEEDS_FOLDING.search(text) is None


@lru_cache(maxsize=4096)
def _fold_run(run: str) -> tuple[str, tuple[int, ...], tuple[int, ...]] | None:
    """The view of ``run`` and the range of ``run`` each of its characters came from, or None if
    ``run`` is its own view (runs repeat: cached)."""
    if _is_view(run):
        return None
    folded = [
        (ch, start, end) for start, end in _clusters(run, 0, len(run)) for ch in _fold_cluster(run[start:end])
    ]
    return "".join(ch for ch, _, _ in folded), tuple(s for _, s, _ in folded), tuple(e for _, _, e in folded)


def _clusters(text: str, start: int, end: int) -> list[tuple[int, int]]:
    """``text[start:end]`` cut into base character + following combining marks."""
    bounds: list[tuple[int, int]] = []
    cluster_start = start
    for i in range(start + 1, end):
        if not unicodedata.combining(text[i]):
            bounds.append((cluster_start, i))
            cluster_start = i
    bounds.append((cluster_start, end))
    return bounds


def _fold_cluster(cluster: str) -> str:
    out: list[str] = []
    for ch in unicodedata.normalize("NFKC", cluster):
        if ch.isascii():
            out.append(ch)
            continue
        if ch in _DASH_SET:
            out.append("-")
            continue
        category = unicodedata.category(ch)
        if category == "Cf":
            continue
        if category == "Nd":
            out.append(str(unicodedata.decimal(ch)))
            continue
        out.append(ch)
    return "".join(out)


def match_key(view: str) -> tuple[str, tuple[int, ...] | None]:
    """``view`` without accents and with one apostrophe, and each key character's index in ``view``.

    The index is None when the key is ``view`` itself (ASCII without a backtick, the common case).
    Used to find CRM names however they are accented: ``Lucia`` for ``Lucía``, ``O’Connor`` for
    ``O'Connor``; case is left to the matcher.
    """
    if view.isascii() and "`" not in view:
        return view, None
    chars: list[str] = []
    index: list[int] = []
    cursor = 0
    for m in _NON_ASCII_OR_BACKTICK.finditer(view):
        chars.append(view[cursor : m.start()])  # ASCII maps one to one
        index.extend(range(cursor, m.start()))
        for i in range(m.start(), m.end()):
            folded = _key_char(view[i])
            chars.append(folded)
            index.extend([i] * len(folded))
        cursor = m.end()
    chars.append(view[cursor:])
    index.extend(range(cursor, len(view)))
    return "".join(chars), tuple(index)


@lru_cache(maxsize=8192)
def _key_char(ch: str) -> str:
    if ch.isascii():
        return "'" if ch == "`" else ch
    special = _KEY_SPECIAL.get(ch)
    if special is not None:
        return special
    if unicodedata.combining(ch):
        return ""
    decomposed = unicodedata.normalize("NFD", ch)  # a base letter and its accents (Hangul: jamo, kept)
    if len(decomposed) > 1 and all(unicodedata.combining(c) for c in decomposed[1:]):
        return decomposed[0]
    return ch
