"""events_from_path on files and folders, and every bundled sample through parse_event."""

from __future__ import annotations

import json
from pathlib import Path

from supportflow.connectors.ingress import events_from_path
from supportflow.connectors.ingress.samples import tally
from supportflow.data import data_path
from supportflow.processors.channels import (
    EMAIL_CONTENT_TYPE,
    TICKET_CONTENT_TYPE,
    count_messages,
    parse_event,
)
from supportflow.schemas.errors import PermanentError
from supportflow.schemas.models import Channel

SAMPLES = data_path("samples")
WHATSAPP = b'{"object": "whatsapp_business_account", "entry": []}'
CHAT = b'{"type": "message", "session_id": "s", "message_id": "m", "text": "hi"}'


def test_events_from_path_sniffs_json_channels_and_folders(tmp_path: Path) -> None:
    (tmp_path / "chat").mkdir()
    (tmp_path / "b_whatsapp.json").write_bytes(WHATSAPP)
    (tmp_path / "a_chat.json").write_bytes(CHAT)
    (tmp_path / "c_api.json").write_bytes(b'{"id": 1, "email": "a@b.co", "text": "x"}')
    (tmp_path / "chat" / "broken.json").write_bytes(b'{"type": "mess')
    (tmp_path / "broken_top.json").write_bytes(b"{")
    (tmp_path / "note.txt").write_text("ignored")
    (tmp_path / "expected.json").write_text("{}")
    events = {Path(e.source).name: e for e in events_from_path(tmp_path, now_ms=5)}
    assert sorted(events) == [
        "a_chat.json",
        "b_whatsapp.json",
        "broken.json",
        "broken_top.json",
        "c_api.json",
    ]
    assert events["b_whatsapp.json"].channel is Channel.WHATSAPP
    assert events["a_chat.json"].channel is Channel.CHAT
    assert events["c_api.json"].channel is Channel.API
    assert events["broken.json"].channel is Channel.CHAT  # from its folder, kept for the dead-letter topic
    assert events["broken.json"].payload == b'{"type": "mess'
    assert events["broken_top.json"].channel is Channel.API
    assert all(e.received_at_ms == 5 for e in events.values())


def test_events_from_path_jsonl_one_event_per_nonempty_line(tmp_path: Path) -> None:
    file = tmp_path / "t.jsonl"
    file.write_text(
        '{"id": 1, "text": "a"}\n\n{"id": 2, "channel": "whatsapp"}\n{"channel": "fax"}\nnot json\n'
    )
    events = list(events_from_path(file))
    assert [e.source.rsplit(":", 1)[1] for e in events] == ["1", "3", "4", "5"]
    assert [e.channel for e in events] == [Channel.API, Channel.WHATSAPP, Channel.API, Channel.API]
    assert {e.content_type for e in events} == {TICKET_CONTENT_TYPE}


def test_events_from_path_ids_are_stable_and_distinct(tmp_path: Path) -> None:
    (tmp_path / "x.eml").write_bytes(b"From: a@b.co\n\nhi")
    (tmp_path / "t.jsonl").write_text('{"a": 1}\n{"a": 2}\n')
    first = [e.event_id for e in events_from_path(tmp_path)]
    assert first == [e.event_id for e in events_from_path(tmp_path)]
    assert len(set(first)) == 3
    eml = next(e for e in events_from_path(tmp_path) if e.channel is Channel.EMAIL)
    assert eml.content_type == EMAIL_CONTENT_TYPE


def test_bundled_samples_match_expected_tally() -> None:
    expected = json.loads((SAMPLES / "expected.json").read_text())
    assert tally(SAMPLES) == expected
    assert expected["valid_messages"] >= 70 and expected["malformed_messages"] >= 5


def test_bundled_samples_parse_or_fail_only_with_documented_errors() -> None:
    seen_channels = set()
    for event in events_from_path(SAMPLES, now_ms=1):
        try:
            tickets = parse_event(event, 2)
        except PermanentError as exc:
            assert "malformed" in event.source or ":" in event.source, f"{event.source}: {exc}"
            assert count_messages(event) >= 1
            continue
        assert len(tickets) == count_messages(event), event.source
        for ticket in tickets:
            assert ticket.text.strip() and ticket.sender
            seen_channels.add(ticket.channel)
    assert seen_channels == set(Channel)


def test_bundled_email_reply_threads_to_its_original() -> None:
    by_name = {}
    for event in events_from_path(SAMPLES / "email", now_ms=1):
        if "malformed" not in event.source:
            by_name[Path(event.source).name[:3]] = parse_event(event, 1)[0]
    assert by_name["e02"].conversation_id == by_name["e01"].conversation_id
    assert by_name["e02"].is_reply and not by_name["e01"].is_reply


def test_bundled_samples_stay_small() -> None:
    total = sum(p.stat().st_size for p in SAMPLES.rglob("*") if p.is_file())
    assert total < 1_000_000
