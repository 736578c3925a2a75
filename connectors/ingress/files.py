"""Files and folders -> InboundEvents, for ``supportflow ingest <path>`` and the bundled samples.

Events carry the file's original bytes untouched, so whatever the parser later rejects is
dead-lettered byte for byte. Ids are a hash of the resolved path (+ line number for JSONL), so
ingesting the same file twice produces the same event ids.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Iterator
from pathlib import Path

from supportflow.processors.channels.common import (
    EMAIL_CONTENT_TYPE,
    JSON_CONTENT_TYPE,
    TICKET_CONTENT_TYPE,
    channel_from_name,
)
from supportflow.processors.channels.sniff import sniff_json_channel, sniff_line_channel
from supportflow.schemas.models import Channel, InboundEvent

SUFFIXES = frozenset({".eml", ".json", ".jsonl"})
# Manifests that live next to sample tickets and are not tickets themselves.
MANIFEST_NAMES = frozenset({"expected.json"})


def events_from_path(path: Path, now_ms: int | None = None) -> Iterator[InboundEvent]:
    """Events from one file, or from every ``.eml``/``.json``/``.jsonl`` under a folder (sorted)."""
    received = now_ms if now_ms is not None else int(time.time() * 1000)
    path = Path(path)
    if path.is_dir():
        files = sorted(
            p
            for p in path.rglob("*")
            if p.is_file()
            and p.suffix.lower() in SUFFIXES
            and p.name not in MANIFEST_NAMES
            and not p.name.startswith(".")
        )
    else:
        files = [path]
    for file in files:
        yield from _events_from_file(file, received)


def _event_id(file: Path, locator: str) -> str:
    return "evt_" + hashlib.sha1(f"{file.resolve()}#{locator}".encode()).hexdigest()[:20]


def _folder_channel(file: Path) -> Channel:
    """Channel implied by the nearest parent folder named email/chat/whatsapp/api (default api)."""
    for parent in file.parents:
        channel = channel_from_name(parent.name)
        if channel is not None:
            return channel
    return Channel.API


def _events_from_file(file: Path, received: int) -> Iterator[InboundEvent]:
    suffix = file.suffix.lower()
    raw = file.read_bytes()
    if suffix == ".eml":
        yield InboundEvent(
            event_id=_event_id(file, "0"),
            channel=Channel.EMAIL,
            received_at_ms=received,
            payload=raw,
            content_type=EMAIL_CONTENT_TYPE,
            source=str(file),
        )
    elif suffix == ".jsonl":
        for lineno, line in enumerate(raw.splitlines(), start=1):
            if not line.strip():
                continue
            channel = sniff_line_channel(line) or _folder_channel(file)
            yield InboundEvent(
                event_id=_event_id(file, f"line{lineno}"),
                channel=channel,
                received_at_ms=received,
                payload=line,
                content_type=TICKET_CONTENT_TYPE,
                source=f"{file}:{lineno}",
            )
    else:
        channel = sniff_json_channel(raw) or _folder_channel(file)
        yield InboundEvent(
            event_id=_event_id(file, "0"),
            channel=channel,
            received_at_ms=received,
            payload=raw,
            content_type=JSON_CONTENT_TYPE,
            source=str(file),
        )
