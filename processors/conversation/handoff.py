"""The customer-facing handoff message: what a customer reads when a person takes over their ticket.

Pure: the text is built only from a templates file and times, never from the ticket, so it can carry no
ticket text or personal data. The wording depends on the customer's language, the channel (an email is
a few polite sentences, a chat or WhatsApp reply one or two short ones) and whether support is open at
``now_ms``; outside business hours it names when the team is back, in the customer's language.

The shipped wording is ``supportflow/data/conversation/handoff.yaml``. An unknown language falls back
to English and an unknown channel to the email text, so building a message never fails at run time; a
templates file with a missing language, channel or variant fails at load time instead.
"""

from __future__ import annotations

import re
import string
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from functools import cache
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import yaml

from supportflow.data import data_path
from supportflow.schemas.errors import PermanentError
from supportflow.schemas.models import Channel

# Every language the product answers in must have its own wording; English is also the fallback.
LANGUAGES = ("en", "es", "de", "fr", "pt", "it")
FALLBACK_LANGUAGE = "en"
FALLBACK_CHANNEL = Channel.EMAIL.value
CHANNELS = tuple(c.value for c in Channel)
VARIANTS = ("open", "closed")

_DAY_NAMES = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
_HHMM = re.compile(r"(\d{2}):(\d{2})")
# Closing at 24:00 is the end of the day; time() cannot say 24:00, so time.max stands for it.
_END_OF_DAY = time.max


@dataclass(frozen=True)
class BusinessHours:
    """When people answer: the same opening and closing time on each of ``days`` (Monday=0).

    ``always_open`` is 24/7 support (``parse("24/7")`` or ``parse("")``).
    """

    timezone: str = "UTC"
    days: tuple[int, ...] = (0, 1, 2, 3, 4)
    opens: time = time(9, 0)
    closes: time = time(17, 0)
    always_open: bool = False

    def __post_init__(self) -> None:
        _zone(self.timezone)  # fail at construction, not at the first message
        if not self.days or any(d not in range(7) for d in self.days):
            raise ValueError(f"business days must be a non-empty subset of 0-6 (Monday=0), got {self.days}")
        if self.opens >= self.closes:
            raise ValueError(f"business hours must open before they close, got {self.opens}-{self.closes}")

    @classmethod
    def parse(cls, spec: str) -> BusinessHours:
        """``"Mon-Fri 09:00-17:00 Europe/Berlin"``: days, hours, optional IANA timezone (default UTC).

        Days are three-letter English names, ranges and commas (``Mon-Fri,Sun``; ``Fri-Mon`` wraps).
        A closing time of ``24:00`` is the end of the day. ``""`` and ``"24/7"`` are always open.
        """
        text = spec.strip()
        if text in ("", "24/7"):
            return cls(always_open=True)
        parts = text.split()
        if len(parts) not in (2, 3):
            raise ValueError(f"business hours {spec!r}: expected 'DAYS HH:MM-HH:MM [TIMEZONE]'")
        days = _parse_days(parts[0], spec)
        opens_text, sep, closes_text = parts[1].partition("-")
        if not sep:
            raise ValueError(f"business hours {spec!r}: expected hours as HH:MM-HH:MM, got {parts[1]!r}")
        opens = _parse_time(opens_text, spec, allow_24=False)
        closes = _parse_time(closes_text, spec, allow_24=True)
        timezone = parts[2] if len(parts) == 3 else "UTC"
        try:
            return cls(timezone=timezone, days=days, opens=opens, closes=closes)
        except ValueError as exc:
            raise ValueError(f"business hours {spec!r}: {exc}") from exc

    @property
    def zone(self) -> ZoneInfo:
        return _zone(self.timezone)

    def is_open(self, at: datetime) -> bool:
        """Whether ``at`` (an aware datetime) falls in business hours; closing time itself is closed."""
        if self.always_open:
            return True
        local = _aware(at).astimezone(self.zone)
        return local.weekday() in self.days and self._within(local.time())

    def next_opening(self, at: datetime) -> datetime:
        """The first moment at or after ``at`` when support is open, in the hours' timezone.

        ``at`` itself (converted) when already open.
        """
        local = _aware(at).astimezone(self.zone)
        if self.is_open(local):
            return local
        for offset in range(8):
            day = local.date() + timedelta(days=offset)
            if day.weekday() not in self.days or (offset == 0 and local.time() >= self.opens):
                continue
            return self._opening_on(day)
        raise AssertionError("unreachable: some business day falls within any eight days")

    def _within(self, t: time) -> bool:
        return self.opens <= t and (t < self.closes or self.closes == _END_OF_DAY)

    def _opening_on(self, day: date) -> datetime:
        wall = datetime.combine(day, self.opens, tzinfo=self.zone)
        # A round trip through UTC moves an opening inside a DST gap to the real instant.
        return wall.astimezone(UTC).astimezone(self.zone)


