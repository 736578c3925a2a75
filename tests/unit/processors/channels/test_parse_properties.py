"""Property: whatever bytes arrive on whatever channel, parse_event returns tickets or raises a
SupportflowError subclass, never anything else (a crash would kill the stream worker)."""

from __future__ import annotations

import json
import random

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from supportflow.connectors.ingress import events_from_path
from supportflow.data import data_path
from supportflow.processors.channels import TICKET_CONTENT_TYPE, count_messages, parse_event
from supportflow.processors.channels.parse import handlers_for
from supportflow.schemas.errors import PermanentError, SupportflowError
from supportflow.schemas.models import Channel, InboundEvent

CONTENT_TYPES = st.sampled_from(["application/json", "message/rfc822", TICKET_CONTENT_TYPE])

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda children: (
        st.lists(children, max_size=4)
        | st.dictionaries(
            st.sampled_from(
                [
                    "type",
                    "text",
                    "object",
                    "entry",
                    "changes",
                    "value",
                    "messages",
                    "from",
                    "id",
                    "session_id",
                    "message_id",
                    "customer",
                    "email",
                    "channel",
                    "body",
                    "statuses",
                ]
            ),
            children,
            max_size=5,
        )
    ),
    max_leaves=15,
)


def check(channel: Channel, payload: bytes, content_type: str) -> None:
    event = InboundEvent(
        event_id="e", channel=channel, received_at_ms=0, payload=payload, content_type=content_type
    )
    try:
        tickets = parse_event(event, 1)
    except PermanentError:
        pass
    else:
        assert all(t.text.strip() for t in tickets)
    assert count_messages(event) >= 0


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(channel=st.sampled_from(list(Channel)), payload=st.binary(max_size=400), content_type=CONTENT_TYPES)
def test_parse_event_arbitrary_bytes_raise_only_permanent_errors(
    channel: Channel, payload: bytes, content_type: str
) -> None:
    check(channel, payload, content_type)


@settings(max_examples=150, deadline=None)
@given(channel=st.sampled_from(list(Channel)), value=json_values, content_type=CONTENT_TYPES)
def test_parse_event_arbitrary_json_raises_only_permanent_errors(
    channel: Channel, value: object, content_type: str
) -> None:
    check(channel, json.dumps(value).encode(), content_type)


@settings(max_examples=100, deadline=None)
@given(headers=st.text(max_size=200), body=st.binary(max_size=200))
def test_parse_event_mangled_email_raises_only_permanent_errors(headers: str, body: bytes) -> None:
    payload = b"From: a@example.com\r\n" + headers.encode("utf-8", "surrogatepass") + b"\r\n\r\n" + body
    check(Channel.EMAIL, payload, "message/rfc822")


def _mutate(rng: random.Random, payload: bytes) -> bytes:
    data = bytearray(payload)
    for _ in range(rng.randint(1, 4)):
        at = rng.randrange(len(data)) if data else 0
        roll = rng.random()
        if roll < 0.4 and data:
            data[at] = rng.randrange(256)
        elif roll < 0.7 and data:
            del data[at : at + rng.randint(1, 30)]
        else:
            data[at:at] = rng.choice(
                [
                    b'"',
                    b"{",
                    b"]",
                    b"null",
                    b"1e999",
                    b"\n",
                    b"\xff",
                    b"=?utf-8?b?",
                    b"\r\n\r\n",
                    b"--",
                    b"\x00",
                    b"charset=x\x00",
                ]
            )
    return bytes(data)


def test_channel_parsers_on_mutated_samples_raise_only_supportflow_errors() -> None:
    """Unwrapped parsers (no catch-all) on seeded byte-level mutations of every bundled sample: the
    catch-all in parse_event must be a safety net, not the thing that handles realistic corruption."""
    rng = random.Random(20261124)
    unexpected: list[str] = []
    for event in events_from_path(data_path("samples"), now_ms=0):
        for _ in range(40):
            mutated = event.model_copy(update={"payload": _mutate(rng, event.payload)})
            parser, counter = handlers_for(mutated)
            try:
                parser(mutated, 1)
            except SupportflowError:
                pass
            except Exception as exc:
                unexpected.append(f"{event.source}: {type(exc).__name__}: {exc}")
            try:
                counter(mutated)
            except SupportflowError:
                pass
            except Exception as exc:
                unexpected.append(f"{event.source} (count): {type(exc).__name__}: {exc}")
    assert unexpected == []
