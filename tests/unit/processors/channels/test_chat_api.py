"""Chat webhook and generic API ticket parsing, plus dispatch-level guarantees."""

from __future__ import annotations

import json
from typing import Any

import pytest

from supportflow.processors.channels import TICKET_CONTENT_TYPE, count_fates, count_messages, parse_event
from supportflow.processors.channels.common import ticket_id_for
from supportflow.schemas.errors import InvalidInputError, SchemaError
from supportflow.schemas.models import Channel, InboundEvent

NOW = 1_795_000_000_000


def event(channel: Channel, payload: Any, content_type: str = "application/json") -> InboundEvent:
    raw = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
    return InboundEvent(
        event_id="e",
        channel=channel,
        received_at_ms=NOW - 1,
        payload=raw,
        content_type=content_type,
        source="test",
    )


def chat(**overrides: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "type": "message",
        "session_id": "chs_1",
        "message_id": "msg_1",
        "sent_at": "2026-11-23T14:05:00Z",
        "customer": {"id": "cus_0014", "email": "Noah.Patel@Example.com", "name": "Noah Patel"},
        "text": "  where's my order?  ",
    }
    body.update(overrides)
    return body


def test_chat_message_maps_fields() -> None:
    [ticket] = parse_event(event(Channel.CHAT, chat()), NOW)
    assert ticket.channel is Channel.CHAT
    assert ticket.sender == "noah.patel@example.com"
    assert ticket.customer_id == "cus_0014"
    assert ticket.customer_name == "Noah Patel"
    assert ticket.text == "where's my order?"
    assert ticket.received_at_ms == 1795442700000
    assert ticket.metadata == {"message_id": "msg_1", "session_id": "chs_1"}
    assert ticket.is_reply is False


def test_chat_same_session_same_conversation_different_tickets() -> None:
    [a] = parse_event(event(Channel.CHAT, chat()), NOW)
    [b] = parse_event(event(Channel.CHAT, chat(message_id="msg_2", sequence=2)), NOW)
    [a_again] = parse_event(event(Channel.CHAT, chat()), NOW)
    assert a.conversation_id == b.conversation_id
    assert a.ticket_id != b.ticket_id and a.ticket_id == a_again.ticket_id
    assert b.is_reply is True


def test_chat_lifecycle_event_yields_no_ticket() -> None:
    typing = event(Channel.CHAT, {"type": "typing", "session_id": "chs_1"})
    assert parse_event(typing, NOW) == []
    assert count_messages(typing) == 0


@pytest.mark.parametrize("text", ["", "   \n\t", None])
def test_chat_empty_text_is_invalid_input(text: str | None) -> None:
    with pytest.raises(InvalidInputError, match="no text"):
        parse_event(event(Channel.CHAT, chat(text=text)), NOW)


@pytest.mark.parametrize(
    "payload, message",
    [
        (b'{"type": "message", "text": "hi"', "not valid JSON"),
        (b"[1, 2]", "must be a JSON object"),
        (b"", "empty"),
        (chat(type="sticker"), "unsupported chat event type"),
        (chat(session_id=None), "session_id"),
        (chat(customer={}), "no customer identity"),
        (chat(text=42), "text"),
        ({"session_id": "x"}, "no string 'type'"),
    ],
)
def test_chat_bad_shapes_are_schema_errors(payload: Any, message: str) -> None:
    with pytest.raises(SchemaError, match=message):
        parse_event(event(Channel.CHAT, payload), NOW)


def test_json_invalid_utf8_is_invalid_input() -> None:
    with pytest.raises(InvalidInputError, match="not valid UTF-8"):
        parse_event(event(Channel.CHAT, b'{"type": "message", "text": "\xff\xfe"}'), NOW)


def test_json_with_utf8_bom_is_accepted() -> None:
    raw = b"\xef\xbb\xbf" + json.dumps(chat()).encode()
    assert len(parse_event(event(Channel.CHAT, raw), NOW)) == 1


def api(**overrides: Any) -> dict[str, Any]:
    body: dict[str, Any] = {"ticket_id": "api-1", "email": "grace.kim@example.com", "text": "refund please"}
    body.update(overrides)
    return body


