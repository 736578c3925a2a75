"""Handoff messages: business hours across timezones and DST, every language and channel, fallbacks,
and templates files that fail clearly at load time."""

import copy
from datetime import UTC, datetime, time
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
import yaml

from supportflow.data import data_path
from supportflow.processors.conversation.handoff import (
    CHANNELS,
    LANGUAGES,
    BusinessHours,
    TemplateError,
    handoff_message,
    load_templates,
)
from supportflow.schemas.models import Channel

BERLIN = ZoneInfo("Europe/Berlin")
OFFICE = BusinessHours.parse("Mon-Fri 09:00-17:00 Europe/Berlin")
# 2026-12-05 is a Saturday, 2026-12-07 a Monday.
SATURDAY_10_BERLIN = datetime(2026, 12, 5, 10, 0, tzinfo=BERLIN)
TUESDAY_11_BERLIN = datetime(2026, 12, 8, 11, 0, tzinfo=BERLIN)


def _ms(at: datetime) -> int:
    return int(at.timestamp() * 1000)


def _message(
    at: datetime, language: str = "en", channel: str = "email", hours: BusinessHours = OFFICE
) -> str:
    return handoff_message(load_templates(), language=language, channel=channel, now_ms=_ms(at), hours=hours)


def test_business_hours_parse_full_spec_reads_days_hours_and_zone():
    expected = BusinessHours(
        timezone="Europe/Berlin", days=(0, 1, 2, 3, 4), opens=time(9, 0), closes=time(17, 0)
    )
    assert expected == OFFICE
    assert BusinessHours.parse("Fri-Mon,Wed 08:30-12:00").days == (0, 2, 4, 5, 6)
    assert BusinessHours.parse("Fri-Mon,Wed 08:30-12:00").timezone == "UTC"


@pytest.mark.parametrize(
    ("spec", "problem"),
    [
        ("Mon-Fri 25:00-17:00 UTC", "invalid time '25:00'"),
        ("Mon-Fri 09:60-17:00 UTC", "invalid time '09:60'"),
        ("Mon-Fri 09:00-17:00 Mars/Olympus_Mons", "unknown timezone 'Mars/Olympus_Mons'"),
        ("Mon-Fri 09:00-17:00 ../etc/passwd", "unknown timezone"),
        ("Mon-Fri 17:00-09:00 UTC", "open before they close"),
        ("Mon-Fun 09:00-17:00 UTC", "unknown days 'mon-fun'"),
        ("Mon-Fri 9-17 UTC", "invalid time '9'"),
        ("Mon-Fri 09:00 UTC", "expected hours as HH:MM-HH:MM"),
        ("Mon-Fri", "expected 'DAYS HH:MM-HH:MM [TIMEZONE]'"),
    ],
)
def test_business_hours_parse_bad_spec_raises_value_error_naming_it(spec, problem):
    with pytest.raises(ValueError, match="business hours") as caught:
        BusinessHours.parse(spec)
    assert problem in str(caught.value) and repr(spec) in str(caught.value)


@pytest.mark.parametrize("spec", ["24/7", "", "  "])
def test_business_hours_always_open_spec_is_open_at_any_hour(spec):
    hours = BusinessHours.parse(spec)
    sunday_3am = datetime(2026, 12, 6, 3, 0, tzinfo=UTC)
    assert hours.is_open(sunday_3am)
    assert hours.next_opening(sunday_3am) == sunday_3am
    assert _message(sunday_3am, hours=hours) == load_templates().language("en").channels["email"].open


def test_business_hours_saturday_in_berlin_is_closed_until_monday_nine():
    assert not OFFICE.is_open(SATURDAY_10_BERLIN)
    opening = OFFICE.next_opening(SATURDAY_10_BERLIN)
    assert opening == datetime(2026, 12, 7, 9, 0, tzinfo=BERLIN)
    assert opening.tzinfo == BERLIN and opening.tzname() == "CET"


@pytest.mark.parametrize(
    ("local", "is_open"),
    [
        (time(8, 59, 59), False),
        (time(9, 0), True),
        (time(16, 59, 59), True),
        (time(17, 0), False),
    ],
)
def test_business_hours_boundaries_opening_is_open_closing_is_closed(local, is_open):
    at = datetime.combine(TUESDAY_11_BERLIN.date(), local, tzinfo=BERLIN)
    assert OFFICE.is_open(at) is is_open
    # The same instant written in UTC gives the same answer: the check happens in Berlin time.
    assert OFFICE.is_open(at.astimezone(UTC)) is is_open


