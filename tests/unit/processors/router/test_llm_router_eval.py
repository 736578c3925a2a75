"""``supportflow eval route --llm-router`` end to end: tiny CSVs, the real embedder, LiteLLM against a loopback
server that plays an oracle (it answers each ticket's true label, as a model that is always right would)."""

from __future__ import annotations

import csv
import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from supportflow.cli.router import main
from supportflow.settings import get_settings
from tests.fakes.intent_phrases import PHRASES, PREFIXES, TEST
from tests.fakes.intent_phrases import TRAIN as BASE_TRAIN
from tests.fakes.openai_server import Behaviour, FakeOpenAIServer, Reply

LABELS = list(PHRASES)
TRAIN = BASE_TRAIN + [
    # Two phrases of each intent also appear under the next intent, so the toy router is unsure and wrong
    # on some test rows (cleanly separated toy data gives every row a confidence of ~1.0).
    (p + t, LABELS[(k + 1) % len(LABELS)])
    for k, ts in enumerate(PHRASES.values())
    for t in ts[3:5]
    for p in PREFIXES[:4]
]
_MESSAGE = re.compile(r"<<<\n(.*)\n>>>", re.DOTALL)


class OracleServer(FakeOpenAIServer):
    """Answers every request with the true label of the ticket in its prompt."""

    def __init__(self, truth: dict[str, str]) -> None:
        super().__init__()
        self.truth = truth

    def _next(self, model: str, body: dict[str, Any]) -> Behaviour:
        super()._next(model, body)
        match = _MESSAGE.search(body["messages"][1]["content"])
        label = self.truth.get(match.group(1) if match else "", "oos")
        return Reply(json.dumps({"intent": label, "confidence": 0.9, "reason": "oracle"}))


def _write(path: Path, rows: list[tuple[str, str]]) -> Path:
    with path.open("w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["text", "label"])
        w.writerows(rows)
    return path


@pytest.fixture
def wide_middle(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    # A 4-intent toy router is rarely above 0.7: widen the middle so the test rows reach the LLM.
    monkeypatch.setenv("SUPPORTFLOW_LLM_ROUTER__MIN_CONFIDENCE", "0")
    monkeypatch.setenv("SUPPORTFLOW_LLM_ROUTER__API_KEY", "sk-test-dummy")  # LiteLLM's openai/ needs one
    get_settings.cache_clear()
    yield
    get_settings.cache_clear()


def _eval_with_oracle(tmp_path: Path, *options: str) -> OracleServer:
    """``eval route --llm-router openai/oracle`` on the toy split; returns the (stopped) oracle server."""
    train = _write(tmp_path / "train.csv", TRAIN)
    test = _write(tmp_path / "test.csv", TEST)
    with OracleServer(dict(TEST)) as server:
        argv = ["eval", "route", "--train", str(train), "--test", str(test), *options,
                "--llm-router", "openai/oracle", "--llm-api-base", server.base_url]  # fmt: skip
        assert main(argv) == 0
    return server


def test_eval_route_llm_router_reports_middle_before_after_and_calls(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], wide_middle: None
) -> None:
    server = _eval_with_oracle(tmp_path, "--json")
    m = json.loads(capsys.readouterr().out)["llm_router"]
    assert m["rows_asked"] > 0 and m["llm_calls"] == m["rows_asked"] == len(server.requests)
    assert m["middle_accuracy_after"] == 1.0 and m["unavailable"] == {}
    assert m["middle_truth_in_candidates"] == 1.0  # 4 labels, top-5 + oos: always offered
    assert m["middle_accuracy_before"] < m["middle_accuracy_after"]  # the toy router gets some wrong
    assert m["relabel_broke"] == 0 and m["relabeled"] == m["relabel_fixed"] > 0


def test_eval_route_llm_router_text_report_and_limit(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], wide_middle: None
) -> None:
    server = _eval_with_oracle(tmp_path, "--llm-limit", "2")
    out = capsys.readouterr().out
    assert "llm router        openai/oracle" in out and "2 rows asked" in out and "middle accuracy" in out
    assert len(server.requests) == 2
