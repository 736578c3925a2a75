"""Which channel a JSON payload comes from, read from its bytes: for events that arrive without one
(files, ``.jsonl`` lines, dead letters replayed with a fixed payload)."""

from __future__ import annotations

from typing import Any

import orjson

from supportflow.processors.channels.common import channel_from_name
from supportflow.processors.channels.whatsapp import WEBHOOK_OBJECT
from supportflow.schemas.models import Channel


def _loads(raw: bytes) -> Any:
    try:
        return orjson.loads(raw)
    except orjson.JSONDecodeError:
        return None


def sniff_line_channel(line: bytes) -> Channel | None:
    """The channel a ``.jsonl`` line names; None when the line is not a JSON object."""
    data = _loads(line)
    if not isinstance(data, dict):
        return None
    # A line naming an unknown channel stays "api"; the parser then rejects it with a clear message.
    return channel_from_name(data.get("channel")) or Channel.API


def sniff_json_channel(raw: bytes) -> Channel | None:
    """WhatsApp envelope, chat webhook or generic API ticket; None when the bytes are not JSON."""
    data = _loads(raw)
    if data is None:
        return None
    if isinstance(data, dict):
        if data.get("object") == WEBHOOK_OBJECT:
            return Channel.WHATSAPP
        if "session_id" in data and ("type" in data or "message_id" in data):
            return Channel.CHAT
    return Channel.API
