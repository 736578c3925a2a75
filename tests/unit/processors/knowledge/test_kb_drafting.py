from __future__ import annotations

from supportflow.processors.knowledge import KnowledgeBase, compose_answer
from supportflow.schemas.models import Tier


def test_compose_answer_track_order_greets_cites_and_states_crm_order_facts(helpcenter_kb: KnowledgeBase,
                                                                            crm_customer):  # fmt: skip
    customer = crm_customer("cus_0002")  # Daniel Okafor, owner of NW-100231 (shipped)
    order = next(o for o in customer.orders if o.order_id == "NW-100231")
    ticket = "Where is my order NW-100231? I ordered the boots two weeks ago."
    sources = helpcenter_kb.search(ticket, k=4, intents=["track_order"])

    answer = compose_answer(ticket, "track_order", sources, customer)

    assert answer is not None
    assert answer.text.startswith("Hi Daniel,")
    assert (
        "NW-100231" in answer.text and order.carrier in answer.text and order.tracking_number in answer.text
    )
    assert "November 2, 2026" in answer.text
    assert answer.citations and all(helpcenter_kb.get_chunk(c) is not None for c in answer.citations)
    assert answer.model == "offline-extractive" and answer.tier == Tier.COMMODITY
    assert answer.tokens_in == answer.tokens_out == 0 and answer.cost_usd == 0.0
    assert answer.groundedness >= 0.92, answer.unsupported


def test_compose_answer_keeps_numbered_steps_together_and_cites_their_section(helpcenter_kb: KnowledgeBase):
    ticket = "How do I reset my password? I can't sign in."
    answer = compose_answer(
        ticket, "recover_password", helpcenter_kb.search(ticket, k=4, intents=["recover_password"]), None
    )
    assert answer is not None
    assert answer.text.startswith("Hello,")
    steps = [line for line in answer.text.splitlines() if line[:2] in {"1.", "2.", "3.", "4."}]
    assert len(steps) == 4
    assert "reset-your-password#reset-your-password" in answer.citations
    assert answer.groundedness >= 0.92


def test_compose_answer_non_order_intent_leaves_out_order_facts(helpcenter_kb: KnowledgeBase, crm_customer):
    customer = crm_customer("cus_0001")
    ticket = "What payment methods do you accept?"
    answer = compose_answer(
        ticket,
        "check_payment_methods",
        helpcenter_kb.search(ticket, k=4, intents=["check_payment_methods"]),
        customer,
    )
    assert answer is not None and answer.text.startswith("Hi Maya,")
    assert not any(o.order_id in answer.text for o in customer.orders)


def test_compose_answer_order_not_on_customer_record_is_not_described(helpcenter_kb: KnowledgeBase,
                                                                      crm_customer):  # fmt: skip
    customer = crm_customer("cus_0001")
    ticket = "Where is order NW-999999?"
    answer = compose_answer(
        ticket, "track_order", helpcenter_kb.search(ticket, k=4, intents=["track_order"]), customer
    )
    assert answer is not None
    assert not any(o.order_id in answer.text for o in customer.orders)


def test_compose_answer_without_sources_returns_none():
    assert compose_answer("Where is my order?", "track_order", [], None) is None