def _zone(name: str) -> ZoneInfo:
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise ValueError(f"unknown timezone {name!r} (expected an IANA name such as Europe/Berlin)") from exc


def _aware(at: datetime) -> datetime:
    if at.tzinfo is None or at.utcoffset() is None:
        raise ValueError(f"business hours need an aware datetime, got naive {at.isoformat()}")
    return at


def _parse_days(text: str, spec: str) -> tuple[int, ...]:
    days: set[int] = set()
    for item in text.lower().split(","):
        first, sep, last = item.partition("-")
        if first not in _DAY_NAMES or (sep and last not in _DAY_NAMES):
            raise ValueError(f"business hours {spec!r}: unknown days {item!r} (use Mon..Sun, e.g. Mon-Fri)")
        start = _DAY_NAMES.index(first)
        end = _DAY_NAMES.index(last) if sep else start
        days.update((start + i) % 7 for i in range((end - start) % 7 + 1))
    return tuple(sorted(days))


def _parse_time(text: str, spec: str, *, allow_24: bool) -> time:
    match = _HHMM.fullmatch(text)
    if match is None:
        raise ValueError(f"business hours {spec!r}: invalid time {text!r} (expected HH:MM)")
    hour, minute = int(match[1]), int(match[2])
    if allow_24 and (hour, minute) == (24, 0):
        return _END_OF_DAY
    if hour > 23 or minute > 59:
        raise ValueError(f"business hours {spec!r}: invalid time {text!r} (00:00-23:59)")
    return time(hour, minute)


class TemplateError(PermanentError):
    """The handoff templates file is missing, not YAML, or lacks a language, channel or variant."""


@dataclass(frozen=True)
class Variants:
    open: str
    closed: str  # holds {next_opening}


@dataclass(frozen=True)
class LanguageTemplates:
    weekdays: tuple[str, ...]  # Monday first, as they read inside next_opening
    next_opening: str  # fields: {weekday} {time} {hour} {minute} {timezone}
    channels: Mapping[str, Variants]
    timezone_names: Mapping[str, str]  # tz abbreviation -> this language's (CET -> MEZ)

    def format_opening(self, at: datetime) -> str:
        abbreviation = at.tzname() or "UTC"
        if abbreviation[0] in "+-":  # zones without a letter abbreviation report "-03"
            abbreviation = f"UTC{abbreviation}"
        return self.next_opening.format(
            weekday=self.weekdays[at.weekday()],
            time=at.strftime("%H:%M"),
            hour=at.strftime("%H"),
            minute=at.strftime("%M"),
            timezone=self.timezone_names.get(abbreviation, abbreviation),
        )


@dataclass(frozen=True)
class HandoffTemplates:
    source: str
    languages: Mapping[str, LanguageTemplates]

    def language(self, code: str) -> LanguageTemplates:
        """Templates for a language code such as ``de``, ``pt-BR`` or ``FR``; English when unknown."""
        primary = code.strip().lower().replace("_", "-").split("-")[0]
        return self.languages.get(primary) or self.languages[FALLBACK_LANGUAGE]


def handoff_message(
    templates: HandoffTemplates, *, language: str, channel: str, now_ms: int, hours: BusinessHours
) -> str:
    """The message telling the customer a person takes over; names the reopening time when closed."""
    lang = templates.language(language)
    variants = lang.channels.get(str(channel).strip().lower()) or lang.channels[FALLBACK_CHANNEL]
    now = datetime.fromtimestamp(now_ms / 1000, tz=UTC)
    if hours.is_open(now):
        return variants.open
    return variants.closed.format(next_opening=lang.format_opening(hours.next_opening(now)))


