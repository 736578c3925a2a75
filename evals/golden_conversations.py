"""Golden conversations: multi-message threads, each customer message with the decision expected for it.

A conversation is one customer writing several messages on one channel (``conversations.yaml``,
format in ``supportflow/data/golden/README.md``). Every turn is rendered into its channel's real wire
format with the thread linking that channel really uses (email ``References``/``In-Reply-To``, one chat
``session_id`` with a rising ``sequence``, WhatsApp ``context.id``, the API's ``conversation_id``), with
ids derived from the conversation id and turn number so the pipeline's ticket ids are known before
anything is published. Messages are dated when they are published; a burst's pieces are published
``gap_s`` apart in real time.

Publishing goes in waves (:func:`publish_steps`): the first step of every conversation, then, once
all of those are decided, the second step of every conversation, and so on, because what the pipeline
decides for a message depends on what it decided before. A step is one message, or a burst: chat or
WhatsApp messages at most ``BURST_MAX_GAP_S`` apart, which arrive back to back in one wave.
"""

from __future__ import annotations

import functools
import json
import re
import time
from collections import Counter
from collections.abc import Iterator
from email import policy as email_policy
from email.parser import BytesParser
from pathlib import Path

import orjson
import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from supportflow.data import data_path
from supportflow.evals.golden import (
    MESSAGE_ID_DOMAIN,
    WHATSAPP_BUSINESS_NUMBER,
    GoldenCase,
    GoldenTicket,
    default_set_path,
    load_golden,
    render_event,
)
from supportflow.processors.channels.parse import parse_event
from supportflow.schemas.errors import InvalidInputError
from supportflow.schemas.models import Band, Channel, Decision, InboundEvent

#: Seconds between messages when a turn does not say (a customer reading an answer and writing back).
DEFAULT_GAP_S = 600.0
#: Chat and WhatsApp messages at most this far apart form a burst, published in one wave.
BURST_MAX_GAP_S = 10.0
BURST_CHANNELS = frozenset({Channel.CHAT, Channel.WHATSAPP})
_ORDER_ID = re.compile(r"\bNW-\d{6}\b")
_CUSTOMER_ID = re.compile(r"^cus_\d{4}$")
_REASON = re.compile(r"^[a-z_]+:[A-Za-z0-9_:.>=-]+$")


class Turn(BaseModel):
    """One customer message and what a support lead expects the pipeline to do with it."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    text: str = Field(min_length=1)
    gap_s: float | None = Field(None, ge=0)
    sender: str | None = None
    decision: Decision | None = None
    band: Band | None = None
    intent: str | None = None
    reasons_include: list[str] = []
    reasons_exclude: list[str] = []
    facts: list[str] = []
    articles: list[str] | None = None

    @model_validator(mode="after")
    def _one_expectation(self) -> Turn:
        if (self.decision is None) == (self.band is None):
            raise ValueError("a turn needs exactly one of 'decision' and 'band'")
        for reason in self.reasons_include + self.reasons_exclude:
            if not _REASON.match(reason):
                raise ValueError(f"reason {reason!r} is not of the form 'kind:name'")
        return self

    @property
    def expected_decision(self) -> Decision:
        if self.decision is not None:
            return self.decision
        return {Band.AUTO: Decision.AUTO_RESOLVED, Band.SUGGEST: Decision.SUGGESTED,
                Band.ESCALATE: Decision.ESCALATED}[self.band or Band.SUGGEST]  # fmt: skip


class Conversation(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    id: str = Field(min_length=1, pattern=r"^[A-Za-z0-9_.-]+$")
    customer: str
    channel: Channel
    subject: str = ""
    tags: list[str] = []
    turns: list[Turn] = Field(min_length=2, max_length=6)

    def turn_id(self, k: int) -> str:
        """Source id of turn ``k`` (1-based): message id, chat message id, WhatsApp id suffix, API id."""
        return f"{self.id}-t{k}"

    def gap_s(self, k: int) -> float:
        gap = self.turns[k - 1].gap_s
        return 0.0 if k == 1 else DEFAULT_GAP_S if gap is None else gap

    def sender_of(self, k: int) -> str:
        return self.turns[k - 1].sender or self.customer

    def expected_turn(self, k: int) -> int:
        """1-based position among this sender's messages: another sender in the thread starts afresh."""
        sender = self.sender_of(k)
        return sum(self.sender_of(j) == sender for j in range(1, k + 1))

    def in_burst_with_previous(self, k: int) -> bool:
        return k > 1 and self.channel in BURST_CHANNELS and self.gap_s(k) <= BURST_MAX_GAP_S

    def steps(self) -> list[list[int]]:
        """Turn numbers grouped into steps: a message, or a burst of messages published together."""
        groups: list[list[int]] = []
        for k in range(1, len(self.turns) + 1):
            if groups and self.in_burst_with_previous(k):
                groups[-1].append(k)
            else:
                groups.append([k])
        return groups


