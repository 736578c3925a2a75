"""Canonical contact identifiers: the forms ticket senders and CRM records are compared in."""

from __future__ import annotations

import pytest

from supportflow.processors.contacts import normalize_email, normalize_phone


@pytest.mark.parametrize(
    "raw, expected",
    [
        ("A@B.CO", "a@b.co"),
        ("<x@y.org>", "x@y.org"),
        ("nope", None),
        ("a b@c.de", None),
        ("", None),
        (None, None),
    ],
)
def test_normalize_email(raw: str | None, expected: str | None) -> None:
    assert normalize_email(raw) == expected


@pytest.mark.parametrize(
    "raw, expected",
    [
        ("4915112000104", "+4915112000104"),
        ("+33 6 12 00 01 05", "+33612000105"),
        ("0049 151 12000104", "+4915112000104"),
        ("12", None),
        ("abc", None),
    ],
)
def test_normalize_phone(raw: str, expected: str | None) -> None:
    assert normalize_phone(raw) == expected
