"""Command-line errors are one line on stderr with a non-zero exit, never a traceback."""

import pytest

from supportflow.cli.main import main
from supportflow.settings import get_settings


@pytest.fixture(autouse=True)
def _fresh_settings():
    get_settings.cache_clear()
    yield
    get_settings.cache_clear()


def test_cli_invalid_settings_exit_2_one_line_without_the_secret(monkeypatch, capsys):
    monkeypatch.setenv("SUPPORTFLOW_WEBHOOK__API_KEY", "sekrit-key-1")
    monkeypatch.setenv("SUPPORTFLOW_WEBHOOK__PRIVILEGED_API_KEY", "sekrit-key-1")
    assert main(["flags", "show", "--broker", "127.0.0.1:1"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("supportflow: invalid settings: webhook") and err.count("\n") == 1
    assert "sekrit-key-1" not in err and "Traceback" not in err


def test_cli_lowercase_or_unknown_log_level_is_accepted_or_named(monkeypatch, capsys):
    monkeypatch.setenv("SUPPORTFLOW_LOG_LEVEL", "debug")
    monkeypatch.setattr("sys.stdin", __import__("io").StringIO("mail me at jane@example.com\n"))
    assert main(["redact"]) == 0
    monkeypatch.setenv("SUPPORTFLOW_LOG_LEVEL", "bogus")
    monkeypatch.setattr("sys.stdin", __import__("io").StringIO("hi\n"))
    assert main(["redact"]) == 0
    assert "SUPPORTFLOW_LOG_LEVEL='BOGUS' is not a log level" in capsys.readouterr().err