# ------------------------------------------------------------------------------------------ loading


def default_conversations_path() -> Path:
    return data_path("golden", "conversations.yaml")


@functools.cache
def load_customers() -> tuple[dict[str, dict[str, object]], dict[str, str]]:
    """CRM fixture customers by id, and which customer each order id belongs to."""
    data = json.loads(data_path("crm", "customers.json").read_text(encoding="utf-8"))
    customers = {c["customer_id"]: c for c in data["customers"]}
    owners = {o["order_id"]: o["customer_id"] for o in data["orders"]}
    return customers, owners


@functools.cache
def default_articles() -> dict[str, list[str]]:
    """Per intent, the acceptable articles the golden set uses most often (its build script's list)."""
    votes: dict[str, Counter[tuple[str, ...]]] = {}
    for case in load_golden(default_set_path()):
        votes.setdefault(case.expected_intent, Counter())[tuple(case.expected_articles)] += 1
    return {intent: list(counter.most_common(1)[0][0]) for intent, counter in votes.items()}


def load_conversations(path: Path) -> list[Conversation]:
    """Parse and check a conversations YAML file; every problem names ``file:case``."""
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as exc:
        raise InvalidInputError(f"cannot read conversations {path}: {exc}") from exc
    if not isinstance(raw, list) or not raw:
        raise InvalidInputError(f"{path}: expected a non-empty list of conversations")
    customers, owners = load_customers()
    intents = set(default_articles())
    conversations: list[Conversation] = []
    seen: set[str] = set()
    for index, item in enumerate(raw, start=1):
        where = f"{path}:{item.get('id', f'#{index}') if isinstance(item, dict) else f'#{index}'}"
        try:
            conversation = Conversation.model_validate(item)
        except ValidationError as exc:
            raise InvalidInputError(f"{where}: not a conversation: {str(exc)[:400]}") from exc
        if conversation.id in seen:
            raise InvalidInputError(f"{where}: duplicate conversation id")
        _check(conversation, where, customers, owners, intents)
        seen.add(conversation.id)
        conversations.append(conversation)
    _check_whatsapp_threads(conversations, path)
    return conversations


def _check(
    conv: Conversation,
    where: str,
    customers: dict[str, dict[str, object]],
    owners: dict[str, str],
    intents: set[str],
) -> None:
    if conv.customer not in customers:
        raise InvalidInputError(f"{where}: customer {conv.customer} is not in the CRM fixture")
    if conv.turns[0].gap_s is not None:
        raise InvalidInputError(f"{where}: turn 1 has no previous message, so no gap_s")
    if conv.turns[0].sender is not None:
        raise InvalidInputError(f"{where}: turn 1 is the conversation's customer; sender is for later turns")
    for k, turn in enumerate(conv.turns, start=1):
        sender = conv.sender_of(k)
        if _CUSTOMER_ID.match(sender) and sender not in customers:
            raise InvalidInputError(f"{where}: turn {k}: sender {sender} is not in the CRM fixture")
        if not _CUSTOMER_ID.match(sender) and not ("@" in sender or sender.startswith("+")):
            raise InvalidInputError(f"{where}: turn {k}: sender must be a customer id, an email or a +phone")
        if turn.intent is not None and turn.intent not in intents:
            raise InvalidInputError(f"{where}: turn {k}: unknown intent {turn.intent!r}")
        if turn.expected_decision == Decision.AUTO_RESOLVED and turn.intent is None and turn.articles is None:
            raise InvalidInputError(
                f"{where}: turn {k}: an expected automatic answer needs intent or articles"
            )
        for order in _ORDER_ID.findall(turn.text):
            if owners.get(order) != sender:
                raise InvalidInputError(f"{where}: turn {k}: order {order} is not {sender}'s")


