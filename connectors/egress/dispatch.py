"""One consumed outcome in, one fate out: delivered, skipped as a duplicate, or dead-lettered. No Kafka.

The idempotency store is consulted per request step before anything is sent and written right after each
step succeeds, so a redelivered outcome (same ticket id and decision) posts nothing, and an outcome whose
first step landed before a failure resumes at the step that failed. An outcome whose conversation has
no helpdesk ticket yet is first linked to one, found or created (:mod:`.tickets`).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from enum import StrEnum

from supportflow.connectors.egress.base import Connector
from supportflow.connectors.egress.delivery import Deliverer, HttpCall, idempotency_key
from supportflow.connectors.egress.store import IdempotencyStore
from supportflow.connectors.egress.tickets import Resolved, TicketRequestFailed, resolve_ticket
from supportflow.schemas import wire
from supportflow.schemas.errors import SupportflowError, TransientError
from supportflow.schemas.models import Outcome
from supportflow.streams.handlers import Emit, Message, dead_letter

log = logging.getLogger(__name__)


class Fate(StrEnum):
    DELIVERED = "delivered"
    DUPLICATE = "duplicate"  # every step was already in the store: nothing sent
    DEAD_LETTERED = "dead_lettered"


@dataclass(frozen=True)
class Handled:
    fate: Fate
    ticket_id: str = ""
    requests_sent: int = 0
    already_applied: int = 0  # steps the helpdesk reported as duplicates (409 / idempotent replay)
    dead_letter: Emit | None = None


class Dispatcher:
    def __init__(self, connector: Connector, deliverer: Deliverer, store: IdempotencyStore) -> None:
        self.connector = connector
        self.deliverer = deliverer
        self.store = store
        self.stage = f"egress:{connector.name}"

    def handle(self, msg: Message) -> Handled:
        """Raises :class:`~.delivery.DeliveryInterrupted` (the worker is stopping) or a
        :class:`TransientError` reading the outcome (the schema registry is unreachable): the runner
        stops without committing it, so it is read again after the restart."""
        try:
            outcome = wire.decode(msg.value, Outcome)
            link = self.connector.ticket_link(outcome)
            calls = self.connector.calls(outcome) if link is None else []
        except TransientError:
            raise  # e.g. the schema registry is unreachable: the outcome is fine, redeliver it later
        except SupportflowError as exc:
            log.warning(
                "%s: cannot apply %s[%d]@%d: %s", self.stage, msg.topic, msg.partition, msg.offset, exc
            )
            return Handled(Fate.DEAD_LETTERED, dead_letter=dead_letter(self.stage, msg, exc))
        resolved = Resolved("")
        if link is not None:
            try:
                resolved = resolve_ticket(link, self.connector.name, self.deliverer, self.store)
            except TicketRequestFailed as failed:
                return self._failed(msg, outcome, failed.error, failed.call, Resolved(""))
            calls = self.connector.calls(outcome, resolved.ticket_id)
        name, decision = self.connector.name, str(outcome.decision)
        keyed = [(call, idempotency_key(name, outcome.ticket_id, decision, call.step)) for call in calls]
        pending = [(call, key) for call, key in keyed if not self.store.contains(key)]
        if not pending:
            return Handled(
                Fate.DUPLICATE, outcome.ticket_id, resolved.requests_sent, resolved.already_applied
            )
        sent, applied = resolved.requests_sent, resolved.already_applied
        for call, key in pending:
            try:
                result = self.deliverer.send(call, key)
            except SupportflowError as exc:
                return self._failed(msg, outcome, exc, call, Resolved("", sent, applied))
            sent += result.attempts
            applied += result.already_applied
            self.store.record(
                key,
                connector=name,
                ticket_id=outcome.ticket_id,
                decision=decision,
                step=call.step,
                status=result.status,
            )
        return Handled(Fate.DELIVERED, outcome.ticket_id, sent, applied)

    def _failed(
        self, msg: Message, outcome: Outcome, exc: SupportflowError, call: HttpCall, so_far: Resolved
    ) -> Handled:
        log.error("%s: ticket %s: %s", self.stage, outcome.ticket_id, exc)
        emit = dead_letter(self.stage, msg, exc, str(outcome.channel), f"{call.method} {call.url}")
        return Handled(
            Fate.DEAD_LETTERED, outcome.ticket_id, so_far.requests_sent, so_far.already_applied, emit
        )
