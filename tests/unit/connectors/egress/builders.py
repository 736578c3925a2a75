"""Outcomes, messages and settings for the egress tests."""

from supportflow.connectors.egress import EgressSettings, IdempotencyStore, build_dispatcher
from supportflow.schemas import wire
from supportflow.schemas.models import Band, Channel, Decision, Outcome, Tier
from supportflow.streams.handlers import Message
from tests.fakes.crm_server import FakeCrmServer

BAND = {
    Decision.AUTO_RESOLVED: Band.AUTO,
    Decision.SUGGESTED: Band.SUGGEST,
    Decision.ESCALATED: Band.ESCALATE,
}


def outcome(decision=Decision.AUTO_RESOLVED, ticket_id="tkt_1", conversation_id="4711", **kw) -> Outcome:
    base = dict(
        ticket_id=ticket_id, conversation_id=conversation_id, channel=Channel.EMAIL, decision=decision,
        reasons=["policy:auto"], intent="track_order", confidence=0.93, band=BAND[decision],
        tier=Tier.COMMODITY,
        answer="Your order NW-100234 shipped yesterday; track it under Account > Orders.",
        citations=["order-tracking#where-is-my-order"], groundedness=0.97, trace_id="trace-1",
    )  # fmt: skip
    base.update(kw)
    return Outcome(**base)


def message(record: Outcome | bytes, offset=0) -> Message:
    value = record if isinstance(record, bytes) else wire.encode(record)
    return Message(topic="supportflow.outcomes", partition=0, offset=offset, key=b"4711", value=value)


def settings(server: FakeCrmServer, **kw) -> EgressSettings:
    base = dict(
        base_url=server.base_url, email="agent@example.com", api_token="zd-token",
        webhook_url=server.webhook_url, webhook_secret=server.webhook_secret.decode(),
        max_attempts=4, timeout_s=2.0, backoff_base_s=0.01, backoff_max_s=0.05, retry_after_cap_s=5.0,
    )  # fmt: skip
    base.update(kw)
    return EgressSettings(**base)


def dispatcher(name: str, server: FakeCrmServer, store: IdempotencyStore | None = None, **kw):
    if name == "freshdesk":
        kw.setdefault("api_token", "fd-key")
    return build_dispatcher(name, settings(server, **kw), IdempotencyStore() if store is None else store)
