"""Which broker a command talks to: --broker, SUPPORTFLOW_BROKER, a live `run`'s state file, else none."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from supportflow.cli.broker import (
    announced,
    find_broker,
    read_state,
    remove_state,
    state_path,
    write_state,
)
from supportflow.cli.main import main
from supportflow.settings import get_settings


def _dead_pid() -> int:
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    return proc.pid


def _state(tmp_path: Path, pid: int, bootstrap: str = "127.0.0.1:4000", embedded: bool = True) -> Path:
    path = state_path(tmp_path)
    path.write_text(json.dumps({"bootstrap": bootstrap, "pid": pid, "embedded": embedded}))
    return path


def test_find_broker_flag_first_then_environment_then_live_run(tmp_path):
    state = _state(tmp_path, os.getpid())
    assert find_broker("flag:1", "env:2", state).source == "--broker"
    assert find_broker(None, "env:2", state).bootstrap == "env:2"
    found = find_broker(None, None, state)
    assert found is not None and found.bootstrap == "127.0.0.1:4000" and found.embedded
    assert found.source == f"run (pid {os.getpid()})"


def test_find_broker_run_that_exited_is_no_pipeline(tmp_path):
    assert find_broker(None, None, _state(tmp_path, _dead_pid())) is None


@pytest.mark.parametrize("content", ["", "{", "[]", '{"pid": "x", "bootstrap": "b:1"}', '{"pid": 1}'])
def test_read_state_unreadable_file_is_no_pipeline(tmp_path, content):
    path = state_path(tmp_path)
    path.write_text(content)
    assert read_state(path) is None
    assert find_broker(None, None, tmp_path / "absent.json") is None


def test_announced_writes_state_while_running_and_removes_it_after(tmp_path):
    path = state_path(tmp_path / "data")
    with announced(path, "127.0.0.1:4100", embedded=False):
        state = read_state(path)
        assert state is not None and state["pid"] == os.getpid() and state["bootstrap"] == "127.0.0.1:4100"
    assert not path.exists()


def test_remove_state_of_another_run_is_left_alone(tmp_path):
    path = _state(tmp_path, os.getppid())
    remove_state(path)
    assert path.exists()


def test_write_state_replacing_a_live_run_says_so(tmp_path, capsys):
    path = _state(tmp_path, os.getppid())
    write_state(path, "127.0.0.1:4200", embedded=True)
    assert "another `supportflow run`" in capsys.readouterr().err
    assert read_state(path)["pid"] == os.getpid()


@pytest.fixture
def data_dir(tmp_path, monkeypatch):
    monkeypatch.delenv("SUPPORTFLOW_BROKER", raising=False)
    monkeypatch.setenv("SUPPORTFLOW_DATA_DIR", str(tmp_path))
    get_settings.cache_clear()
    yield tmp_path
    get_settings.cache_clear()


@pytest.mark.parametrize(
    "argv",
    [["ingest", "x.json"], ["audit", "tkt_1"], ["dlq", "list"], ["flags", "show"], ["topics", "--create"],
     ["egress", "webhook"]],
)  # fmt: skip
def test_command_without_any_pipeline_one_line_exit_2(data_dir, capsys, argv):
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "no running pipeline found" in err and "supportflow run" in err


def test_command_finds_the_live_run_through_its_state_file(data_dir, monkeypatch, capsys):
    from supportflow.streams import ingest

    _state(data_dir, os.getpid(), bootstrap="127.0.0.1:4300")
    sent: list[str] = []
    monkeypatch.setattr(ingest, "publish_events", lambda bootstrap, *_a, **_k: sent.append(bootstrap) or 0)
    samples = Path(__file__).resolve().parents[3] / "supportflow" / "data" / "samples" / "api"
    assert main(["ingest", str(samples)]) == 0
    assert sent == ["127.0.0.1:4300"]
