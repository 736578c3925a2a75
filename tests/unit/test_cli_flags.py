"""``supportflow flags``: bad input is exit 2 with one line before any Kafka call; good input is typed."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from typing import Any

import pytest

from supportflow.cli.main import main
from supportflow.streams import flags, topics

DEAD_BROKER = "127.0.0.1:9"


def _no_kafka(*_args: Any, **_kwargs: Any) -> Any:
    raise AssertionError("Kafka touched")


@pytest.fixture
def kafka(monkeypatch):
    """Records writes; any other Kafka call fails the test. ``kafka.allow()`` lets topic creation pass."""

    class Kafka:
        written: list[tuple[str, Any]] = []
        deleted: list[str] = []

        def allow(self) -> None:
            monkeypatch.setattr(topics, "ensure_topics", lambda *_a, **_k: [])

    kafka = Kafka()
    kafka.written, kafka.deleted = [], []
    # `supportflow flags` imports these when it runs: patched where they are defined.
    monkeypatch.setattr(topics, "ensure_topics", _no_kafka)
    monkeypatch.setattr(flags, "FlagWatcher", _no_kafka)
    monkeypatch.setattr(
        flags, "publish_flag", lambda _b, _t, name, value: kafka.written.append((name, value))
    )
    monkeypatch.setattr(flags, "delete_flag", lambda _b, _t, name: kafka.deleted.append(name))
    return kafka


@pytest.mark.parametrize(
    ("argument", "message"),
    [
        ("auto_resolve", "expected NAME=VALUE"),
        ("auto_reslove=false", 'unknown flag "auto_reslove" (did you mean auto_resolve?'),
        ("auto_resolve=nope", "auto_resolve takes a boolean"),
        ("auto_resolve=", "auto_resolve takes a boolean"),
        ('auto_resolve="0"', "auto_resolve takes a boolean"),
    ],
)
def test_flags_set_invalid_assignment_exit_2_one_line_before_kafka(kafka, capsys, argument, message):
    assert main(["flags", "--broker", DEAD_BROKER, "set", argument]) == 2
    err = capsys.readouterr().err
    assert message in err and err.count("\n") == 1 and "Traceback" not in err
    assert kafka.written == []


def test_flags_set_one_bad_assignment_writes_none(kafka, capsys):
    assert main(["flags", "--broker", DEAD_BROKER, "set", "auto_resolve=off", "auto_resolve=nope"]) == 2
    assert kafka.written == []


@pytest.mark.parametrize("text", ["False", "false", "off", "no", "0", "OFF"])
def test_flags_set_false_words_written_as_json_false(kafka, capsys, text):
    kafka.allow()
    assert main(["flags", "--broker", DEAD_BROKER, "set", f"auto_resolve={text}"]) == 0
    assert kafka.written == [("auto_resolve", False)] and kafka.written[0][1] is False
    assert capsys.readouterr().err == "set auto_resolve=false\n"


def test_flags_set_broker_after_action_accepted(kafka, capsys):
    kafka.allow()
    assert main(["flags", "set", "--broker", DEAD_BROKER, "auto_resolve=on"]) == 0
    assert kafka.written == [("auto_resolve", True)]


def test_flags_set_no_assignment_usage_error_exit_2(kafka, capsys):
    with pytest.raises(SystemExit) as info:
        main(["flags", "--broker", DEAD_BROKER, "set"])
    assert info.value.code == 2


def test_flags_unset_any_name_writes_tombstone(kafka, capsys):
    kafka.allow()
    assert main(["flags", "--broker", DEAD_BROKER, "unset", "auto_reslove", "auto_resolve"]) == 0
    assert kafka.deleted == ["auto_reslove", "auto_resolve"]
    assert "unset auto_resolve (back to true)" in capsys.readouterr().err


class _Watcher:
    loaded = True  # the control topic's history was read

    def __init__(self, *_args: Any) -> None:
        pass

    def start(self) -> _Watcher:
        return self

    def snapshot(self) -> dict[str, Any]:
        return {"auto_resolve": False}

    def invalid(self) -> dict[str, tuple[Any, str]]:
        return {
            "auto_resolve": ("False", "not a JSON boolean; using false"),
            "auto_reslove": (False, "unknown flag"),
        }

    def stop(self) -> None:
        pass


def test_flags_show_json_prints_one_object(kafka, monkeypatch, capsys):
    kafka.allow()
    monkeypatch.setattr(flags, "FlagWatcher", _Watcher)
    assert main(["flags", "--broker", DEAD_BROKER, "show", "--json"]) == 0
    out, err = capsys.readouterr()
    assert json.loads(out) == {"auto_resolve": False} and out.count("\n") == 1
    assert "auto_reslove=false on the control topic: unknown flag" in err
    assert 'auto_resolve="False" on the control topic: not a JSON boolean' in err


def test_flags_show_plain_human_readable_with_invalid_value(kafka, monkeypatch, capsys):
    kafka.allow()
    monkeypatch.setattr(flags, "FlagWatcher", _Watcher)
    assert main(["flags", "show", "--broker", DEAD_BROKER]) == 0
    out, err = capsys.readouterr()
    assert out.startswith("auto_resolve     false   kill switch:") and "(default true)" in out
    assert 'stored value "False" is not a JSON boolean; using false' in out
    assert "auto_reslove" in err and "auto_reslove" not in out


@pytest.mark.slow
def test_flags_set_missing_equals_subprocess_exit_2_no_traceback():
    env = {**os.environ, "SUPPORTFLOW_BROKER": DEAD_BROKER, "LITELLM_LOCAL_MODEL_COST_MAP": "True"}
    result = subprocess.run(
        [sys.executable, "-m", "supportflow.cli.main", "flags", "set", "auto_resolve"],
        capture_output=True, text=True, timeout=60, env=env,
    )  # fmt: skip
    assert result.returncode == 2
    assert result.stderr.splitlines() == [
        'flags set: expected NAME=VALUE, got "auto_resolve" (e.g. auto_resolve=false)'
    ]


class _UnreadableWatcher(_Watcher):
    loaded = False  # e.g. the broker is unreachable: values would only be the fail-closed ones


def test_flags_show_control_topic_not_read_exit_1_prints_no_values(kafka, monkeypatch, capsys):
    kafka.allow()
    monkeypatch.setattr(flags, "FlagWatcher", _UnreadableWatcher)
    assert main(["flags", "show", "--json", "--broker", DEAD_BROKER]) == 1
    out, err = capsys.readouterr()
    assert out == "" and "could not read the control topic" in err
