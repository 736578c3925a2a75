"""Typed flags: what writers accept, and how workers read raw control-topic records (fail closed)."""

from __future__ import annotations

import json
from typing import Any

import pytest
from prometheus_client import REGISTRY

from supportflow.settings import get_settings
from supportflow.streams.flag_registry import FlagError, coerce, is_on, parse_assignment
from supportflow.streams.flags import FlagTable, FlagWatcher
from supportflow.streams.runtime import Runtime

FALSE_TEXTS = ["False", "false", "FALSE", "off", "Off", "no", "NO", "0", " off "]
TRUE_TEXTS = ["True", "true", "on", "ON", "yes", "Yes", "1"]
BAD_TEXTS = ["nope", "2", "", "-1", '"0"', '"false"', "null", "[]", "f", "disabled"]


def _record(value: Any, set_at_ms: int = 1) -> bytes:
    return json.dumps({"value": value, "set_at_ms": set_at_ms}).encode()


def _invalid_count(flag: str) -> float:
    return REGISTRY.get_sample_value("supportflow_flag_values_invalid_total", {"flag": flag}) or 0.0


def _invalid_now(flag: str) -> float | None:
    return REGISTRY.get_sample_value("supportflow_flags_invalid", {"flag": flag})


# -- writers: parse_assignment (CLI) and coerce (admin API) ------------------------------------------


@pytest.mark.parametrize("text", FALSE_TEXTS)
def test_parse_assignment_string_false_is_boolean_false(text):
    name, value = parse_assignment(f"auto_resolve={text}")
    assert name == "auto_resolve" and value is False


@pytest.mark.parametrize("text", TRUE_TEXTS)
def test_parse_assignment_string_true_is_boolean_true(text):
    assert parse_assignment(f"auto_resolve={text}") == ("auto_resolve", True)
    assert parse_assignment(f"auto_resolve={text}")[1] is True


@pytest.mark.parametrize("text", BAD_TEXTS)
def test_parse_assignment_non_boolean_value_raises_one_line(text):
    with pytest.raises(FlagError, match="auto_resolve takes a boolean") as info:
        parse_assignment(f"auto_resolve={text}")
    assert "\n" not in str(info.value)


def test_parse_assignment_unknown_name_raises_with_suggestion():
    with pytest.raises(FlagError, match=r"unknown flag \"auto_reslove\" \(did you mean auto_resolve\?"):
        parse_assignment("auto_reslove=false")


def test_parse_assignment_missing_equals_raises_one_line():
    with pytest.raises(FlagError, match="expected NAME=VALUE") as info:
        parse_assignment("auto_resolve")
    assert "\n" not in str(info.value)


def test_parse_assignment_newline_in_value_error_stays_one_line():
    with pytest.raises(FlagError) as info:
        parse_assignment("auto_resolve=of\nf" + "x" * 500)
    assert "\n" not in str(info.value) and len(str(info.value)) < 200


@pytest.mark.parametrize(
    ("value", "expected"),
    [(False, False), (True, True), (0, False), (1, True), ("false", False), ("ON", True), ("No", False)],
)
def test_coerce_json_boolean_or_word_stored_as_boolean(value, expected):
    assert coerce("auto_resolve", value) is expected


@pytest.mark.parametrize("value", [None, 2, -1, 1.0, 0.0, [], {}, [False], "nope", ""])
def test_coerce_wrong_type_raises(value):
    with pytest.raises(FlagError, match="auto_resolve takes a boolean"):
        coerce("auto_resolve", value)


# -- readers: the table a worker keeps from raw control-topic records ---------------------------------


@pytest.mark.parametrize(
    "raw",
    [
        _record("False"), _record("false"), _record("true"), _record("off"), _record(1), _record(0),
        _record(None), _record([True]), b"{not json", b"", b"\xff\xfe", b"false", b"true", b'"true"',
        b"[1]", json.dumps({"set_at_ms": 1}).encode(),
    ],
    ids=[
        "str-False", "str-false", "str-true", "str-off", "int-1", "int-0", "null-value", "list",
        "not-json", "empty", "not-utf8", "bare-false", "bare-true", "bare-str", "bare-list", "no-value",
    ],
)  # fmt: skip
def test_flag_table_anything_but_json_boolean_auto_resolve_fails_closed(raw):
    table = FlagTable()
    change = table.apply(b"auto_resolve", raw)
    assert change is not None and change.known and change.error
    assert table.values["auto_resolve"] is False and change.value is False
    assert "auto_resolve" in table.invalid


def test_flag_table_json_booleans_apply_and_clear_invalid():
    table = FlagTable()
    table.apply(b"auto_resolve", _record("False"))
    change = table.apply(b"auto_resolve", _record(True, 1_000), now_s=3.0)
    assert change is not None and change.value is True and change.error is None
    assert change.delay_s == pytest.approx(2.0)
    assert table.values["auto_resolve"] is True and table.invalid == {}
    table.apply(b"auto_resolve", _record(False))
    assert table.values["auto_resolve"] is False


