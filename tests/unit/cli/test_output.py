"""Terminal output: word-boundary shortening and the outcome table ``supportflow run`` prints."""

from __future__ import annotations

import io
from types import SimpleNamespace

import pytest

from supportflow.cli.output import ELLIPSIS, OutcomeTable, shorten


@pytest.mark.parametrize(
    ("text", "width", "expected"),
    [
        ("short enough", 20, "short enough"),
        ("exactly ten", 11, "exactly ten"),
        ("the quick brown fox", 12, "the quick…"),  # "brown" would be cut: dropped whole
        ("the quick brown fox", 10, "the quick…"),  # the cut falls on the space after "quick"
        ("low_confidence, no_citation, vip", 20, "low_confidence…"),  # no dangling comma
        ("supercalifragilistic word", 10, "…"),  # a first word that does not fit is not cut
        ("line one\nline  two", 40, "line one line two"),
        ("anything", 0, ""),
    ],
)
def test_shorten_long_text_cut_at_word_boundary_with_ellipsis(text, width, expected):
    assert shorten(text, width) == expected


@pytest.mark.parametrize("width", range(1, 40))
def test_shorten_never_longer_than_width_and_never_ends_mid_word(width):
    text = "refund amount above the auto-resolve limit for this customer tier"
    short = shorten(text, width)
    assert len(short) <= width
    kept = short.removesuffix(ELLIPSIS).rstrip(" ,;:")
    assert text.startswith(kept) and (kept == text or kept == "" or text[len(kept)] == " ")


def _outcome(ticket_id: str, reasons: list[str]) -> SimpleNamespace:
    return SimpleNamespace(ticket_id=ticket_id, decision="escalated", channel="email",
                           intent="refund_request", confidence=0.5, reasons=reasons)  # fmt: skip


def test_outcome_table_header_once_then_one_row_per_outcome_with_ticket_id():
    out = io.StringIO()
    table = OutcomeTable(out, width=100)
    table.write(_outcome("tkt_0123456789abcdef", ["low_confidence"]))
    table.write(_outcome("tkt_fedcba9876543210", ["vip"]))
    lines = out.getvalue().splitlines()
    assert len(lines) == 3 and lines[0].split() == [
        "TICKET",
        "DECISION",
        "CHANNEL",
        "INTENT",
        "CONF",
        "REASONS",
    ]
    assert lines[1].startswith("tkt_0123456789abcdef escalated") and lines[2].startswith(
        "tkt_fedcba9876543210"
    )
    assert lines[1].index("low_confidence") == lines[0].index("REASONS")


def test_outcome_table_long_reasons_shortened_to_the_line_width():
    table = OutcomeTable(io.StringIO(), width=100)
    row = table.row(_outcome("tkt_0123456789abcdef", [f"reason_number_{i}" for i in range(20)]))
    assert len(row) <= 100 and row.endswith(ELLIPSIS)
