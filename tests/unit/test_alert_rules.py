"""Alert rules: promtool checks the file and runs its unit tests; every alert is labelled and documented.

promtool comes from the Debian ``prometheus`` package (CI installs it); without it the promtool tests
skip with that reason and the static checks still run.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
FILES = ROOT / "helm" / "supportflow" / "files"
RULES = FILES / "alerts.yaml"
RULE_TESTS = FILES / "alerts_test.yaml"
OPERATIONS = ROOT / "docs" / "operations.md"
DASHBOARD = ROOT / "helm" / "supportflow" / "dashboards" / "supportflow.json"
REQUIRED_ALERTS = {
    "SupportflowDeflectionCollapse", "SupportflowBadAnswerProxyRising", "SupportflowEndToEndLatencyHigh",
    "SupportflowDeadLettersGrowing", "SupportflowConsumerLagHigh", "SupportflowLlmErrorRateHigh",
    "SupportflowCostBurnHigh",
}  # fmt: skip


def _promtool() -> str:
    path = shutil.which("promtool")
    if path is None:
        pytest.skip(
            "promtool not installed (Debian package `prometheus`; CI runs `apt-get install -y prometheus`)"
        )
    return path


def _alerts() -> list[dict]:
    groups = yaml.safe_load(RULES.read_text())["groups"]
    return [rule for group in groups for rule in group["rules"] if "alert" in rule]


def _run(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(args, cwd=cwd, capture_output=True, text=True, timeout=120)


def test_promtool_check_rules_alerts_file_valid():
    result = _run(_promtool(), "check", "rules", str(RULES), cwd=FILES)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "SUCCESS" in result.stdout


def test_promtool_test_rules_synthetic_series_expected_alerts_fire():
    result = _run(_promtool(), "test", "rules", RULE_TESTS.name, cwd=FILES)
    assert result.returncode == 0, result.stdout + result.stderr


def test_promtool_test_rules_budget_raised_cost_alert_no_longer_fires(tmp_path):
    """The unit tests can fail: with a $100/h budget the $15/h burn in the tests must not alert."""
    shutil.copy(RULE_TESTS, tmp_path / RULE_TESTS.name)
    (tmp_path / RULES.name).write_text(RULES.read_text().replace("expr: vector(5)", "expr: vector(100)"))
    result = _run(_promtool(), "test", "rules", RULE_TESTS.name, cwd=tmp_path)
    assert result.returncode != 0
    assert "SupportflowCostBurnHigh" in result.stdout + result.stderr


def test_rule_tests_make_at_least_two_alerts_fire():
    tests = yaml.safe_load(RULE_TESTS.read_text())["tests"]
    firing = {
        case["alertname"]
        for test in tests
        for case in test.get("alert_rule_test", [])
        if case.get("exp_alerts")
    }
    assert len(firing) >= 2
    assert firing <= {a["alert"] for a in _alerts()}


def test_alerts_cover_required_set_with_severity_and_documented_runbook():
    alerts = _alerts()
    assert {a["alert"] for a in alerts} >= REQUIRED_ALERTS
    anchors = {
        re.sub(r"[^a-z0-9 -]", "", line.lstrip("#").strip().lower()).replace(" ", "-")
        for line in OPERATIONS.read_text().splitlines()
        if line.startswith("#")
    }
    for alert in alerts:
        assert alert["labels"]["severity"] in {"critical", "warning", "info"}, alert["alert"]
        runbook = alert["annotations"]["runbook"]
        path, _, anchor = runbook.partition("#")
        assert path == "docs/operations.md" and anchor in anchors, (
            f"{alert['alert']}: {runbook} has no heading"
        )


def test_rules_and_dashboard_only_reference_exported_metrics():
    """Every supportflow_* series in rules and dashboard exists in streams/metrics.py's registry."""
    from prometheus_client import REGISTRY

    from supportflow.streams import metrics  # noqa: F401  (registers the metrics)

    exported = {s.name for family in REGISTRY.collect() for s in family.samples} | {
        f.name for f in REGISTRY.collect()
    }
    text = RULES.read_text() + json.dumps(json.loads(DASHBOARD.read_text()))
    referenced = set(re.findall(r"\bsupportflow_[a-z_]+", text))
    # A labelled metric has no samples until first used; its family name is enough.
    bases = {re.sub(r"_(total|bucket|count|sum)$", "", name) for name in referenced}
    assert bases <= exported | {re.sub(r"_total$", "", n) for n in exported}, bases - exported