def test_flag_table_tombstone_restores_default_and_clears_invalid():
    table = FlagTable()
    table.apply(b"auto_resolve", _record("off"))
    change = table.apply(b"auto_resolve", None)
    assert change is not None and change.value is True and change.error is None
    assert table.values["auto_resolve"] is True and table.invalid == {}


def test_flag_table_unknown_name_ignored_and_listed():
    table = FlagTable()
    change = table.apply(b"auto_reslove", _record(False))
    assert change is not None and not change.known and change.error == "unknown flag"
    assert table.values == {"auto_resolve": True}
    assert table.invalid == {"auto_reslove": (False, "unknown flag")}
    table.apply(b"auto_reslove", None)
    assert table.invalid == {}


def test_flag_table_no_key_ignored():
    table = FlagTable()
    assert table.apply(None, _record(False)) is None
    assert table.values == {"auto_resolve": True}


# -- the watcher: effective values to callbacks, invalid values counted -------------------------------


@pytest.fixture
def watcher_and_calls():
    calls: list[tuple[str, Any, float | None]] = []
    watcher = FlagWatcher("127.0.0.1:9", "control-unit", lambda *args: calls.append(args))
    watcher._consumer.close()  # never started: records are fed to _apply by hand
    return watcher, calls


def test_flag_watcher_apply_string_false_reports_off_and_counts_invalid(watcher_and_calls):
    watcher, calls = watcher_and_calls
    watcher._set_loaded()
    before = _invalid_count("auto_resolve")
    watcher._apply(b"auto_resolve", _record("False"))
    assert watcher.get("auto_resolve") is False
    assert calls[-1][:2] == ("auto_resolve", False)
    assert _invalid_count("auto_resolve") == before + 1
    assert _invalid_now("auto_resolve") == 1
    watcher._apply(b"auto_resolve", _record(True))
    assert watcher.get("auto_resolve") is True and calls[-1][:2] == ("auto_resolve", True)
    assert _invalid_count("auto_resolve") == before + 1 and _invalid_now("auto_resolve") == 0


def test_flag_watcher_apply_malformed_record_keeps_thread_alive_and_turns_off(watcher_and_calls):
    watcher, calls = watcher_and_calls
    watcher._apply(b"auto_resolve", b"false")  # valid JSON, not a record: ignored, no AttributeError
    assert watcher.get("auto_resolve") is False and calls[-1][:2] == ("auto_resolve", False)


def test_flag_watcher_history_counts_only_latest_invalid_values(watcher_and_calls):
    watcher, _calls = watcher_and_calls
    before = {flag: _invalid_count(flag) for flag in ("auto_resolve", "unknown")}
    watcher._apply(b"auto_resolve", _record("False"))  # superseded below: not counted at load
    watcher._apply(b"auto_resolve", _record(False))
    watcher._apply(b"auto_reslove", _record(False))  # still on the topic at load: counted once
    watcher._set_loaded()
    assert _invalid_count("auto_resolve") == before["auto_resolve"]
    assert _invalid_count("unknown") == before["unknown"] + 1
    assert _invalid_now("unknown") == 1 and _invalid_now("auto_resolve") == 0
    assert watcher.snapshot() == {"auto_resolve": False}
    assert watcher.invalid() == {"auto_reslove": (False, "unknown flag")}
    watcher._apply(b"auto_reslove", None)
    assert _invalid_now("unknown") == 0


def test_flag_table_json_null_value_fails_closed_only_a_tombstone_restores_default():
    table = FlagTable()
    table.apply(b"auto_resolve", _record(False))
    for raw in (b"null", b" null "):  # JSON null in the record's value is not a Kafka tombstone
        change = table.apply(b"auto_resolve", raw)
        assert change is not None and change.value is False and change.error
    assert table.apply(b"auto_resolve", None).value is True  # the real tombstone


def test_flag_watcher_not_loaded_reads_fail_closed_then_reports_loaded_values(watcher_and_calls):
    watcher, calls = watcher_and_calls
    assert not watcher.loaded
    assert watcher.get("auto_resolve") is False  # cannot read the control topic: no auto-send
    assert watcher.snapshot() == {"auto_resolve": False}
    watcher._set_loaded()  # an empty topic, loaded: the default applies and is reported
    assert watcher.get("auto_resolve") is True and ("auto_resolve", True, None) in calls


# -- the gate: only a real True allows auto-send --------------------------------------------------------


class _Flags:
    def __init__(self, value: Any) -> None:
        self.value = value

    def get(self, name: str) -> Any:
        return self.value if name == "auto_resolve" else None


def _runtime(flags: Any) -> Runtime:
    return Runtime(get_settings(), route_ctx=None, kb=None, resolve_ctx=None, flags=flags)  # type: ignore[arg-type]


@pytest.mark.parametrize("value", ["False", "false", "true", "off", 1, 2, None, [True], {"value": True}])
def test_gate_policy_anything_but_true_auto_send_off(value):
    assert _runtime(_Flags(value)).gate_policy().auto_send_enabled is False


def test_gate_policy_true_or_no_watcher_auto_send_on():
    assert _runtime(_Flags(True)).gate_policy().auto_send_enabled is True
    assert _runtime(None).gate_policy().auto_send_enabled is True
    assert is_on(True) and not is_on("True") and not is_on(1)
