"""``supportflow audit TICKET_ID``: reconstruct one ticket's journey from the audit, outcome and DLQ topics."""

from __future__ import annotations

import argparse
import json
from typing import TYPE_CHECKING, TypeVar

from supportflow.cli.broker import add_broker_option, resolve
from supportflow.cli.output import shorten
from supportflow.console import err

if TYPE_CHECKING:
    from pydantic import BaseModel

    from supportflow.schemas.models import AuditEvent, Outcome

M = TypeVar("M", bound="BaseModel")


def _records_of(bootstrap: str, topic: str, model: type[M], ticket_id: str) -> list[M]:
    from supportflow.schemas import wire
    from supportflow.schemas.errors import SchemaError
    from supportflow.streams.collect import read_to_end

    found = []
    for _key, value in read_to_end(bootstrap, topic):
        try:
            record = wire.decode(value, model)
        except SchemaError:
            continue
        if getattr(record, "ticket_id", None) == ticket_id:
            found.append(record)
    return found


def find_journey(bootstrap: str, ticket_id: str) -> tuple[list[AuditEvent], list[Outcome]]:
    from supportflow.schemas import registry
    from supportflow.schemas.models import AuditEvent, Outcome
    from supportflow.settings import get_settings

    registry.configure(get_settings(), register=False)  # reads only: looks schemas up
    t = get_settings().topics
    return (
        _records_of(bootstrap, t.full(t.audit), AuditEvent, ticket_id),
        _records_of(bootstrap, t.full(t.outcomes), Outcome, ticket_id),
    )


def journey_lines(a: AuditEvent) -> list[str]:
    """One audit record as the lines `supportflow audit` prints."""
    out: list[str] = []
    out.append(f"ticket {a.ticket_id} (trace {a.trace_id}, conversation {a.conversation_id}, {a.channel})")
    out.append(f"  input (redacted): {shorten(a.redacted_input, 300)}")
    if a.router_version or a.policy_version:
        out.append(f"  decided with: router {a.router_version or '-'}, policy {a.policy_version or '-'}")
    if a.ticket_id.startswith("promotion-"):  # a shadow candidate promoted: no ticket was routed
        out.append(f"  promotion: {', '.join(a.reasons)}; why: {a.model_output or '-'}")
        return out
    out.append(f"  routed: {a.intent} @ {a.confidence:.2f} by {a.router_model}")
    for stage, ms in a.timings_ms.items():
        out.append(f"  {stage:<10} {ms:8.2f} ms")
    out.append(f"  sources: {', '.join(a.sources) or 'none'}")
    out.append(f"  CRM facts shown: {'; '.join(a.crm_fields_shown) or 'none'}")
    out.append(
        f"  model: {a.model or 'none'}; groundedness {a.groundedness:.2f}; cites {', '.join(a.citations) or 'none'}"
    )
    if a.unsupported_claims:
        out.append(f"  unsupported claims: {a.unsupported_claims}")
    out.append(f"  output (redacted): {shorten(a.model_output, 400)}")
    out.append(f"  DECISION: {a.decision}  reasons: {', '.join(a.reasons)}")
    return out


def cmd_audit(args: argparse.Namespace) -> int:
    target = resolve(args, "audit")
    if target is None:
        return 2
    audits, outcomes = find_journey(target.bootstrap, args.ticket_id)
    if not audits and not outcomes:
        err(f"no audit record or outcome for {args.ticket_id}")
        return 1
    if args.json:
        print(json.dumps({"audit": [a.model_dump(mode="json") for a in audits],
                          "outcomes": [o.model_dump(mode="json") for o in outcomes]}, ensure_ascii=False))  # fmt: skip
        return 0
    for a in audits:
        print("\n".join(journey_lines(a)))
    if len(outcomes) > 1:
        print(f"  note: {len(outcomes)} outcome records (redeliveries); consumers dedupe by ticket id")
    return 0


def add_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser("audit", help="reconstruct one ticket's journey (audit, outcome)")
    p.add_argument(
        "ticket_id", metavar="TICKET_ID", help="the ticket id, as `run` and `demo --json` print it"
    )
    add_broker_option(p)
    p.add_argument("--json", action="store_true", help="print one JSON object: audit records and outcomes")
    p.set_defaults(func=cmd_audit)
