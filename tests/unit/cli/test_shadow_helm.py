"""The chart's optional shadow worker (helm/supportflow/templates/shadow-deployment.yaml), rendered by
the real Helm engine as tests/unit/test_helm_chart.py renders the rest of the chart."""

import pytest

pytest.importorskip("helm_sdkpy")
pytest.importorskip("kubernetes_validate")

from tests.unit.test_helm_chart import (
    BOOTSTRAP,
    ChartInstallError,
    _chart_copy,
    _install,
    _validate_built_in,
)

POLICY = "/candidate/policy.yaml"


def _shadow(objects):
    return [o for o in objects if o["kind"] == "Deployment" and o["metadata"]["name"].endswith("-shadow")]


def test_chart_shadow_enabled_renders_shadow_worker_with_candidate(tmp_path):
    values = {**BOOTSTRAP, "shadow": {
        "enabled": True, "policyPath": POLICY,
        "extraVolumes": [{"name": "candidate", "configMap": {"name": "candidate-policy"}}],
        "extraVolumeMounts": [{"name": "candidate", "mountPath": "/candidate", "readOnly": True}],
    }}  # fmt: skip
    objects = _install(_chart_copy(tmp_path), values)
    _validate_built_in(objects)
    (deployment,) = _shadow(objects)
    container = deployment["spec"]["template"]["spec"]["containers"][0]
    assert container["args"] == ["worker", "--shadow"]
    env = {e["name"]: e["value"] for e in container["env"]}
    assert env == {
        "SUPPORTFLOW_SHADOW": "true",
        "SUPPORTFLOW_METRICS_PORT": "0",
        "SUPPORTFLOW_POLICY_PATH": POLICY,
    }
    assert "ports" not in container  # not scraped: its decisions stay out of the live dashboards
    assert {"name": "candidate", "mountPath": "/candidate", "readOnly": True} in container["volumeMounts"]


def test_chart_shadow_default_renders_nothing(tmp_path):
    assert _shadow(_install(_chart_copy(tmp_path), BOOTSTRAP)) == []


def test_chart_shadow_without_candidate_fails_install(tmp_path):
    with pytest.raises(ChartInstallError, match=r"shadow\.routerPath or shadow\.policyPath"):
        _install(_chart_copy(tmp_path), {**BOOTSTRAP, "shadow": {"enabled": True}})