def _check_whatsapp_threads(conversations: list[Conversation], path: Path) -> None:
    """WhatsApp threads by phone number: two conversations from one number would be one thread."""
    owners: dict[str, str] = {}
    for conv in conversations:
        if conv.channel != Channel.WHATSAPP:
            continue
        for sender in {conv.sender_of(k) for k in range(1, len(conv.turns) + 1)}:
            if sender in owners and owners[sender] != conv.id:
                raise InvalidInputError(
                    f"{path}:{conv.id}: WhatsApp sender {sender} already writes in {owners[sender]}; "
                    "one number is one thread"
                )
            owners[sender] = conv.id


# ---------------------------------------------------------------------------------------- rendering


def turn_case(conv: Conversation, k: int) -> GoldenCase:
    """Turn ``k`` as a single golden case (the identity its channel carries), for the golden renderers."""
    turn = conv.turns[k - 1]
    return GoldenCase(
        id=conv.turn_id(k),
        channel=conv.channel,
        ticket=_ticket(conv.channel, conv.sender_of(k), turn.text, conv.subject),
        customer_id=conv.sender_of(k) if _CUSTOMER_ID.match(conv.sender_of(k)) else None,
        expected_intent=turn.intent or "oos",
        expected_band=turn.band or Band.SUGGEST,
    )


def _ticket(channel: Channel, sender: str, text: str, subject: str) -> GoldenTicket:
    if not _CUSTOMER_ID.match(sender):
        field = "email" if "@" in sender else "phone"
        return GoldenTicket.model_validate({"text": text, field: sender})
    customers, _ = load_customers()
    c = customers[sender]
    fields: dict[str, object] = {"text": text, "name": c["name"]}
    if subject and channel == Channel.EMAIL:
        fields["subject"] = subject
    if channel == Channel.WHATSAPP:
        fields["phone"] = c["phone"]
    else:
        fields["email"] = c["email"]
    if channel in (Channel.API, Channel.CHAT):
        fields["customer_id"] = sender
    return GoldenTicket.model_validate(fields)


def message_id(conv: Conversation, k: int) -> str:
    return f"{conv.turn_id(k)}@{MESSAGE_ID_DOMAIN}"


def wamid(conv: Conversation, k: int) -> str:
    return f"wamid.golden.{conv.turn_id(k)}"


def chat_session(conv: Conversation) -> str:
    return f"gs_{conv.id}"


def api_thread(conv: Conversation) -> str:
    return f"golden-{conv.id}"


def offsets_ms(conv: Conversation) -> list[int]:
    """Each turn's time after turn 1, in ms (the running sum of ``gap_s``)."""
    total, out = 0.0, []
    for k in range(1, len(conv.turns) + 1):
        total += conv.gap_s(k)
        out.append(int(total * 1000))
    return out


def render_turn(conv: Conversation, k: int, start_ms: int) -> InboundEvent:
    """Turn ``k`` on the wire, linked to its thread; its message time is ``start_ms`` + the gaps so far."""
    at_ms = start_ms + offsets_ms(conv)[k - 1]
    event = render_event(turn_case(conv, k), now_ms=at_ms)
    if conv.channel == Channel.EMAIL:
        payload = _thread_email(event.payload, conv, k)
    else:
        body = orjson.loads(event.payload)
        if conv.channel == Channel.CHAT:
            body.update(session_id=chat_session(conv), sequence=k)
        elif conv.channel == Channel.WHATSAPP and k > 1:
            message = body["entry"][0]["changes"][0]["value"]["messages"][0]
            message["context"] = {"from": WHATSAPP_BUSINESS_NUMBER, "id": wamid(conv, k - 1)}
        elif conv.channel == Channel.API:
            body.update(conversation_id=api_thread(conv), created_at=at_ms)
        payload = orjson.dumps(body)
    return event.model_copy(update={"payload": payload})


def _thread_email(raw: bytes, conv: Conversation, k: int) -> bytes:
    """A reply as mail clients write it: References = the thread so far, In-Reply-To = the last one."""
    if k == 1:
        return raw
    msg = BytesParser(policy=email_policy.default).parsebytes(raw)
    msg.replace_header("Subject", "Re: " + str(msg["Subject"]))
    msg["In-Reply-To"] = f"<{message_id(conv, k - 1)}>"
    msg["References"] = " ".join(f"<{message_id(conv, j)}>" for j in range(1, k))
    return msg.as_bytes()


