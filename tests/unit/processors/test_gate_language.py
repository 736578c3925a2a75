"""The gate sends an answer automatically only in the customer's language (the ticket's, detected)."""

import pytest

from supportflow.processors.gate import GatePolicy, answer_language, gate
from supportflow.schemas.models import Decision, PipelineRecord
from tests.unit.helpers import record

POLICY = GatePolicy(groundedness_floor=0.92, retrieval_min_score=0.45)

SPANISH = (
    "Hola, Ana:\n\nPuede seguir su pedido en Cuenta > Pedidos y elegir Seguir paquete.\n\nSaludos cordiales"
)
ENGLISH = "Hi Ana,\n\nTrack your order from Account > Orders and choose Track package.\n\nBest regards"
# A correct Spanish answer that is mostly brand names: fastText's first guess is not Spanish.
SPANISH_BRANDS = (
    "Hola, Ana:\n\n- Tarjetas de crédito y débito: Visa, Mastercard, American Express y Discover.\n"
    "- PayPal, Apple Pay y Google Pay.\n- Klarna (Paga en 30 días).\n\nSaludos cordiales,\n"
    "Atención al cliente de Northwind Outfitters"
)


def _with(text: str, language: str) -> PipelineRecord:
    rec = record()
    assert rec.answer is not None and rec.route is not None
    return rec.model_copy(update={
        "answer": rec.answer.model_copy(update={"text": text}),
        "route": rec.route.model_copy(update={"language": language}),
    })  # fmt: skip


@pytest.mark.parametrize(("text", "language"), [(SPANISH, "es"), (ENGLISH, "en"), (SPANISH_BRANDS, "es")])
def test_gate_answer_in_the_tickets_language_auto_resolves(text, language):
    out = gate(_with(text, language), POLICY, lambda _cid: True, now_ms=1_250)
    assert out.decision == Decision.AUTO_RESOLVED, out.reasons


@pytest.mark.parametrize(
    ("text", "language", "reason"),
    [(ENGLISH, "es", "gate:answer_language:en_not_es"), (SPANISH, "de", "gate:answer_language:es_not_de")],
)
def test_gate_answer_in_another_language_drafts_with_reason(text, language, reason):
    out = gate(_with(text, language), POLICY, lambda _cid: True, now_ms=1_250)
    assert out.decision == Decision.SUGGESTED and reason in out.reasons


def test_answer_language_too_short_to_tell_is_read_as_english():
    assert answer_language("OK!", "es") == "en"
    assert answer_language("OK!", "en") == "en"
