"""The outcome table ``supportflow run`` prints, and text shortening for it (messages and progress bars:
:mod:`supportflow.console`)."""

from __future__ import annotations

import shutil
import sys
from typing import TYPE_CHECKING, TextIO

if TYPE_CHECKING:
    from supportflow.schemas.models import Outcome

ELLIPSIS = "…"


def shorten(text: str, width: int) -> str:
    """``text`` on one line in at most ``width`` characters: cut at a word boundary, ending in "…".

    A first word longer than ``width`` becomes "…" alone: a word cut in half reads as another word.
    """
    flat = " ".join(text.split())
    if len(flat) <= width:
        return flat
    if width < 1:
        return ""
    kept = flat[: width - 1]  # one character is the ellipsis
    if flat[width - 1] != " ":  # the cut falls inside a word: drop that word
        kept = kept.rpartition(" ")[0]
    return kept.rstrip(" ,;:") + ELLIPSIS


class OutcomeTable:
    """One line per outcome under a header printed once; the reasons column takes the rest of the line.

    Ticket ids are never shortened (``supportflow audit TICKET_ID`` takes them as printed); a longer
    one pushes its row's other columns to the right.
    """

    COLUMNS = (("TICKET", 20), ("DECISION", 13), ("CHANNEL", 8), ("INTENT", 24), ("CONF", 4))
    MIN_REASONS = 24

    def __init__(self, out: TextIO | None = None, width: int | None = None) -> None:
        self._out = out or sys.stdout
        fixed = sum(w + 1 for _, w in self.COLUMNS)
        total = width or shutil.get_terminal_size(fallback=(120, 24)).columns
        self.reasons_width = max(self.MIN_REASONS, total - fixed - 1)
        self._header_done = False

    def header(self) -> str:
        return " ".join(f"{name:<{w}}" for name, w in self.COLUMNS) + " REASONS"

    def row(self, outcome: Outcome) -> str:
        (_, tw), (_, dw), (_, cw), (_, iw), (_, fw) = self.COLUMNS
        cells = (
            f"{outcome.ticket_id:<{tw}}", f"{outcome.decision:<{dw}}", f"{outcome.channel:<{cw}}",
            f"{shorten(outcome.intent, iw):<{iw}}", f"{outcome.confidence:>{fw}.2f}",
        )  # fmt: skip
        return " ".join((*cells, shorten(", ".join(outcome.reasons), self.reasons_width))).rstrip()

    def write(self, outcome: Outcome) -> None:
        if not self._header_done:
            print(self.header(), file=self._out, flush=True)
            self._header_done = True
        print(self.row(outcome), file=self._out, flush=True)