def test_api_ticket_maps_fields_and_defaults() -> None:
    [ticket] = parse_event(
        event(
            Channel.API,
            api(
                name="Grace Kim",
                subject=" Refund ",
                customer_id="cus_0009",
                created_at="2026-11-21T10:00:00+00:00",
            ),
        ),
        NOW,
    )
    assert ticket.channel is Channel.API
    assert (ticket.sender, ticket.customer_id, ticket.customer_name) == (
        "grace.kim@example.com",
        "cus_0009",
        "Grace Kim",
    )
    assert ticket.subject == "Refund"
    # Without a client conversation id, the conversation is the client's ticket id's own thread.
    assert ticket.conversation_id == "conv_" + ticket_id_for("api", "api-1")[4:]
    assert ticket.is_reply is False
    assert ticket.received_at_ms == 1795255200000


def test_api_phone_is_normalized_to_e164() -> None:
    [ticket] = parse_event(event(Channel.API, {"id": 7, "phone": "(425) 555-0139", "text": "hi"}), NOW)
    assert ticket.sender == "+14255550139"


def test_api_given_conversation_id_is_kept_and_marks_reply() -> None:
    [ticket] = parse_event(event(Channel.API, api(conversation_id="crm-thread-9")), NOW)
    assert ticket.conversation_id == "crm-thread-9" and ticket.is_reply


def test_api_named_channel_sets_ticket_channel() -> None:
    [ticket] = parse_event(event(Channel.WHATSAPP, api(channel="whatsapp"), TICKET_CONTENT_TYPE), NOW)
    assert ticket.channel is Channel.WHATSAPP


def test_api_array_payload_yields_one_ticket_each() -> None:
    batch = event(Channel.API, [api(ticket_id="a"), api(ticket_id="b")])
    assert [t.metadata["source_id"] for t in parse_event(batch, NOW)] == ["a", "b"]
    assert count_messages(batch) == 2


def test_api_without_id_uses_content_hash_deterministically() -> None:
    body = {"email": "a@example.com", "text": "x"}
    [a] = parse_event(event(Channel.API, body), NOW)
    [b] = parse_event(event(Channel.API, dict(reversed(body.items()))), NOW)
    assert a.ticket_id == b.ticket_id and a.metadata["id_source"] == "content-hash"


@pytest.mark.parametrize(
    "payload, error, message",
    [
        (api(channel="fax"), InvalidInputError, "unknown channel 'fax'"),
        (api(text=""), InvalidInputError, "no text"),
        ({"ticket_id": "x", "text": "who am i"}, SchemaError, "'email', 'phone' or 'customer_id'"),
        (api(email="not-an-email"), SchemaError, "invalid email"),
        (api(phone="12"), SchemaError, "invalid phone"),
        (api(attachments="nope"), SchemaError, "attachments"),
        ([], InvalidInputError, "empty list"),
        ([api(), "text"], SchemaError, "#1 must be a JSON object"),
        (b"not json at all", SchemaError, "not valid JSON"),
    ],
)
def test_api_bad_input_raises_documented_error(payload: Any, error: type[Exception], message: str) -> None:
    with pytest.raises(error, match=message):
        parse_event(event(Channel.API, payload), NOW)


def test_api_unreadable_created_at_falls_back_to_receive_time() -> None:
    [ticket] = parse_event(event(Channel.API, api(created_at="last tuesday")), NOW)
    assert ticket.received_at_ms == NOW - 1


def test_parse_event_size_limit_applies_to_every_channel() -> None:
    big = event(Channel.API, api(text="x" * 3000))
    with pytest.raises(InvalidInputError, match=r"api event is \d+ bytes, over the 1024-byte limit"):
        parse_event(big, NOW, max_body_bytes=1024)
    assert len(parse_event(big, NOW)) == 1  # default limit (256 kB) accepts it


def test_count_messages_is_one_for_undecodable_payloads() -> None:
    for channel in Channel:
        assert count_messages(event(channel, b"\xff{not json")) == 1


