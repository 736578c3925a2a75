"""WhatsApp Cloud API webhooks: message types, batching, statuses, contacts, bad envelopes."""

from __future__ import annotations

import json
from typing import Any

import pytest

from supportflow.processors.channels import count_messages, parse_event
from supportflow.schemas.errors import InvalidInputError, SchemaError
from supportflow.schemas.models import Channel, InboundEvent

NOW = 1_795_000_000_000
WA_ID = "14155550101"


def webhook(
    messages: list[dict[str, Any]] | None = None,
    statuses: list[dict[str, Any]] | None = None,
    contacts: list[dict[str, Any]] | None = None,
) -> dict[str, Any]:
    value: dict[str, Any] = {
        "messaging_product": "whatsapp",
        "metadata": {"display_phone_number": "15550783881", "phone_number_id": "1065"},
    }
    if contacts is not None:
        value["contacts"] = contacts
    if messages is not None:
        value["messages"] = messages
    if statuses is not None:
        value["statuses"] = statuses
    return {
        "object": "whatsapp_business_account",
        "entry": [{"id": "WABA", "changes": [{"value": value, "field": "messages"}]}],
    }


def message(kind: str, body: dict[str, Any], wamid: str = "wamid.A1", sender: str = WA_ID) -> dict[str, Any]:
    return {"from": sender, "id": wamid, "timestamp": "1795500000", "type": kind, **body}


def event(payload: Any) -> InboundEvent:
    raw = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
    return InboundEvent(event_id="e", channel=Channel.WHATSAPP, received_at_ms=NOW, payload=raw, source="t")


MAYA = [{"profile": {"name": "Maya Thompson"}, "wa_id": WA_ID}]


def test_whatsapp_text_message_maps_fields() -> None:
    [t] = parse_event(
        event(webhook([message("text", {"text": {"body": "Where is my parka?"}})], contacts=MAYA)), NOW
    )
    assert t.channel is Channel.WHATSAPP
    assert t.sender == "+14155550101"
    assert t.customer_name == "Maya Thompson"
    assert t.text == "Where is my parka?"
    assert t.received_at_ms == 1795500000000
    assert t.metadata["message_id"] == "wamid.A1" and t.metadata["phone_number_id"] == "1065"
    assert t.is_reply is False


def test_whatsapp_ids_deterministic_and_conversation_is_the_phone() -> None:
    a = message("text", {"text": {"body": "one"}}, "wamid.1")
    b = message("text", {"text": {"body": "two"}}, "wamid.2")
    first = parse_event(event(webhook([a, b])), NOW)
    again = parse_event(event(webhook([a])), NOW)
    assert len(first) == 2
    assert first[0].conversation_id == first[1].conversation_id
    assert first[0].ticket_id != first[1].ticket_id
    assert again[0].ticket_id == first[0].ticket_id


def test_whatsapp_multiple_customers_in_one_webhook_get_own_conversations() -> None:
    hook = webhook(
        [
            message("text", {"text": {"body": "a"}}, "w1", "14155550101"),
            message("text", {"text": {"body": "b"}}, "w2", "12025550132"),
        ]
    )
    a, b = parse_event(event(hook), NOW)
    assert (a.sender, b.sender) == ("+14155550101", "+12025550132")
    assert a.conversation_id != b.conversation_id


def test_whatsapp_status_only_webhook_yields_nothing() -> None:
    hook = webhook(statuses=[{"id": "wamid.X", "status": "read", "timestamp": "1", "recipient_id": WA_ID}])
    assert parse_event(event(hook), NOW) == []
    assert count_messages(event(hook)) == 0


