"""Gate floors, run comparison, scorecard and charts."""

import pytest

from supportflow.evals.golden_report import (
    compare,
    default_gate_path,
    gate_failures,
    load_floors,
    scorecard_markdown,
    write_charts,
)
from supportflow.schemas.errors import InvalidInputError


def metrics(**over):
    group = {"n": 2, "auto_resolved": 1, "suggested": 0, "escalated": 1, "missing": 0, "deflection_rate": 0.5,
             "bad_answers": 0, "intent_accuracy": 1.0, "decision_matches_band": 1.0, "escalation_recall": 1.0,
             "p95_latency_ms": 120.0}  # fmt: skip
    m = {
        "cases": 2, "outcomes": 2, "missing": 0, "deflection_rate": 0.5, "suggest_rate": 0.0,
        "escalation_rate": 0.5, "bad_answer_rate": 0.0, "bad_answers": 0, "groundedness": 0.97,
        "groundedness_floor": 0.92, "groundedness_share_at_floor": 1.0, "escalation_precision": 1.0,
        "escalation_recall": 1.0, "intent_accuracy": 1.0, "decision_matches_band": 1.0,
        "p50_latency_ms": 80.0, "p95_latency_ms": 120.0, "p99_latency_ms": 130.0,
        "stage_latency_ms": {"route": {"p50": 5.0, "p95": 8.0, "p99": 9.0}},
        "band_confusion": {"auto": {"auto_resolved": 1}, "escalate": {"escalated": 1}},
        "per_intent": {"track_order": group, "complaint": group}, "per_channel": {"api": group},
        "per_tag": {"bitext": group}, "bad_answer_cases": [],
        "cost": {"commodity_model": "gpt-4o-mini", "frontier_model": "gpt-4o",
                 "cost_per_resolution_routed": 0.0004, "cost_per_resolution_frontier_only": 0.004,
                 "frontier_to_routed_ratio": 10.0},
        "cost_per_resolution_routed": 0.0004, "cost_per_resolution_frontier_only": 0.004,
        "conversation_escalation_recall": 1.0, "conversation_bad_answer_rate": 0.0,
        "conversation_closed_when_not_expected": 0, "wrong_language_answers": 0,
    }  # fmt: skip
    m.update(over)
    return m


def test_load_floors_bundled_gate_has_the_issue_floors():
    assert load_floors(default_gate_path()) == {
        "groundedness": (">=", 0.94), "escalation_recall": (">=", 0.95), "bad_answer_rate": ("<=", 0.02),
        "wrong_language_answers": ("<=", 0.0), "conversation_escalation_recall": (">=", 0.95), "conversation_bad_answer_rate": ("<=", 0.03),
        "conversation_closed_when_not_expected": ("<=", 0.0),
    }  # fmt: skip


def test_load_floors_unknown_section_is_rejected(tmp_path):
    path = tmp_path / "gate.yaml"
    path.write_text("minimum:\n  groundedness: 0.9\n")
    with pytest.raises(InvalidInputError, match="only 'min:' and 'max:'"):
        load_floors(path)


def test_gate_failures_lists_each_failed_floor_and_unmeasured_metrics():
    floors = load_floors(default_gate_path()) | {"deflection_rate": (">=", 0.9), "nope": (">=", 1.0)}
    failed = gate_failures(metrics(bad_answer_rate=0.05, groundedness=0.95), floors)
    assert failed == ["bad_answer_rate = 0.05, needs <= 0.02", "deflection_rate = 0.5, needs >= 0.9",
                      "nope: not measured (needs >= 1)"]  # fmt: skip


def test_gate_failures_passing_run_has_none():
    assert gate_failures(metrics(), load_floors(default_gate_path())) == []


def test_compare_shows_deltas_direction_and_moved_intents():
    old = metrics(deflection_rate=0.4, p95_latency_ms=100.0)
    old["per_intent"] = {
        **old["per_intent"],
        "track_order": {**old["per_intent"]["track_order"], "deflection_rate": 0.0},
    }
    text = compare(metrics(), old)
    assert "deflection_rate" in text and "+0.1" in text and "better" in text
    assert "+20" in text and "worse" in text
    track = next(line for line in text.splitlines() if line.startswith("track_order"))
    assert track.endswith("*")
    assert not next(line for line in text.splitlines() if line.startswith("complaint")).endswith("*")


def test_write_charts_and_scorecard_reference_three_pngs(tmp_path):
    charts = write_charts(metrics(), [50.0, 80.0, 120.0], tmp_path)
    assert sorted(p.split("/")[-1] for p in charts) == ["bands_by_intent.png", "cost.png", "latency.png"]
    assert all((tmp_path / p.split("/")[-1]).read_bytes()[:4] == b"\x89PNG" for p in charts)
    md = scorecard_markdown(metrics(), charts, "supportflow eval golden")
    assert "| auto-resolved (deflection) | 50.0% |" in md and "![latency](latency.png)" in md
    assert "$0.00" in md
