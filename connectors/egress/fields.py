"""How an outcome maps onto helpdesk fields that Zendesk and Freshdesk share: ticket id, tags, group,
priority, the text of internal notes (with the bounded "Conversation so far" transcript) and the public
handoff of an escalation. Kept here so the two connectors only differ in wire format."""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import UTC, datetime

from supportflow.connectors.egress.settings import EgressSettings, Priority
from supportflow.schemas.errors import InvalidInputError, PermanentError
from supportflow.schemas.models import Author, Decision, Outcome, TranscriptEntry

#: Maps an outcome to the helpdesk's ticket id. Default: the conversation id, which is the helpdesk
#: ticket id when tickets come in through that helpdesk's own webhook. A reference that is not numeric
#: means the conversation has no helpdesk ticket yet: egress finds or creates one (:mod:`.tickets`).
TicketRef = Callable[[Outcome], str]

_TAG_SEGMENT = re.compile(r"[a-z0-9_\-]+")
_EMAIL = re.compile(r"[^@\s]+@[^@\s]+\.[^@\s]+")
_E164 = re.compile(r"\+[1-9][0-9]{6,14}")
_WHITESPACE = re.compile(r"\s+")

#: Bounds of the transcript in an internal note: the newest entries win. Helpdesks cap comment size
#: (Zendesk at 64 KB) and an agent reads the last exchanges first, so older ones are counted, not shown.
TRANSCRIPT_MAX_ENTRIES = 20
TRANSCRIPT_MAX_CHARS = 8_000
#: The tag of a ticket the customer closed, so helpdesk views and reports can tell it from a solved one.
CLOSED_TAG = "supportflow-closed"


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
    if outcome.decision == Decision.ESCALATED:
        tags = ["supportflow", "escalated", *(tag(r) for r in outcome.reasons)]
    elif outcome.decision == Decision.CLOSED:
        tags.append(CLOSED_TAG)
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
    return "\n".join(lines) + _with_conversation(outcome)


def escalation_note(outcome: Outcome) -> str:
    header = f"Escalated by supportflow: {', '.join(outcome.reasons) or 'no reason recorded'}"
    context = outcome.escalation_context or f"Intent {outcome.intent} (confidence {outcome.confidence:.2f})."
    draft = f"\n\nDraft (not sent):\n{outcome.answer}" if outcome.answer else ""
    return f"{header}\n\n{context}{draft}" + _with_conversation(outcome)


def closed_note(outcome: Outcome) -> str:
    """The internal note of a conversation the customer closed: nothing for an agent to do."""
    return f"Customer closed the conversation (turn {outcome.turn})."


def handoff_reply(outcome: Outcome) -> str | None:
    """The customer-facing handoff of an escalation, to post publicly; None when there is none."""
    if outcome.decision != Decision.ESCALATED or not outcome.handoff_message.strip():
        return None
    return outcome.handoff_message


def conversation_section(outcome: Outcome) -> str:
    """The "Conversation so far" section: the turn and the newest transcript entries, oldest first.

    Empty for the first message of a conversation with nothing earlier on record. At most
    :data:`TRANSCRIPT_MAX_ENTRIES` entries and about :data:`TRANSCRIPT_MAX_CHARS` characters of them; a
    line says how many earlier messages were left out."""
    if outcome.turn <= 1 and not outcome.transcript:
        return ""
    lines = ["Conversation so far", f"Message {outcome.turn} of this conversation."]
    if not outcome.transcript:
        return "\n".join([*lines, "No earlier messages on record."])
    kept = _newest_lines(outcome.transcript)
    left_out = len(outcome.transcript) - len(kept)
    if left_out:
        lines.append(f"({left_out} earlier message{'s' if left_out != 1 else ''} left out)")
    return "\n".join([*lines, *kept])


def transcript_line(entry: TranscriptEntry) -> str:
    """``[YYYY-MM-DD HH:MM UTC] Customer: text`` with the text on one line."""
    when = datetime.fromtimestamp(entry.at_ms / 1000, UTC).strftime("%Y-%m-%d %H:%M UTC")
    who = "Customer" if entry.author == Author.CUSTOMER else "Assistant"
    return f"[{when}] {who}: {_WHITESPACE.sub(' ', entry.text).strip()}"


def _newest_lines(transcript: list[TranscriptEntry]) -> list[str]:
    """Lines of the newest entries that fit both bounds, oldest first. The newest entry is always
    shown, cut to the character bound if it alone exceeds it."""
    kept: list[str] = []
    size = 0
    for entry in reversed(transcript[-TRANSCRIPT_MAX_ENTRIES:]):
        line = transcript_line(entry)
        if size + len(line) + 1 > TRANSCRIPT_MAX_CHARS:
            if not kept:
                kept.append(line[: TRANSCRIPT_MAX_CHARS - 1] + "\u2026")
            break
        kept.append(line)
        size += len(line) + 1
    return kept[::-1]


def _with_conversation(outcome: Outcome) -> str:
    section = conversation_section(outcome)
    return f"\n\n{section}" if section else ""
