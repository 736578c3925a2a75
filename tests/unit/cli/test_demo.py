"""``supportflow demo --json``: stdout is the one JSON object; progress goes to stderr."""

from __future__ import annotations

import json
import sys
from typing import Any

from supportflow.cli.main import main
from supportflow.streams import harness
from supportflow.streams.collect import Collected


def test_demo_json_stdout_one_object_progress_on_stderr(monkeypatch, capsys):
    calls: list[dict[str, Any]] = []

    def run_events(path: Any, **kwargs: Any) -> tuple[int, Collected, float]:
        calls.append(kwargs)
        if not kwargs.get("quiet", False):
            print("1/1 tickets decided", file=sys.stderr)
        return 0, Collected(), 0.5

    monkeypatch.setattr(harness, "run_events", run_events)
    assert main(["demo", "--json"]) == 0
    out, err = capsys.readouterr()
    assert json.loads(out)["tickets_in"] == 0 and out.count("\n") == 1
    assert "tickets decided" in err
    assert calls == [{"workers": 1, "timeout_s": 240.0, "keep_logs": False}]