def test_whatsapp_button_reply_uses_title_and_marks_reply() -> None:
    msg = message(
        "interactive",
        {
            "interactive": {
                "type": "button_reply",
                "button_reply": {"id": "track", "title": "Track my order"},
            },
            "context": {"from": "15550783881", "id": "wamid.OURS"},
        },
    )
    [t] = parse_event(event(webhook([msg])), NOW)
    assert t.text == "Track my order"
    assert t.is_reply and t.metadata["in_reply_to"] == "wamid.OURS"
    assert t.metadata["interactive_type"] == "button_reply" and t.metadata["reply_id"] == "track"


def test_whatsapp_list_reply_joins_title_and_description() -> None:
    msg = message(
        "interactive",
        {
            "interactive": {
                "type": "list_reply",
                "list_reply": {"id": "r", "title": "Returns", "description": "Start a return"},
            }
        },
    )
    [t] = parse_event(event(webhook([msg])), NOW)
    assert t.text == "Returns\nStart a return"


def test_whatsapp_template_button_uses_button_text() -> None:
    [t] = parse_event(
        event(webhook([message("button", {"button": {"text": "Yes, cancel", "payload": "C1"}})])), NOW
    )
    assert t.text == "Yes, cancel" and t.metadata["button_payload"] == "C1"


@pytest.mark.parametrize("kind", ["image", "video", "document"])
def test_whatsapp_media_caption_is_text_and_media_is_attachment(kind: str) -> None:
    media = {"caption": "zipper broke", "mime_type": "image/jpeg", "id": "998"}
    [t] = parse_event(event(webhook([message(kind, {kind: media})])), NOW)
    assert t.text == "zipper broke"
    assert [(a.filename, a.content_type, a.size_bytes) for a in t.attachments] == [
        (f"{kind}-998", "image/jpeg", 0)
    ]


@pytest.mark.parametrize(
    "kind, body",
    [
        ("sticker", {"sticker": {"mime_type": "image/webp", "id": "1"}}),
        ("image", {"image": {"mime_type": "image/jpeg", "id": "2"}}),
        ("location", {"location": {"latitude": 1.0, "longitude": 2.0}}),
        ("unsupported", {"errors": [{"code": 131051}]}),
    ],
)
def test_whatsapp_message_without_text_is_invalid_input(kind: str, body: dict[str, Any]) -> None:
    with pytest.raises(InvalidInputError, match=f"type '{kind}' has no text or caption"):
        parse_event(event(webhook([message(kind, body)])), NOW)


def test_whatsapp_reaction_is_ignored_like_a_status() -> None:
    hook = webhook(
        [
            message("reaction", {"reaction": {"message_id": "wamid.OURS", "emoji": "👍"}}),
            message("text", {"text": {"body": "thanks, and my refund?"}}, "wamid.B"),
        ]
    )
    [t] = parse_event(event(hook), NOW)
    assert t.text == "thanks, and my refund?"
    assert count_messages(event(hook)) == 1


@pytest.mark.parametrize(
    "payload, message_part",
    [
        ({"object": "page", "entry": []}, "expected 'whatsapp_business_account'"),
        ({"object": "whatsapp_business_account", "entry": []}, "entry"),
        ({"object": "whatsapp_business_account", "entry": [{"id": "1"}]}, "changes"),
        (webhook(), "neither 'messages' nor 'statuses'"),
        (webhook([{"id": "w", "type": "text", "text": {"body": "no sender"}}]), "from"),
        (webhook([message("text", {"text": {"body": 5}})]), "body"),
        (b"[]", "must be a JSON object"),
        (webhook([message("text", {"text": {"body": "hi"}}, sender="anonymous")]), "no phone number"),
    ],
)
def test_whatsapp_bad_envelopes_are_schema_errors(payload: Any, message_part: str) -> None:
    with pytest.raises(SchemaError, match=message_part):
        parse_event(event(payload), NOW)


def test_whatsapp_bad_timestamp_falls_back_to_receive_time() -> None:
    msg = message("text", {"text": {"body": "hi"}})
    msg["timestamp"] = "yesterday"
    [t] = parse_event(event(webhook([msg])), NOW)
    assert t.received_at_ms == NOW