def load_templates(path: Path | None = None) -> HandoffTemplates:
    """Read and validate a templates file; ``None`` is the shipped default, read once per process."""
    return _load_default() if path is None else _load(path)


@cache
def _load_default() -> HandoffTemplates:
    return _load(data_path("conversation", "handoff.yaml"))


def _load(path: Path) -> HandoffTemplates:
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise TemplateError(f"cannot read handoff templates {path}: {exc}") from exc
    except yaml.YAMLError as exc:
        raise TemplateError(f"handoff templates {path} are not valid YAML: {exc}") from exc
    languages = _mapping(raw, path, "").get("languages")
    entries = _mapping(languages, path, "languages")
    missing = [code for code in LANGUAGES if code not in entries]
    if missing:
        raise TemplateError(f"handoff templates {path}: missing languages.{missing[0]}")
    return HandoffTemplates(
        source=str(path),
        languages={str(code): _language(entry, path, f"languages.{code}") for code, entry in entries.items()},
    )


def _language(raw: Any, path: Path, key: str) -> LanguageTemplates:
    entry = _mapping(raw, path, key)
    unknown = set(entry) - {"weekdays", "next_opening", "channels", "timezone_names"}
    if unknown:
        raise TemplateError(f"handoff templates {path}: unknown key {key}.{sorted(unknown)[0]}")
    weekdays = entry.get("weekdays")
    if not isinstance(weekdays, list) or len(weekdays) != 7 or not all(isinstance(d, str) for d in weekdays):
        raise TemplateError(f"handoff templates {path}: {key}.weekdays must list 7 names, Monday first")
    opening_fields = {"weekday", "time", "hour", "minute", "timezone"}
    next_opening = _text(entry.get("next_opening"), path, f"{key}.next_opening", opening_fields, {"weekday"})
    channels = _mapping(entry.get("channels"), path, f"{key}.channels")
    for channel in CHANNELS:
        if channel not in channels:
            raise TemplateError(f"handoff templates {path}: missing {key}.channels.{channel}")
    names = _mapping(entry.get("timezone_names", {}), path, f"{key}.timezone_names")
    return LanguageTemplates(
        weekdays=tuple(weekdays),
        next_opening=next_opening,
        channels={
            str(name): _variants(value, path, f"{key}.channels.{name}") for name, value in channels.items()
        },
        timezone_names={str(k): str(v) for k, v in names.items()},
    )


def _variants(raw: Any, path: Path, key: str) -> Variants:
    entry = _mapping(raw, path, key)
    for variant in VARIANTS:
        if variant not in entry:
            raise TemplateError(f"handoff templates {path}: missing {key}.{variant}")
    unknown = set(entry) - set(VARIANTS)
    if unknown:
        raise TemplateError(f"handoff templates {path}: unknown key {key}.{sorted(unknown)[0]}")
    return Variants(
        open=_text(entry["open"], path, f"{key}.open", set(), set()),
        closed=_text(entry["closed"], path, f"{key}.closed", {"next_opening"}, {"next_opening"}),
    )


def _text(raw: Any, path: Path, key: str, allowed: set[str], required: set[str]) -> str:
    """A non-empty template whose ``{fields}`` are among ``allowed`` and include ``required``."""
    if not isinstance(raw, str) or not raw.strip():
        raise TemplateError(f"handoff templates {path}: {key} must be non-empty text")
    try:
        fields = {name for _, name, _, _ in string.Formatter().parse(raw) if name is not None}
    except ValueError as exc:
        raise TemplateError(f"handoff templates {path}: {key} has a stray brace: {exc}") from exc
    if fields - allowed:
        raise TemplateError(
            f"handoff templates {path}: {key} has unknown field {{{sorted(fields - allowed)[0]}}}"
        )
    if required - fields:
        raise TemplateError(
            f"handoff templates {path}: {key} must contain {{{sorted(required - fields)[0]}}}"
        )
    return raw.strip()


def _mapping(raw: Any, path: Path, key: str) -> dict[Any, Any]:
    if not isinstance(raw, dict):
        where = f" {key}" if key else ""
        raise TemplateError(f"handoff templates {path}:{where} must be a mapping, got {type(raw).__name__}")
    return raw
