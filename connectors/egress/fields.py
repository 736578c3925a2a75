"""How an outcome maps onto helpdesk fields that Zendesk and Freshdesk share: ticket id, tags, group,
priority and the text of internal notes. Kept here so the two connectors only differ in wire format."""

from __future__ import annotations

import re
from collections.abc import Callable

from supportflow.connectors.egress.settings import EgressSettings, Priority
from supportflow.schemas.errors import InvalidInputError, PermanentError
from supportflow.schemas.models import Outcome

#: Maps an outcome to the helpdesk's ticket id. Default: the conversation id, which is the helpdesk
#: ticket id when tickets come in through that helpdesk's own webhook.
TicketRef = Callable[[Outcome], str]

_TAG_SEGMENT = re.compile(r"[a-z0-9_\-]+")


def require_settings(settings: EgressSettings, connector: str, *fields: str) -> None:
    """Fail at start-up, naming the env vars, when a connector's credentials are not configured."""
    missing = [f for f in fields if not getattr(settings, f)]
    if missing:
        names = ", ".join(f"SUPPORTFLOW_EGRESS__{f.upper()}" for f in missing)
        raise PermanentError(f"{connector} egress needs {names}")


def conversation_ref(outcome: Outcome) -> str:
    return outcome.conversation_id


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