@pytest.mark.parametrize(
    ("at", "expected"),
    [
        (datetime(2026, 12, 8, 7, 0, tzinfo=BERLIN), datetime(2026, 12, 8, 9, 0, tzinfo=BERLIN)),
        (datetime(2026, 12, 8, 17, 0, tzinfo=BERLIN), datetime(2026, 12, 9, 9, 0, tzinfo=BERLIN)),
        (datetime(2026, 12, 11, 18, 0, tzinfo=BERLIN), datetime(2026, 12, 14, 9, 0, tzinfo=BERLIN)),
        (TUESDAY_11_BERLIN, TUESDAY_11_BERLIN),
    ],
    ids=["before-opening-same-day", "at-closing-next-day", "friday-evening-monday", "open-now-itself"],
)
def test_business_hours_next_opening_is_first_open_moment(at, expected):
    assert OFFICE.next_opening(at) == expected


def test_business_hours_sunday_night_utc_already_monday_morning_ahead_is_open():
    # Sunday 20:30 UTC is Monday 09:30 in Auckland (NZDT, daylight time, UTC+13 in December).
    sunday_night_utc = datetime(2026, 12, 6, 20, 30, tzinfo=UTC)
    assert BusinessHours.parse("Mon-Fri 09:00-17:00 Pacific/Auckland").is_open(sunday_night_utc)
    # Monday 00:30 UTC is Monday 09:30 in Tokyo; Sunday 23:45 UTC is Monday 08:45 there, not yet open.
    tokyo = BusinessHours.parse("Mon-Fri 09:00-17:00 Asia/Tokyo")
    assert tokyo.is_open(datetime(2026, 12, 7, 0, 30, tzinfo=UTC))
    sunday_late = datetime(2026, 12, 6, 23, 45, tzinfo=UTC)
    assert not tokyo.is_open(sunday_late)
    assert tokyo.next_opening(sunday_late) == datetime(2026, 12, 7, 0, 0, tzinfo=UTC)


def test_business_hours_next_opening_across_spring_forward_uses_summer_offset():
    # Berlin moves to CEST on Sunday 2026-03-29: Monday 09:00 is 07:00 UTC, not 08:00.
    saturday_before = datetime(2026, 3, 28, 12, 0, tzinfo=BERLIN)
    opening = OFFICE.next_opening(saturday_before)
    assert opening.astimezone(UTC) == datetime(2026, 3, 30, 7, 0, tzinfo=UTC)
    text = _message(saturday_before, language="de")
    assert "am Montag um 09:00 Uhr (MESZ)" in text


def test_business_hours_closing_at_24_is_open_until_midnight():
    hours = BusinessHours.parse("Sat 10:00-24:00 UTC")
    assert hours.is_open(datetime(2026, 12, 5, 23, 59, 59, tzinfo=UTC))
    assert not hours.is_open(datetime(2026, 12, 6, 0, 0, tzinfo=UTC))


def test_business_hours_naive_datetime_raises_value_error():
    with pytest.raises(ValueError, match="aware datetime"):
        OFFICE.is_open(datetime(2026, 12, 8, 11, 0))


@pytest.mark.parametrize("language", LANGUAGES)
@pytest.mark.parametrize("channel", CHANNELS)
def test_handoff_message_every_language_and_channel_renders_both_variants(language, channel):
    lang = load_templates().language(language)
    opened = _message(TUESDAY_11_BERLIN, language, channel)
    closed = _message(SATURDAY_10_BERLIN, language, channel)
    assert opened == lang.channels[channel].open and opened != closed
    for text in (opened, closed):
        assert text and "{" not in text and "}" not in text and "\n" not in text
    assert lang.weekdays[0] in closed and "09" in closed
    if channel in ("email", "api"):
        assert "Northwind Outfitters" in closed
    else:
        assert len(closed) < 160, "chat and WhatsApp messages stay short"