@pytest.mark.parametrize("created_at", [1e300, 10**30, "99999999999999999999999", -5])
def test_parse_timestamp_out_of_range_falls_back(created_at):
    from supportflow.processors.channels.common import parse_timestamp_ms

    assert parse_timestamp_ms(created_at, 1234) == 1234


def test_api_reused_ticket_id_with_different_text_is_a_new_message_of_the_same_conversation() -> None:
    [first] = parse_event(event(Channel.API, api(text="where is my order?")), NOW)
    [again] = parse_event(event(Channel.API, api(text="where is my order?")), NOW + 5_000)
    [reused] = parse_event(event(Channel.API, api(text="cancel my account and delete all my data")), NOW)
    assert again.ticket_id == first.ticket_id  # a redelivery: deduplicated downstream
    assert reused.ticket_id != first.ticket_id  # new content: its own decision, never suppressed
    assert reused.conversation_id == first.conversation_id
    assert reused.metadata["source_id"] == first.metadata["source_id"] == "api-1"


def test_api_same_ticket_id_from_another_sender_is_a_different_message() -> None:
    [grace] = parse_event(event(Channel.API, api()), NOW)
    [mallory] = parse_event(event(Channel.API, api(email="mallory@evil.example")), NOW)
    assert grace.ticket_id != mallory.ticket_id


@pytest.mark.parametrize(
    "change",
    [
        {"session_id": "chs_2"},  # a platform that numbers messages per session
        {"attachments": [{"filename": "a.pdf", "content_type": "application/pdf", "size_bytes": 2}]},
        {"customer": {"id": "cus_0015", "email": "Noah.Patel@Example.com", "name": "Noah Patel"}},
    ],
)
def test_chat_reused_message_id_anything_else_different_is_a_new_message(change: dict[str, Any]) -> None:
    [first] = parse_event(event(Channel.CHAT, chat()), NOW)
    [other] = parse_event(event(Channel.CHAT, chat(**change)), NOW)
    assert other.ticket_id != first.ticket_id


def test_chat_redelivery_with_other_times_or_unicode_form_is_the_same_message() -> None:
    [first] = parse_event(event(Channel.CHAT, chat(text="Où est ma commande ?")), NOW)
    [again] = parse_event(event(Channel.CHAT, chat(text="Ou\u0300 est ma commande ?")), NOW + 60_000)
    assert again.ticket_id == first.ticket_id


def test_api_reused_ticket_id_other_conversation_is_a_new_message() -> None:
    [first] = parse_event(event(Channel.API, api()), NOW)
    [other] = parse_event(event(Channel.API, api(conversation_id="thread-9")), NOW)
    assert other.ticket_id != first.ticket_id


def test_chat_reused_message_id_with_different_text_is_a_new_message() -> None:
    [first] = parse_event(event(Channel.CHAT, chat(text="where is my order?")), NOW)
    [again] = parse_event(event(Channel.CHAT, chat(text="where is my order?")), NOW)
    [reused] = parse_event(event(Channel.CHAT, chat(text="cancel my account and delete all my data")), NOW)
    assert again.ticket_id == first.ticket_id
    assert reused.ticket_id != first.ticket_id
    assert reused.conversation_id == first.conversation_id


@pytest.mark.parametrize(
    ("payloads", "fates"),
    [
        ([[1, 2, 3]], 1),  # one bad event: one dead letter, not three
        ([[{"ticket_id": "a", "email": "a@example.com", "text": "hi"}, 2]], 1),
        ([[{"ticket_id": f"t{i}", "email": "a@example.com", "text": "hi"} for i in range(3)]], 3),
        ([{"ticket_id": "a", "email": "a@example.com", "text": "hi"}] * 2, 1),  # a redelivery: one fate
        ([{"ticket_id": "a", "email": "a@example.com", "text": t} for t in ("hi", "bye")], 2),
    ],
)
def test_count_fates_api_events_counted_as_the_pipeline_decides_them(payloads: list[Any], fates: int) -> None:
    assert count_fates([event(Channel.API, json.dumps(p).encode()) for p in payloads]) == fates
