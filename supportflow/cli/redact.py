"""``supportflow redact``: redact lines from stdin the way the pipeline does before any model, log or audit.

Check your own data: ``supportflow redact < tickets.txt`` prints each line redacted; ``--json`` prints
one object per line, ``{"text": ..., "found": {...}, "spans": [{"start", "end", "kind"}]}``, with the
spans as character offsets in the ORIGINAL line (what was replaced). The original is never printed.
National ids and extra patterns come from the settings (``SUPPORTFLOW_REDACTION__*``).
"""

from __future__ import annotations

import argparse
import io
import json
import os
import sys
from typing import TextIO

from supportflow.console import err


def run(lines: TextIO, out: TextIO, as_json: bool, known: list[str]) -> None:
    """Redact every line of ``lines`` to ``out``."""
    from supportflow.processors.redact import redact  # lazy: phonenumbers is slow to import

    for raw in lines:
        result = redact(raw.removesuffix("\n").removesuffix("\r"), known)
        if as_json:
            spans = [{"start": s, "end": e, "kind": k} for s, e, k in result.spans]
            record = {"text": result.text, "found": result.found, "spans": spans}
            out.write(json.dumps(record, ensure_ascii=False) + "\n")
        else:
            out.write(result.text + "\n")
        out.flush()


def known_values(args: argparse.Namespace) -> list[str]:
    """``--known`` values as given, plus what the pipeline derives from a CRM customer's fields."""
    known = list(args.known or [])
    if args.customer_name or args.customer_email or args.customer_phone:
        from supportflow.processors.redact import redact_customer_terms
        from supportflow.schemas.models import CustomerContext

        customer = CustomerContext(
            customer_id="cli", name=args.customer_name or "", email=args.customer_email or "",
            phone=args.customer_phone or "",
        )  # fmt: skip
        known += redact_customer_terms(customer)
    return known


def cmd_redact(args: argparse.Namespace) -> int:
    from pydantic import ValidationError

    from supportflow.settings import get_settings

    try:
        get_settings()
    except ValidationError as exc:
        err(f"redact: invalid settings (check SUPPORTFLOW_REDACTION__*): {exc}")
        return 2
    if sys.stdin.isatty():
        err("redact: reading lines from stdin (Ctrl-D to end); e.g. supportflow redact < tickets.txt")
    if isinstance(sys.stdin, io.TextIOWrapper):
        sys.stdin.reconfigure(errors="replace")  # an undecodable byte must not stop the run
    try:
        run(sys.stdin, sys.stdout, args.json, known_values(args))
    except BrokenPipeError:  # `supportflow redact < big.txt | head`: stop quietly
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0
    except KeyboardInterrupt:
        return 130
    return 0


def add_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser(
        "redact",
        help="redact PII in lines from stdin (check your own data)",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
        allow_abbrev=False,
    )
    p.add_argument("--json", action="store_true", help="one JSON object per line: text, found, spans")
    p.add_argument(
        "--known",
        action="append",
        metavar="VALUE",
        help="a value the CRM knows about the customer (name, email, phone), redacted wherever it "
        "appears as written; repeat for more",
    )
    p.add_argument("--customer-name", metavar="NAME", help="CRM name: full name and parts of 3+ characters")
    p.add_argument("--customer-email", metavar="EMAIL", help="CRM email")
    p.add_argument("--customer-phone", metavar="PHONE", help="CRM phone, in the forms a customer types it")
    p.set_defaults(func=cmd_redact, _parser=p)
