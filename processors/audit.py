"""Audit trail: what the pipeline saw, showed a model, and decided — with PII redacted."""

from __future__ import annotations

from supportflow.processors.redact import redact, redact_customer_terms
from supportflow.processors.resolve import customer_facts
from supportflow.schemas.models import AuditEvent, Outcome, PipelineRecord


def audit_event(record: PipelineRecord, outcome: Outcome) -> AuditEvent:
    terms = redact_customer_terms(record.customer)
    ticket = record.ticket
    answer = record.answer
    return AuditEvent(
        ticket_id=ticket.ticket_id, trace_id=ticket.trace_id, conversation_id=ticket.conversation_id,
        channel=ticket.channel, decided_at_ms=outcome.decided_at_ms, decision=outcome.decision,
        reasons=outcome.reasons, intent=outcome.intent, confidence=outcome.confidence,
        router_model=record.route.model if record.route else "",
        redacted_input=redact(f"{ticket.subject}\n{ticket.text}".strip(), terms).text,
        crm_fields_shown=[redact(f, terms).text for f in customer_facts(record.customer)] if answer else [],
        sources=[f"{s.chunk_id}@{s.score:.3f}" for s in record.sources],
        model=answer.model if answer else "",
        model_output=redact(answer.text, terms).text if answer else "",
        citations=list(answer.citations) if answer else [],
        groundedness=answer.groundedness if answer else 0.0,
        unsupported_claims=[redact(c, terms).text for c in answer.unsupported] if answer else [],
        failures=list(record.failures), timings_ms=dict(outcome.timings_ms),
        router_version=outcome.router_version, policy_version=outcome.policy_version,
    )  # fmt: skip
