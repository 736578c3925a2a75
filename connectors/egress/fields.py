"""How an outcome maps onto helpdesk fields that Zendesk and Freshdesk share: ticket id, tags, group,
priority and the text of internal notes. Kept here so the two connectors only differ in wire format."""

from __future__ import annotations

import re
from collections.abc import Callable

from supportflow.connectors.egress.settings import EgressSettings, Priority
from supportflow.schemas.errors import InvalidInputError, PermanentError
from supportflow.schemas.models import Decision, Outcome

#: Maps an outcome to the helpdesk's ticket id. Default: the conversation id, which is the helpdesk
#: ticket id when tickets come in through that helpdesk's own webhook. A reference that is not numeric
#: means the conversation has no helpdesk ticket yet: egress finds or creates one (:mod:`.tickets`).
TicketRef = Callable[[Outcome], str]

_TAG_SEGMENT = re.compile(r"[a-z0-9_\-]+")
_EMAIL = re.compile(r"[^@\s]+@[^@\s]+\.[^@\s]+")
_E164 = re.compile(r"\+[1-9][0-9]{6,14}")


def require_settings(settings: EgressSettings, connector: str, *fields: str) -> None:
    """Fail at start-up, naming the env vars, when a connector's credentials are not configured."""
    missing = [f for f in fields if not getattr(settings, f)]
    if missing:
        names = ", ".join(f"SUPPORTFLOW_EGRESS__{f.upper()}" for f in missing)
        raise PermanentError(f"{connector} egress needs {names}")


def conversation_ref(outcome: Outcome) -> str:
    return outcome.conversation_id


def referenced_ticket_id(outcome: Outcome, ticket_ref: TicketRef) -> str | None:
    """The helpdesk ticket id the outcome refers to, or None when its conversation did not come from the
    helpdesk (helpdesk ids are integers; email, chat and WhatsApp conversation ids are not)."""
    ref = ticket_ref(outcome).strip()
    return ref if ref.isdigit() else None


def requester_contact(
    outcome: Outcome, settings: EgressSettings, *, phone: bool = True
) -> tuple[str, str] | None:
    """``("email" | "phone", value)`` for the requester of a ticket egress creates: the outcome's
    customer id when it is an address (or, if the helpdesk takes one, an E.164 number), else the
    configured fallback requester."""
    customer = (outcome.customer_id or "").strip()
    if _EMAIL.fullmatch(customer):
        return "email", customer
    if phone and _E164.fullmatch(customer):
        return "phone", customer
    if settings.fallback_requester_email:
        return "email", settings.fallback_requester_email
    return None


def opening_note(outcome: Outcome) -> str:
    """The first comment of a ticket egress creates; the outcome itself follows as an update."""
    return (
        f"Ticket opened by supportflow for {outcome.channel} conversation {outcome.conversation_id}, "
        "which the helpdesk had no ticket for. Its messages' outcomes follow as updates."
    )


def require_answer(outcome: Outcome) -> None:
    """An auto-resolution without an answer cannot be applied: fail before any request (dead letter)."""
    if outcome.decision == Decision.AUTO_RESOLVED and not outcome.answer.strip():
        raise PermanentError(f"auto_resolved ticket {outcome.ticket_id} has no answer to post")


def numeric_ticket_id(outcome: Outcome, ticket_ref: TicketRef, helpdesk: str) -> str:
    """Helpdesk ticket ids are integers; anything else would 404, so fail before sending (dead letter)."""
    ref = ticket_ref(outcome).strip()
    if not ref.isdigit():
        raise InvalidInputError(
            f"{helpdesk}: ticket reference {ref!r} of ticket {outcome.ticket_id} is not numeric"
        )
    return ref


def tag(text: str) -> str:
    """A helpdesk-safe tag: lowercase, letters/digits/_/-; "rule:legal" -> "rule_legal"."""
    segments = [m.group(0) for m in (_TAG_SEGMENT.match(s) for s in text.lower().split(":")[:2]) if m]
    return "_".join(segments) or "unknown"


def decision_tags(outcome: Outcome) -> list[str]:
    tags = ["supportflow", str(outcome.decision), tag(outcome.intent)]
    if outcome.decision == "escalated":
        tags = ["supportflow", "escalated", *(tag(r) for r in outcome.reasons)]
    return list(dict.fromkeys(tags))  # dedupe, keep order


def escalation_group(outcome: Outcome, settings: EgressSettings) -> int | None:
    """First match wins: a full reason ("rule:legal"), its kind:name prefix, its kind, then the intent."""
    for reason in outcome.reasons:
        parts = reason.split(":")
        for candidate in (reason, ":".join(parts[:2]), parts[0]):
            if candidate in settings.group_map:
                return settings.group_map[candidate]
    return settings.group_map.get(outcome.intent, settings.default_group_id)


def escalation_priority(outcome: Outcome, settings: EgressSettings) -> Priority:
    urgent = set(settings.urgent_reasons)
    if any(r in urgent or ":".join(r.split(":")[:2]) in urgent for r in outcome.reasons):
        return "urgent"
    return settings.escalation_priority


def draft_note(outcome: Outcome) -> str:
    """The internal note an agent sees for a suggested reply: the draft first, provenance after."""
    lines = [
        f"Suggested reply by supportflow (intent {outcome.intent}, confidence {outcome.confidence:.2f}, "
        f"groundedness {outcome.groundedness:.2f}). Review before sending:",
        "",
        outcome.answer or "(no draft: the model could not produce a grounded answer)",
        "",
        f"Sources: {', '.join(outcome.citations) or 'none'}",
        f"Why not auto-sent: {', '.join(outcome.reasons) or 'none'}",
    ]
    return "\n".join(lines)


def escalation_note(outcome: Outcome) -> str:
    header = f"Escalated by supportflow: {', '.join(outcome.reasons) or 'no reason recorded'}"
    context = outcome.escalation_context or f"Intent {outcome.intent} (confidence {outcome.confidence:.2f})."
    draft = f"\n\nDraft (not sent):\n{outcome.answer}" if outcome.answer else ""
    return f"{header}\n\n{context}{draft}"
