"""The text PII detectors match on, and the way back to the customer's original offsets.

Customers paste numbers with fullwidth or Arabic-Indic digits, non-breaking spaces and zero-width
characters (copied from a banking app, a PDF or a chat client). Detectors run on a normalised view:

- NFKC, per character cluster (a base character and the combining marks after it), so fullwidth
  ``４`` becomes ``4``, ``＠`` becomes ``@``, a non-breaking or ideographic space a plain space;
- format characters (Unicode category Cf: zero-width space/joiners, BOM, soft hyphen, bidi marks)
  dropped;
- every other decimal digit (Arabic-Indic, Devanagari, ...) mapped to its ASCII digit.

Each normalised character remembers the original range it came from, so a span found on the view
maps back to the original text, and redaction replaces exactly that range: the rest of the text,
zero-width characters and fullwidth letters included, is left as the customer wrote it.
ASCII text (the common case) is its own view, with no per-character work.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass

# An optional ASCII base character followed by a run of non-ASCII characters (which may combine with it).
_NON_ASCII_RUN = re.compile(r"[\x00-\x7f]?[^\x00-\x7f]+")
# What NFKC leaves alone but the view changes: format characters (Cf) and non-ASCII decimal digits.
_CF_RANGES = (
    "\u00ad\u0600-\u0605\u061c\u06dd\u070f\u0890\u0891\u08e2\u180e\u200b-\u200f\u202a-\u202e"
    "\u2060-\u2064\u2066-\u206f\ufeff\ufff9-\ufffb\U000110bd\U000110cd\U00013430-\U0001343f"
    "\U0001bca0-\U0001bca3\U0001d173-\U0001d17a\U000e0001\U000e0020-\U000e007f"
)
_NEEDS_FOLDING = re.compile(f"[{_CF_RANGES}]|(?![0-9])\\d")


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
        if m.start() > cursor:  # an ASCII run maps one to one
            chars.append(text[cursor : m.start()])
            starts.extend(range(cursor, m.start()))
            ends.extend(range(cursor + 1, m.start() + 1))
        if _is_view(m.group(0)):  # accented letters and the like: already their own view
            chars.append(m.group(0))
            starts.extend(range(m.start(), m.end()))
            ends.extend(range(m.start() + 1, m.end() + 1))
            cursor = m.end()
            continue
        for start, end in _clusters(text, m.start(), m.end()):
            for ch in _fold_cluster(text[start:end]):
                chars.append(ch)
                starts.append(start)
                ends.append(end)
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
        category = unicodedata.category(ch)
        if category == "Cf":
            continue
        if category == "Nd":
            out.append(str(unicodedata.decimal(ch)))
            continue
        out.append(ch)
    return "".join(out)
