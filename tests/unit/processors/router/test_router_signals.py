"""Amount parsing and language detection used by the hard rules."""

import numpy as np
import pytest

from supportflow.processors.router import detect_language, find_amounts
from supportflow.processors.router.text_features import HashedTfidf


@pytest.mark.parametrize(
    ("text", "amount", "currency"),
    [
        ("a refund of $900 please", 900.0, "USD"),
        ("900 USD", 900.0, "USD"),
        ("€1.200,50", 1200.5, "EUR"),
        ("1,200 dollars", 1200.0, "USD"),
        ("USD 45.99", 45.99, "USD"),
        ("12,50 €", 12.5, "EUR"),
        ("$1,234.56", 1234.56, "USD"),
        ("I paid 75 euros", 75.0, "EUR"),
        ("£60", 60.0, "GBP"),
    ],
)
def test_find_amounts_parses_common_formats(text, amount, currency):
    (money,) = find_amounts(text)
    assert money.amount == pytest.approx(amount) and money.currency == currency


@pytest.mark.parametrize(
    "text", ["order 113542617735902 is late", "size 42 shoes", "3 items", "call +1 415 555 0101"]
)
def test_find_amounts_ignores_numbers_without_currency(text):
    assert find_amounts(text) == []


@pytest.mark.parametrize(
    ("text", "lang"),
    [
        ("Where is my order? It has been two weeks.", "en"),
        ("¿Dónde está mi pedido? Lo pedí hace dos semanas.", "es"),
        ("Je voudrais annuler ma commande, s'il vous plaît.", "fr"),
        ("Wo ist meine Bestellung? Ich warte seit zwei Wochen.", "de"),
        ("ok", "en"),
        ("12345 !!!", "en"),
    ],
)
def test_detect_language_offline(text, lang):
    assert detect_language(text) == lang


def test_hashed_tfidf_rows_are_unit_length_and_empty_text_is_zero():
    texts = ["where is my order", "", "refund refund refund please"]
    x = HashedTfidf(2**12).fit(texts).transform(texts)
    norms = np.sqrt(np.asarray(x.multiply(x).sum(axis=1)).ravel())
    assert np.allclose(norms, [1.0, 0.0, 1.0])