@pytest.mark.parametrize(
    ("language", "expected"),
    [
        ("en", "back on Monday at 09:00 CET"),
        ("es", "volvemos el lunes a las 09:00 (CET)"),
        ("de", "am Montag um 09:00 Uhr (MEZ)"),
        ("fr", "de retour lundi à 09h00 (CET)"),
        ("pt", "regressa na segunda-feira às 09:00 (CET)"),
        ("it", "lunedì alle 09:00 (CET)"),
    ],
)
def test_handoff_message_closed_names_next_opening_in_the_language(language, expected):
    assert expected in _message(SATURDAY_10_BERLIN, language)


def test_handoff_message_zone_without_letter_abbreviation_shows_utc_offset():
    hours = BusinessHours.parse("Mon-Fri 09:00-17:00 America/Sao_Paulo")
    assert "on Monday at 09:00 UTC-03" in _message(datetime(2026, 12, 5, 15, 0, tzinfo=UTC), hours=hours)


@pytest.mark.parametrize(
    ("language", "channel", "same_as"),
    [
        ("xx", "email", ("en", "email")),
        ("", "chat", ("en", "chat")),
        ("pt-BR", "whatsapp", ("pt", "whatsapp")),
        ("DE_at", "chat", ("de", "chat")),
        ("fr", "sms", ("fr", "email")),
        ("es", "", ("es", "email")),
        ("it", Channel.WHATSAPP, ("it", "whatsapp")),
    ],
)
def test_handoff_message_unknown_language_or_channel_falls_back(language, channel, same_as):
    for at in (TUESDAY_11_BERLIN, SATURDAY_10_BERLIN):
        assert _message(at, language, channel) == _message(at, *same_as)


def test_load_templates_default_is_read_once():
    assert load_templates() is load_templates()
    assert load_templates(data_path("conversation", "handoff.yaml")) == load_templates()


def _default_raw() -> dict:
    return yaml.safe_load(data_path("conversation", "handoff.yaml").read_text(encoding="utf-8"))


def _write(tmp_path: Path, raw: object) -> Path:
    path = tmp_path / "handoff.yaml"
    path.write_text(yaml.safe_dump(raw, allow_unicode=True) if not isinstance(raw, str) else raw)
    return path


def _without(keys: tuple[str, ...]) -> dict:
    raw = copy.deepcopy(_default_raw())
    node = raw
    for key in keys[:-1]:
        node = node[key]
    del node[keys[-1]]
    return raw


def _replaced(keys: tuple[str, ...], value: object) -> dict:
    raw = copy.deepcopy(_default_raw())
    node = raw
    for key in keys[:-1]:
        node = node[key]
    node[keys[-1]] = value
    return raw


@pytest.mark.parametrize(
    ("raw", "problem"),
    [
        (_without(("languages", "it")), "missing languages.it"),
        (_without(("languages", "fr", "channels", "whatsapp")), "missing languages.fr.channels.whatsapp"),
        (
            _without(("languages", "de", "channels", "chat", "closed")),
            "missing languages.de.channels.chat.closed",
        ),
        (
            _replaced(("languages", "es", "channels", "whatsapp", "closed"), "Volvemos pronto."),
            "languages.es.channels.whatsapp.closed must contain {next_opening}",
        ),
        (
            _replaced(("languages", "en", "channels", "chat", "open"), "Hi {customer_name}!"),
            "languages.en.channels.chat.open has unknown field {customer_name}",
        ),
        (_replaced(("languages", "pt", "weekdays"), ["segunda"]), "languages.pt.weekdays must list 7 names"),
        (
            _replaced(("languages", "en", "next_opening"), "at {time"),
            "languages.en.next_opening has a stray brace",
        ),
        (_replaced(("languages", "en", "greeting"), "Hi"), "unknown key languages.en.greeting"),
        ("languages: [en, de]", "languages must be a mapping"),
        ("languages: {en: [unclosed", "not valid YAML"),
    ],
)
def test_load_templates_malformed_file_names_file_and_key(tmp_path, raw, problem):
    path = _write(tmp_path, raw)
    with pytest.raises(TemplateError) as caught:
        load_templates(path)
    assert str(path) in str(caught.value) and problem in str(caught.value)


def test_load_templates_missing_file_raises_template_error(tmp_path):
    with pytest.raises(TemplateError, match="cannot read handoff templates"):
        load_templates(tmp_path / "absent.yaml")
