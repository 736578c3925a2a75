from __future__ import annotations

from supportflow.processors.knowledge import score_groundedness
from supportflow.schemas.models import CustomerContext, Order, Source
from tests.unit.helpers import EMBEDDING_TOLERANCE

REFUNDS = Source(
    chunk_id="refund-policy#timing",
    article_id="refund-policy",
    title="Refund policy",
    section="Timing",
    text=(
        "Refunds always go to the original payment method. Card refunds take 5-10 business days after we "
        "issue them. Refunds over 200 USD are reviewed by a refund specialist, which adds up to 2 business "
        "days. Contact support@northwind-outfitters.example if the refund is late."
    ),
    score=0.7,
)
CUSTOMER = CustomerContext(
    customer_id="cus_1",
    name="Maya Thompson",
    orders=[
        Order(order_id="NW-100231", status="shipped", total=179.0, placed_at="2026-11-02T15:20:00Z",
              carrier="UPS", tracking_number="1Z999AA10123456784"),
    ],
)  # fmt: skip


def test_score_groundedness_faithful_extract_scores_above_floor():
    answer = (
        "Hi Maya,\n\nCard refunds take 5-10 business days after we issue them. Refunds over $200 are reviewed "
        "by a refund specialist, which adds up to 2 business days.\n\nBest regards,\nNorthwind Outfitters Support"
    )
    score, unsupported = score_groundedness(answer, [REFUNDS])
    assert score >= 0.92
    assert unsupported == []


def test_score_groundedness_unsupported_amount_scores_low_and_is_listed():
    answer = "Card refunds take 5-10 business days. Refunds over $500 are reviewed by a refund specialist."
    score, unsupported = score_groundedness(answer, [REFUNDS])
    assert score <= 0.5
    assert any("$500" in claim for claim in unsupported)


def test_score_groundedness_unsupported_duration_scores_low_and_is_listed():
    answer = "Card refunds take 2-3 business days after we issue them."
    score, unsupported = score_groundedness(answer, [REFUNDS])
    assert score == 0.0
    assert unsupported and "2-3 business days" in unsupported[0]


def test_score_groundedness_unsupported_date_scores_low_and_is_listed():
    answer = "Your refund will arrive on December 24, 2026. Card refunds take 5-10 business days."
    score, unsupported = score_groundedness(answer, [REFUNDS], CUSTOMER)
    assert score <= 0.5
    assert any("December 24, 2026" in claim for claim in unsupported)


def test_score_groundedness_crm_facts_support_order_details_in_any_date_format():
    answer = (
        "Your order NW-100231, placed on November 2, 2026, has the status shipped. Carrier: UPS, tracking "
        "number 1Z999AA10123456784. Card refunds take 5-10 business days after we issue them."
    )
    score, unsupported = score_groundedness(answer, [REFUNDS], CUSTOMER)
    # What this test is about: every order fact is found in the CRM record, whatever its date format.
    assert unsupported == []
    # The semantic half of the score sits near the auto-send floor (0.920-0.926 on onnxruntime
    # 1.20-1.32 here, 0.905 reported on another CPU's int8 kernels); a hard-fact miss caps it at 0.5.
    assert score >= 0.92 - EMBEDDING_TOLERANCE
    # Without the CRM record the same order facts are unsupported.
    score_without, unsupported_without = score_groundedness(answer, [REFUNDS], None)
    assert score_without <= 0.5
    assert any("NW-100231" in claim for claim in unsupported_without)


def test_score_groundedness_wrong_tracking_number_or_unknown_entity_is_caught():
    wrong_tracking = "Carrier: UPS, tracking number 1Z999AA10123456799."
    assert score_groundedness(wrong_tracking, [REFUNDS], CUSTOMER)[0] == 0.0
    invented_place = "Refunds always go to the original payment method at our store in Berlin."
    score, unsupported = score_groundedness(invented_place, [REFUNDS], CUSTOMER)
    assert score == 0.0 and "Berlin" in unsupported[0]


def test_score_groundedness_off_topic_sentence_has_weak_semantic_support():
    answer = "Card refunds take 5-10 business days. Our tents are waterproof and very easy to pitch in wind."
    score, unsupported = score_groundedness(answer, [REFUNDS])
    assert score < 0.92
    assert any(claim.startswith("weak support") and "tents" in claim for claim in unsupported)


def test_score_groundedness_no_citations_scores_zero():
    score, unsupported = score_groundedness("Card refunds take 5-10 business days.", [])
    assert score == 0.0 and unsupported


def test_score_groundedness_greeting_only_answer_scores_zero():
    assert score_groundedness("Hi Maya,\n\nBest regards,\nNorthwind Outfitters Support", [REFUNDS])[0] == 0.0


HOURS = Source(
    chunk_id="contact#hours",
    article_id="contact",
    title="Contact us",
    section="Opening hours",
    text=(
        "- US customer service: Monday to Friday 8:00 a.m. to 8:00 p.m. ET.\n"
        "- EU customer service: Monday to Friday 9:00 to 18:00 CET.\n"
        "We send at most 2 emails per week."
    ),
    score=0.6,
)


def test_score_groundedness_quantity_from_another_sentence_of_the_source_is_caught():
    # "9:00" is in the source, but as the EU opening time: for the US line it is a wrong fact.
    score, unsupported = score_groundedness(
        "US customer service: Monday to Friday 9:00 a.m. to 8:00 p.m. ET.", [HOURS]
    )
    assert score == 0.0 and "9:00 a.m." in unsupported[0]
    assert (
        score_groundedness("US customer service: Monday to Friday 8:00 a.m. to 8:00 p.m. ET.", [HOURS])[0]
        >= 0.92
    )


def test_score_groundedness_paraphrase_merging_two_source_sentences_passes():
    answer = (
        "Card refunds take 5-10 business days, and refunds over $200 get a specialist review that adds up "
        "to 2 business days."
    )
    score, unsupported = score_groundedness(answer, [REFUNDS])
    assert score >= 0.92, unsupported
