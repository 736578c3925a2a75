"""``eval golden`` end to end on a slice of the golden set, through the real embedded broker."""

import argparse
import json

import pytest

from supportflow.cli.golden import add_eval_parser
from supportflow.evals.golden import default_set_path

pytestmark = [pytest.mark.integration, pytest.mark.slow]

REQUIRED_KEYS = {
    "deflection_rate", "bad_answer_rate", "groundedness", "escalation_rate", "escalation_recall",
    "p95_latency_ms", "cost_per_resolution_routed", "cost_per_resolution_frontier_only",
}  # fmt: skip


def _eval(argv):
    parser = argparse.ArgumentParser()
    add_eval_parser(parser.add_subparsers(dest="eval_command"))
    args = parser.parse_args(["golden", *argv])
    return args.func(args)


@pytest.fixture(scope="module")
def subset(tmp_path_factory):
    """Every 8th case (~43): all four channels, Bitext and hand-written policy cases."""
    lines = default_set_path().read_text(encoding="utf-8").splitlines()[::8]
    path = tmp_path_factory.mktemp("golden") / "subset.jsonl"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path, [json.loads(line) for line in lines]


def test_eval_golden_subset_every_ticket_decided_and_json_complete(subset, tmp_path, capsys):
    path, cases = subset
    code = _eval(["--set", str(path), "--json", "--rate", "0", "--report", str(tmp_path / "report")])
    metrics = json.loads(capsys.readouterr().out)
    assert set(metrics) >= REQUIRED_KEYS
    assert metrics["cases"] == len(cases) and metrics["outcomes"] == len(cases) and metrics["missing"] == 0
    assert code == 0
    assert set(metrics["per_channel"]) == {"api", "chat", "email", "whatsapp"}
    assert metrics["cost"]["frontier_only_calls"] == len(cases)
    assert metrics["cost"]["band_mismatch_vs_run"] == 0
    assert metrics["cost_per_resolution_frontier_only"] >= metrics["cost_per_resolution_routed"]
    assert {p.name for p in (tmp_path / "report").iterdir()} >= {"scorecard.md", "latency.png", "cost.png"}

    gate = tmp_path / "gate.yaml"
    gate.write_text("min:\n  deflection_rate: 1.01\n")  # impossible: the gate must fail and say why
    previous = tmp_path / "run.json"
    previous.write_text(json.dumps(metrics))
    code = _eval(["--set", str(path), "--json", "--rate", "0", "--no-cost", "--gate", "--gate-config", str(gate),
                  "--compare", str(previous)])  # fmt: skip
    captured = capsys.readouterr()
    assert code == 1
    assert "release gate FAILED" in captured.err and "deflection_rate" in captured.err
    assert "previous" in captured.err and "delta" in captured.err
