"""Identity binding: which CRM record, if any, a ticket may see. Pure functions, no I/O.

A ticket gets a customer's CRM record only when the identity its channel vouches for (``Ticket``'s
``verified_email`` / ``verified_phone`` / ``verified_customer_id``, set by the ingress parsers from
authenticated fields only) matches that record. A ``customer_id`` the sender merely claims is never
looked up; it may only agree with the record the verified identity found. The rules per channel are
in docs/ingress.md ("Identity binding").

Matching is deliberate and strict:

- email: lowercased and trimmed on both sides, then exact, and only plain ASCII addresses are compared
  (``normalize_email``): an address with any other character (a KELVIN SIGN that Unicode lowercases to
  ``k``, a Cyrillic look-alike) vouches for nobody, and a record holding one matches no ticket's
  address. The domain must be the same domain
  (``example.net.evil.example`` is not ``example.net``). Plus-addressing is NOT folded:
  ``daniel+shop@example.net`` does not match ``daniel@example.net``, because the local part belongs to
  the receiving mail server (RFC 5321 section 2.4) and ``+`` is an ordinary character at many providers, so
  the tagged address may be someone else's mailbox. A customer writing from a tagged address gets a
  draft for an agent, never someone else's account.
- phone: E.164 on both sides (``(212) 555-0102`` and ``+12125550102`` are the same number).
- customer id: exact after trimming, ASCII letters compared case-insensitively (no Unicode case
  folding: ``cus_0002`` spelled with a LONG S, U+017F, is not ``cus_0002``).

Every identifier the channel vouches for must agree with the record (an identifier the record does
not hold cannot contradict it), and at least one must be equal.
"""

from __future__ import annotations

from dataclasses import dataclass

from supportflow.processors.contacts import normalize_customer_id, normalize_email, normalize_phone
from supportflow.processors.knowledge.drafting import ORDER_INTENTS
from supportflow.schemas.models import Band, CustomerContext, RouteDecision, Ticket

#: The channel vouched for nobody (a guest chat handle, an unprivileged API ticket with only a
#: customer_id, an email whose Reply-To differs from From): no CRM record is used.
IDENTITY_UNVERIFIED = "identity:unverified"
#: The ticket names an account (claimed customer_id, or a second identifier) that is not the verified
#: sender's: no CRM record is used and the ticket is never auto-sent.
IDENTITY_MISMATCH = "identity:mismatch"
#: Gate blocker for a record whose customer does not match its ticket (e.g. routed by an older worker).
GATE_IDENTITY = "gate:identity_unverified"


@dataclass(frozen=True)
class SenderIdentity:
    """What the channel vouches for, normalized; None where it vouches for nothing."""

    email: str | None = None
    phone: str | None = None
    customer_id: str | None = None

    def __bool__(self) -> bool:
        return any((self.email, self.phone, self.customer_id))


@dataclass(frozen=True)
class Binding:
    """The CRM record the ticket may use (None: none) and the reason to record, if any."""

    customer: CustomerContext | None
    reason: str | None = None


def sender_identity(ticket: Ticket) -> SenderIdentity:
    return SenderIdentity(
        email=normalize_email(ticket.verified_email),
        phone=normalize_phone(ticket.verified_phone),
        customer_id=normalize_customer_id(ticket.verified_customer_id),
    )


# What a record's identifier becomes when it is present but not comparable (a non-ASCII email, a
# phone that does not parse): equal to nothing, so it contradicts any identifier the ticket vouches for
# instead of counting as "the record does not hold one".
_UNCOMPARABLE = "\x00uncomparable"


def _held(raw: str | None, normalized: str | None) -> str | None:
    """A record's identifier for comparison: None only when the record holds none."""
    if normalized is not None:
        return normalized
    return _UNCOMPARABLE if (raw or "").strip() else None


def record_matches(identity: SenderIdentity, record: CustomerContext) -> bool:
    """At least one vouched identifier equals the record's, and none contradicts it."""
    pairs = [
        (identity.email, _held(record.email, normalize_email(record.email))),
        (identity.phone, _held(record.phone, normalize_phone(record.phone))),
        (identity.customer_id, normalize_customer_id(record.customer_id)),
    ]
    known = [(mine, theirs) for mine, theirs in pairs if mine is not None and theirs is not None]
    return bool(known) and all(mine == theirs for mine, theirs in known)


def bind_customer(
    ticket: Ticket, found: CustomerContext | None, identity: SenderIdentity | None = None
) -> Binding:
    """Whether ``found`` (the CRM's answer to the ticket's verified identifiers) may be used.

    ``ticket.customer_id`` is the claim (any channel may carry one); it must name the found record.
    ``identity`` is ``sender_identity(ticket)`` when the caller already has it (the route stage looked
    the CRM up with it), so it is not normalized twice.
    """
    if identity is None:
        identity = sender_identity(ticket)
    claim = normalize_customer_id(ticket.customer_id)
    if not identity:
        return Binding(None, IDENTITY_UNVERIFIED)
    if found is None:
        # A verified sender the CRM does not know: nothing to leak, unless they name someone's account.
        return Binding(None, IDENTITY_MISMATCH if claim else None)
    if not record_matches(identity, found):
        return Binding(None, IDENTITY_MISMATCH)
    if claim is not None and claim != normalize_customer_id(found.customer_id):
        return Binding(None, IDENTITY_MISMATCH)
    return Binding(found)


def with_identity(decision: RouteDecision, reason: str | None) -> RouteDecision:
    """The route decision with the identity reason recorded and the band capped where it matters.

    A mismatch never auto-sends (someone named an account that is not theirs: an agent looks). An
    unverified sender may still get a general help-center answer, but not for an account-specific
    intent (where is my order, refund, cancel...): that becomes a draft.
    """
    if reason is None:
        return decision
    reasons = decision.reasons if reason in decision.reasons else [*decision.reasons, reason]
    band = decision.band
    if band is Band.AUTO and (reason == IDENTITY_MISMATCH or decision.intent in ORDER_INTENTS):
        band = Band.SUGGEST
    return decision.model_copy(update={"reasons": reasons, "band": band})
