"""Channels: every channel's raw payload -> the one normalized :class:`~supportflow.schemas.models.Ticket`.

Pure functions of the event's bytes (no I/O). ``parse_event`` is the pipeline's entry point;
``count_messages`` counts the customer messages a raw event holds and ``count_fates`` the outcomes and
dead letters the pipeline gives it; ``sniff_json_channel`` tells which channel a JSON payload comes
from. Reading files and folders into events is connectors/ingress (the I/O side).
Formats are documented in docs/ingress.md.
"""

from supportflow.processors.channels.common import EMAIL_CONTENT_TYPE, JSON_CONTENT_TYPE, TICKET_CONTENT_TYPE
from supportflow.processors.channels.parse import (
    DEFAULT_MAX_BODY_BYTES,
    count_fates,
    count_messages,
    expected_fates,
    parse_event,
)
from supportflow.processors.channels.sniff import sniff_json_channel

__all__ = [
    "DEFAULT_MAX_BODY_BYTES",
    "EMAIL_CONTENT_TYPE",
    "JSON_CONTENT_TYPE",
    "TICKET_CONTENT_TYPE",
    "count_fates",
    "count_messages",
    "expected_fates",
    "parse_event",
    "sniff_json_channel",
]