def turn_ticket_id(conv: Conversation, k: int) -> str:
    """The ticket id the ingress parser assigns to turn ``k`` (message times do not enter it)."""
    return parse_event(render_turn(conv, k, 0), 0)[0].ticket_id


TurnRef = tuple[str, int]  # (conversation id, turn number)


class Wave:
    """Step w of every conversation that has one: a message, or a burst sent back to back."""

    def __init__(self, steps: list[tuple[Conversation, list[int]]]) -> None:
        self.steps = steps

    def events(self, live: bool = True) -> Iterator[tuple[TurnRef, InboundEvent]]:
        """The wave's messages, rendered as they are taken. ``live``: a burst's pieces come ``gap_s``
        apart in real time, each dated when it is taken, as a customer typing would send them (a
        burst's window runs from when its pieces were written, so they must arrive live). Earlier
        steps were decided before, so message times still increase along every conversation."""
        for conv, step in self.steps:
            offsets = offsets_ms(conv)
            sent: float | None = None
            for previous, k in zip([None, *step], step, strict=False):
                if live and sent is not None and previous is not None:
                    # From when the previous piece was actually taken, so no gap is ever shorter
                    # than the conversation says (rendering a piece takes time too).
                    time.sleep(
                        max(0.0, sent + (offsets[k - 1] - offsets[previous - 1]) / 1000 - time.monotonic())
                    )
                sent = time.monotonic()
                at_ms = int(time.time() * 1000)
                yield (conv.id, k), render_turn(conv, k, at_ms - offsets[k - 1])


def publish_steps(conversations: list[Conversation]) -> list[Wave]:
    """Waves to publish in order: wave w holds step w of every conversation that has one."""
    steps_by_wave: list[list[tuple[Conversation, list[int]]]] = []
    for conv in conversations:
        for w, step in enumerate(conv.steps()):
            if len(steps_by_wave) <= w:
                steps_by_wave.append([])
            steps_by_wave[w].append((conv, step))
    return [Wave(steps) for steps in steps_by_wave]


# ------------------------------------------------------------------------------------------ report


def _pct(value: object) -> str:
    return f"{value:.1%}" if isinstance(value, int | float) else "–"


def conversation_markdown(summary: dict[str, object]) -> str:
    """The ``conversations`` figures of a golden run as a Markdown section."""
    s = summary
    lines = [
        "## Conversations",
        "",
        f"{s['conversations']} conversations, {s['cases']} customer messages, {s['outcomes']} decided "
        f"({s['missing']} missing).",
        "",
        "| turn | messages | decision accuracy | reasons as expected | bad answers (of auto) | escalation recall |",
        "|---|---|---|---|---|---|",
    ]
    per_turn = s["per_turn"]
    assert isinstance(per_turn, dict)
    for bucket, row in [*per_turn.items(), ("all", s)]:
        lines.append(
            f"| {bucket} | {row['cases']} | {_pct(row['decision_accuracy'])} | {_pct(row['reasons_accuracy'])} "
            f"| {row['bad_answers']} of {row['auto_resolved']} | {_pct(row['escalation_recall'])} |"
        )
    lines += [
        "",
        f"- closed as expected: {_pct(s['closed_accuracy'])} of {s['closed_expected']}; closed when a "
        f"reply was due: {s['closed_when_not_expected']}",
        f"- reopen rate: {_pct(s['reopen_rate'])} ({s['reopened']} of {s['automatic_answers']} automatic "
        "answers were followed by 'that did not help' or the same question)",
        f"- bad answer rate {_pct(s['bad_answer_rate'])}, escalation precision "
        f"{_pct(s['escalation_precision'])}, intent accuracy {_pct(s['intent_accuracy'])}, turn numbers "
        f"right {_pct(s['turn_number_accuracy'])}",
    ]
    failures = s["failures"]
    assert isinstance(failures, list)
    if failures:
        lines += ["", "| message | expected | decided | problems |", "|---|---|---|---|"]
        lines += [
            f"| {f['id']} | {f['expected']} | {f['decided']} | {', '.join(f['problems']) or '–'} |"
            for f in failures[:40]
        ]
        if len(failures) > 40:
            lines.append(f"| ... {len(failures) - 40} more in `--json` | | | |")
    return "\n".join(lines)
