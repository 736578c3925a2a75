"""Order numbers as customers write them (NW-100231): one pattern for every stage that looks for them."""

from __future__ import annotations

import re

ORDER_ID = re.compile(r"\b[A-Z]{2,4}-\d{4,}\b", re.IGNORECASE)


def last_order(text: str) -> str:
    """The last order number ``text`` names, upper-cased ("" when it names none)."""
    named = ORDER_ID.findall(text)
    return named[-1].upper() if named else ""
