"""``supportflow redact``: lines from stdin, redacted; --json with spans in the original line; flag errors."""

from __future__ import annotations

import io
import json

import pytest

from supportflow.cli.main import main

LINES = [
    "card ４１１１ １１１１ １１１１ １１１１ was charged",
    "my ip is 10.0.0.1.",
    "ssn 123-45-6789, mail jane.doe%40example.com",
    "Where is order NW-100231?",
    "hi, Maya Thompson here",
]


def _stdin(monkeypatch: pytest.MonkeyPatch, lines: list[str]) -> None:
    data = ("\n".join(lines) + "\n").encode() + b"bad byte \xff\r\n"
    monkeypatch.setattr("sys.stdin", io.TextIOWrapper(io.BytesIO(data), encoding="utf-8"))


def test_cli_redact_plain_prints_one_redacted_line_per_input_line(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    _stdin(monkeypatch, LINES)
    assert main(["redact", "--customer-name", "Maya Thompson"]) == 0
    assert capsys.readouterr().out.splitlines() == [
        "card [CARD] was charged",
        "my ip is [IP].",
        "ssn [SSN], mail [EMAIL]",
        "Where is order NW-100231?",
        "hi, [NAME] here",
        "bad byte \ufffd",  # an undecodable byte is replaced, the run goes on; the \r\n is dropped
    ]


def test_cli_redact_json_gives_text_found_and_spans_in_the_original_line(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    _stdin(monkeypatch, LINES)
    assert main(["redact", "--json", "--known", "Maya Thompson"]) == 0
    records = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert len(records) == len(LINES) + 1
    for line, record in zip(LINES, records, strict=False):
        rebuilt, cursor = [], 0
        for span in record["spans"]:
            rebuilt.append(line[cursor : span["start"]] + f"[{span['kind']}]")
            cursor = span["end"]
        assert "".join(rebuilt) + line[cursor:] == record["text"]
    assert records[0]["spans"] == [{"start": 5, "end": 24, "kind": "CARD"}]
    assert records[2]["found"] == {"SSN": 1, "EMAIL": 1}
    assert records[3] == {"text": "Where is order NW-100231?", "found": {}, "spans": []}
    assert records[4]["found"] == {"NAME": 1}


@pytest.mark.parametrize("argv", [["redact", "--jsn"], ["redact", "some text"]])
def test_cli_redact_bad_flag_exits_2_naming_the_command(
    argv: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as exc:
        main(argv)
    assert exc.value.code == 2
    err = capsys.readouterr().err
    assert "supportflow redact: error: unrecognized arguments" in err
    assert "usage: supportflow redact" in err


def test_cli_redact_invalid_id_pattern_setting_exits_2_with_message(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from supportflow.settings import get_settings

    monkeypatch.setenv("SUPPORTFLOW_REDACTION__ID_PATTERNS", '{"MEMBER": "(unclosed"}')
    get_settings.cache_clear()
    try:
        _stdin(monkeypatch, ["x"])
        assert main(["redact"]) == 2
    finally:
        monkeypatch.delenv("SUPPORTFLOW_REDACTION__ID_PATTERNS")
        get_settings.cache_clear()
    assert "not a valid regex" in capsys.readouterr().err
