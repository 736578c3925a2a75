"""Routing by language: the route stage itself (hard rules, encoders, routers, bands) over labelled
tickets in several languages, scored per language.

Input is a CSV with ``text,label,language`` (``oos`` marks out-of-scope rows); the shipped dev set is
``supportflow/data/router/dev_multilingual.csv``. Tickets run through ``route_batch`` with the deployment's
settings, so what is measured is what a worker decides: with the default MiniLM encoder, non-English
tickets go to the multilingual router (``settings.multilingual_router``).
"""

from __future__ import annotations

import csv
from collections import defaultdict
from dataclasses import asdict, dataclass, field
from pathlib import Path

from supportflow.processors.route import RouteContext, route_batch
from supportflow.schemas.errors import InvalidInputError
from supportflow.schemas.models import Band, Channel, PipelineRecord, Ticket

OOS = "oos"


@dataclass(frozen=True)
class LabelledTicket:
    text: str
    label: str
    language: str


@dataclass
class LanguageScore:
    """Counts for one language (or ``all``); the rates are derived in :meth:`as_dict`."""

    rows: int = 0
    right: int = 0
    in_scope: int = 0
    in_scope_right: int = 0
    in_scope_as_oos: int = 0
    oos: int = 0
    oos_caught: int = 0
    auto: int = 0
    auto_right: int = 0
    routers: dict[str, int] = field(default_factory=dict)

    def add(self, case: LabelledTicket, intent: str, band: Band, router: str) -> None:
        right = intent == case.label
        self.rows += 1
        self.right += right
        if case.label == OOS:
            self.oos += 1
            self.oos_caught += intent == OOS
        else:
            self.in_scope += 1
            self.in_scope_right += right
            self.in_scope_as_oos += intent == OOS
        if band is Band.AUTO:
            self.auto += 1
            self.auto_right += right
        self.routers[router] = self.routers.get(router, 0) + 1

    def as_dict(self) -> dict[str, object]:
        def rate(n: int, d: int) -> float | None:
            return round(n / d, 4) if d else None

        return {
            **asdict(self),
            "accuracy": rate(self.right, self.rows),
            "in_scope_accuracy": rate(self.in_scope_right, self.in_scope),
            "in_scope_as_oos_rate": rate(self.in_scope_as_oos, self.in_scope),
            "oos_recall": rate(self.oos_caught, self.oos),
            "auto_precision": rate(self.auto_right, self.auto),
        }


def load_cases(path: Path) -> list[LabelledTicket]:
    """Rows of a ``text,label,language`` CSV; a clear error when a column is missing or a row is empty."""
    try:
        with path.open(encoding="utf-8", newline="") as f:
            reader = csv.DictReader(f)
            missing = {"text", "label", "language"} - set(reader.fieldnames or ())
            if missing:
                raise InvalidInputError(
                    f"{path}: missing column(s) {', '.join(sorted(missing))} (need text,label,language)"
                )
            cases = [
                LabelledTicket(row["text"].strip(), row["label"].strip(), row["language"].strip() or "en")
                for row in reader
            ]
    except OSError as exc:
        raise InvalidInputError(f"{path}: cannot read ({exc.strerror or exc})") from exc
    if not cases or any(not c.text or not c.label for c in cases):
        raise InvalidInputError(f"{path}: every row needs a text and a label")
    return cases


def _record(i: int, case: LabelledTicket) -> PipelineRecord:
    ticket = Ticket(
        ticket_id=f"lang-{i}", conversation_id=f"lang-{i}", channel=Channel.API, sender="",
        text=case.text, received_at_ms=0, ingested_at_ms=0, trace_id=f"lang-{i}",
    )  # fmt: skip
    return PipelineRecord(ticket=ticket)


def score_languages(cases: list[LabelledTicket], ctx: RouteContext) -> dict[str, LanguageScore]:
    """Per language and ``all``: accuracy, in-scope accuracy, in-scope read as oos, oos recall, the auto
    band's size and precision, and which router decided how many rows."""
    routed = route_batch([_record(i, c) for i, c in enumerate(cases)], ctx)
    scores: dict[str, LanguageScore] = defaultdict(LanguageScore)
    for case, record in zip(cases, routed, strict=True):
        route = record.route
        assert route is not None, "route_batch decides every record"
        for key in (case.language, "all"):
            scores[key].add(case, route.intent, route.band, route.model)
    return dict(sorted(scores.items(), key=lambda kv: (kv[0] == "all", kv[0])))
