"""The chart's feedback join, schema-registry and tracing values, rendered by the real Helm engine as
tests/unit/test_helm_chart.py renders the rest of the chart (helm-sdkpy install against a loopback
stand-in for the Kubernetes API, built-in kinds validated with kubernetes-validate)."""

from __future__ import annotations

import base64
import json
from pathlib import Path
from typing import Any, get_args

import jsonschema
import pytest
import yaml

pytest.importorskip("helm_sdkpy")
pytest.importorskip("kubernetes_validate")

from tests.unit.test_helm_chart import (
    BOOTSTRAP,
    CHART,
    KAFKA_USER_SCHEMA,
    PERSONAL_DATA_READERS,
    STAGES,
    ChartInstallError,
    _acl_table,
    _by_kind,
    _chart_copy,
    _expected_acls,
    _install,
    _kafka_users,
    _personal_data_reads,
    _pod_specs,
    _validate_built_in,
)

JOIN = "sf-supportflow-feedback-join"
FEEDBACK_SECRETS = {
    "SUPPORTFLOW_FEEDBACK__ZENDESK_WEBHOOK_SECRET": "zendesk-signing-3f9a",
    "SUPPORTFLOW_FEEDBACK__FRESHDESK_WEBHOOK_TOKEN": "freshdesk-token-77c1",
    "SUPPORTFLOW_FEEDBACK__AGENT_ID_KEY": "agent-hash-key-0b2e",
}
REGISTRY = {
    "url": "https://registry.example:8081",
    "outcomesFormat": "json",
    "basicAuth": {"existingSecret": "registry-auth", "key": "user-info"},
}
TRACING = {
    "enabled": True,
    "endpoint": "http://otel-collector.observability:4318",
    "sampler": "parentbased_traceidratio",
    "samplerArg": "0.1",
    "headers": {"existingSecret": "otlp-auth", "key": "headers"},
}
# The feedback join with everything it interacts with: ACLs, monitoring, the registry, tracing, egress.
FEEDBACK_ON = {
    "kafka": {**BOOTSTRAP["kafka"], "acls": {"enabled": True, "strimziCluster": "events"}},
    "feedback": {"join": {"enabled": True}},
    "secrets": {"create": {"feedbackZendeskWebhookSecret": FEEDBACK_SECRETS[
        "SUPPORTFLOW_FEEDBACK__ZENDESK_WEBHOOK_SECRET"],
        "feedbackFreshdeskWebhookToken": FEEDBACK_SECRETS["SUPPORTFLOW_FEEDBACK__FRESHDESK_WEBHOOK_TOKEN"],
        "feedbackAgentIdKey": FEEDBACK_SECRETS["SUPPORTFLOW_FEEDBACK__AGENT_ID_KEY"]}},
    "egress": {"connectors": {"zendesk": {"enabled": True}}},
    "schemaRegistry": REGISTRY,
    "tracing": TRACING,
    "monitoring": {"serviceMonitor": {"enabled": True}},
}  # fmt: skip
# The shadow worker cannot run with ACLs on, so its registry and tracing env is checked apart.
SHADOW_ON = {
    **BOOTSTRAP,
    "shadow": {"enabled": True, "policyPath": "/candidate/policy.yaml"},
    "secrets": {"existingSecret": "supportflow-prod"},
    "schemaRegistry": REGISTRY,
    "tracing": TRACING,
}


@pytest.fixture(scope="module")
def feedback_on(tmp_path_factory: pytest.TempPathFactory) -> list[dict[str, Any]]:
    return _install(_chart_copy(tmp_path_factory.mktemp("chart")), FEEDBACK_ON)


@pytest.fixture(scope="module")
def defaults(tmp_path_factory: pytest.TempPathFactory) -> list[dict[str, Any]]:
    return _install(_chart_copy(tmp_path_factory.mktemp("chart")), BOOTSTRAP)


def _deployment(objects: list[dict[str, Any]], name: str) -> dict[str, Any]:
    (found,) = [o for o in _by_kind(objects, "Deployment") if o["metadata"]["name"] == name]
    return found


def _container(objects: list[dict[str, Any]], name: str) -> dict[str, Any]:
    return _pod_specs(objects)[name]["containers"][0]


def _env(container: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {e["name"]: e for e in container.get("env", [])}


def _config(objects: list[dict[str, Any]]) -> dict[str, str]:
    (config,) = [
        c for c in _by_kind(objects, "ConfigMap") if c["metadata"]["name"] == "sf-supportflow-config"
    ]
    return config["data"]


def _values_with(**overrides: Any) -> dict[str, Any]:
    values = yaml.safe_load((CHART / "values.yaml").read_text())
    for dotted, value in overrides.items():
        *parents, leaf = dotted.split("__")
        node = values
        for key in parents:
            node = node[key]
        node[leaf] = value
    return values


def _schema() -> dict[str, Any]:
    return json.loads((CHART / "values.schema.json").read_text())


# --- the feedback join Deployment ----------------------------------------------------------------


@pytest.mark.slow
def test_chart_feedback_join_enabled_one_replica_recreate_running_the_join(feedback_on):
    assert _validate_built_in(feedback_on) > 0
    deployment = _deployment(feedback_on, JOIN)
    assert deployment["spec"]["replicas"] == 1
    assert deployment["spec"]["strategy"] == {"type": "Recreate"}  # never two joins at once
    join = _container(feedback_on, JOIN)
    assert join["args"] == ["feedback", "join"]
    # No autoscaler or disruption budget may act on it.
    targets = [h["spec"]["scaleTargetRef"]["name"] for h in _by_kind(feedback_on, "HorizontalPodAutoscaler")]
    assert JOIN not in targets
    assert not any("feedback" in p["metadata"]["name"] for p in _by_kind(feedback_on, "PodDisruptionBudget"))


@pytest.mark.slow
def test_chart_feedback_join_same_config_secret_and_security_as_worker(feedback_on):
    worker, join = _container(feedback_on, "sf-supportflow-worker"), _container(feedback_on, JOIN)
    assert join["envFrom"] == worker["envFrom"]
    assert join["securityContext"] == worker["securityContext"]
    assert join["image"] == worker["image"]
    pods = _pod_specs(feedback_on)
    assert pods[JOIN]["securityContext"] == pods["sf-supportflow-worker"]["securityContext"]
    assert pods[JOIN]["automountServiceAccountToken"] is False
    assert {m["mountPath"] for m in join["volumeMounts"]} == {"/tmp", "/var/lib/supportflow"}


@pytest.mark.slow
def test_chart_feedback_join_metrics_port_scraped_like_the_workers(feedback_on):
    join = _container(feedback_on, JOIN)
    assert {p["name"]: p["containerPort"] for p in join["ports"]} == {"metrics": 9102}
    assert join["livenessProbe"]["httpGet"] == {"path": "/metrics", "port": "metrics"}
    # The headless metrics Service (which the ServiceMonitor selects) must pick the join's pod.
    (metrics,) = [s for s in _by_kind(feedback_on, "Service") if s["metadata"]["name"].endswith("-metrics")]
    pod_labels = _deployment(feedback_on, JOIN)["spec"]["template"]["metadata"]["labels"]
    assert metrics["spec"]["selector"].items() <= pod_labels.items()
    assert {"name": "metrics", "port": 9102, "targetPort": "metrics", "protocol": "TCP"} in metrics["spec"][
        "ports"
    ]
    (monitor,) = _by_kind(feedback_on, "ServiceMonitor")
    assert monitor["spec"]["selector"]["matchLabels"].items() <= metrics["metadata"]["labels"].items()
    assert [e["port"] for e in monitor["spec"]["endpoints"]] == ["metrics"]


@pytest.mark.slow
def test_chart_feedback_join_default_renders_no_join(defaults):
    assert not any("feedback" in o["metadata"]["name"] for o in defaults)


@pytest.mark.slow
def test_chart_feedback_join_metrics_off_renders_no_port_or_probe(tmp_path):
    values = {**BOOTSTRAP, "feedback": {"join": {"enabled": True}}, "metrics": {"port": 0}}
    join = _container(_install(_chart_copy(tmp_path), values), JOIN)
    assert "ports" not in join and "livenessProbe" not in join and "startupProbe" not in join


# --- feedback webhook secrets --------------------------------------------------------------------


@pytest.mark.slow
def test_chart_feedback_secrets_only_in_the_secret_never_inline(feedback_on):
    (secret,) = _by_kind(feedback_on, "Secret")
    stored = {k: base64.b64decode(v).decode() for k, v in secret["data"].items()}
    assert {k: stored[k] for k in FEEDBACK_SECRETS} == FEEDBACK_SECRETS
    others = json.dumps([o for o in feedback_on if o["kind"] != "Secret"])
    assert not [value for value in FEEDBACK_SECRETS.values() if value in others]
    webhook = _container(feedback_on, "sf-supportflow-webhook")
    assert {"secretRef": {"name": secret["metadata"]["name"]}} in webhook["envFrom"]


@pytest.mark.slow
def test_chart_feedback_secrets_unset_by_default_nothing_stored(defaults):
    (secret,) = _by_kind(defaults, "Secret")
    assert not any(k.startswith("SUPPORTFLOW_FEEDBACK__") for k in secret.get("data") or {})


# --- schema registry -----------------------------------------------------------------------------


@pytest.mark.slow
def test_chart_schema_registry_url_unset_renders_no_registry_env(defaults):
    assert not any(k.startswith("SUPPORTFLOW_SCHEMA_REGISTRY__") for k in _config(defaults))
    for name, pod in _pod_specs(defaults).items():
        for container in pod["containers"]:
            assert not any(n.startswith("SUPPORTFLOW_SCHEMA_REGISTRY__") for n in _env(container)), name


@pytest.mark.slow
def test_chart_schema_registry_url_set_renders_url_format_and_credentials_by_reference(feedback_on):
    data = _config(feedback_on)
    assert data["SUPPORTFLOW_SCHEMA_REGISTRY__URL"] == REGISTRY["url"]
    assert data["SUPPORTFLOW_SCHEMA_REGISTRY__OUTCOMES_FORMAT"] == "json"
    assert "SUPPORTFLOW_SCHEMA_REGISTRY__BASIC_AUTH_USER_INFO" not in data
    reference = {"secretKeyRef": {"name": "registry-auth", "key": "user-info"}}
    for name in ("sf-supportflow-worker", "sf-supportflow-webhook", JOIN, "sf-supportflow-egress-zendesk"):
        auth = _env(_container(feedback_on, name))["SUPPORTFLOW_SCHEMA_REGISTRY__BASIC_AUTH_USER_INFO"]
        assert auth == {
            "name": "SUPPORTFLOW_SCHEMA_REGISTRY__BASIC_AUTH_USER_INFO",
            "valueFrom": reference,
        }, name


def test_chart_schema_registry_settings_accept_the_rendered_values():
    """The names and values the chart renders are the ones supportflow/settings.py reads."""
    from supportflow.settings import SchemaRegistrySettings

    settings = SchemaRegistrySettings.model_validate(
        {"url": REGISTRY["url"], "outcomes_format": REGISTRY["outcomesFormat"], "basic_auth_user_info": "u:p"}
    )
    assert settings.outcomes_format == "json"
    schema = _schema()["properties"]["schemaRegistry"]["properties"]["outcomesFormat"]
    formats = get_args(SchemaRegistrySettings.model_fields["outcomes_format"].annotation)
    assert set(schema["enum"]) == set(formats)


# --- tracing -------------------------------------------------------------------------------------


@pytest.mark.slow
def test_chart_tracing_enabled_otel_env_on_workers_webhook_and_join_headers_by_reference(feedback_on):
    for name in ("sf-supportflow-worker", "sf-supportflow-webhook", JOIN):
        env = _env(_container(feedback_on, name))
        assert env["OTEL_EXPORTER_OTLP_ENDPOINT"]["value"] == TRACING["endpoint"], name
        assert env["OTEL_EXPORTER_OTLP_PROTOCOL"]["value"] == "http/protobuf", name
        assert env["OTEL_TRACES_SAMPLER"]["value"] == "parentbased_traceidratio", name
        assert env["OTEL_TRACES_SAMPLER_ARG"]["value"] == "0.1", name
        assert env["OTEL_EXPORTER_OTLP_HEADERS"] == {
            "name": "OTEL_EXPORTER_OTLP_HEADERS",
            "valueFrom": {"secretKeyRef": {"name": "otlp-auth", "key": "headers"}},
        }, name
    assert not any(
        n.startswith("OTEL_") for n in _env(_container(feedback_on, "sf-supportflow-egress-zendesk"))
    )


@pytest.mark.slow
def test_chart_tracing_default_off_no_otel_env(defaults):
    for name, pod in _pod_specs(defaults).items():
        assert not any(n.startswith("OTEL_") for n in _env(pod["containers"][0])), name


@pytest.mark.slow
def test_chart_shadow_gets_registry_credentials_but_no_tracing(tmp_path):
    objects = _install(_chart_copy(tmp_path), SHADOW_ON)
    _validate_built_in(objects)
    env = _env(_container(objects, "sf-supportflow-shadow"))
    assert "SUPPORTFLOW_SCHEMA_REGISTRY__BASIC_AUTH_USER_INFO" in env
    assert not any(n.startswith("OTEL_") for n in env)  # its spans would join the live tickets' traces
    assert env["SUPPORTFLOW_METRICS_PORT"]["value"] == "0"


@pytest.mark.slow
def test_chart_tracing_enabled_without_endpoint_fails_install(tmp_path):
    with pytest.raises(ChartInstallError, match=r"tracing\.endpoint is required"):
        _install(_chart_copy(tmp_path), {**BOOTSTRAP, "tracing": {"enabled": True}})


# --- Kafka ACLs ----------------------------------------------------------------------------------


def _expected_with_join(app_id: str = "supportflow") -> dict[str, dict[tuple[str, str], set[str]]]:
    t = {n: f"supportflow.{n}" for n in ("ingress.raw", *STAGES, "outcomes", "deadletter", "audit", "control",
                                         "feedback")}  # fmt: skip
    expected = _expected_acls("supportflow", app_id, ["zendesk"], admin_flags=False)
    # The feedback routes of the ingress service write feedback and dead-letter what they cannot parse.
    expected["webhook"][("topic", t["feedback"])] = {"Write", "Describe"}
    expected["webhook"][("topic", t["deadletter"])] = {"Write", "Describe"}
    join = f"{app_id}-feedback"
    expected["feedback-join"] = {
        ("topic", t["outcomes"]): {"Read", "Describe"},
        ("topic", t["feedback"]): {"Read", "Create", "Describe"},
        ("topic", f"{join}-feedback_join-changelog"): {"Read", "Write", "Create", "Describe"},
        ("topic", t["deadletter"]): {"Write", "Describe"},
        **{("topic", t[n]): {"Describe"} for n in ("ingress.raw", *STAGES, "audit", "control")},
        ("topic", f"{app_id}-conversations-changelog"): {"Describe"},
        ("topic", f"{join}-__assignor-__leader"): {"Describe"},
        ("group", join): {"Read", "Describe"},
    }
    return expected


@pytest.mark.slow
def test_kafka_acls_feedback_join_and_webhook_grants_exact(feedback_on):
    users = _kafka_users(feedback_on)
    for user in users.values():
        jsonschema.validate(user, KAFKA_USER_SCHEMA)
    assert users["feedback-join"]["metadata"]["name"] == JOIN
    assert {c: _acl_table(u) for c, u in users.items()} == _expected_with_join()


def test_kafka_acls_feedback_join_names_are_the_joins_topics_and_group():
    """The expected grants above name what streams/feedback.py creates and consumes."""
    from supportflow.settings import Settings
    from supportflow.streams.feedback import join_app_id, join_topics

    settings = Settings(app_id="supportflow")
    expected = _expected_with_join()["feedback-join"]
    created = {name for (kind, name), ops in expected.items() if kind == "topic" and "Create" in ops}
    assert created == {spec.name for spec in join_topics(settings)}
    assert ("group", join_app_id(settings)) in expected
    read = {name for (kind, name), ops in expected.items() if kind == "topic" and "Read" in ops}
    t = settings.topics
    assert read - created == {t.full(t.outcomes)}


@pytest.mark.slow
def test_kafka_acls_feedback_join_reads_outcomes_only_of_personal_data_topics(feedback_on):
    assert _personal_data_reads(feedback_on) == {**PERSONAL_DATA_READERS, "feedback-join": {"outcomes"}}


@pytest.mark.slow
def test_kafka_acls_feedback_join_principal_override(tmp_path):
    principals = {"worker": "", "webhook": "", "egress": "", "topics": "", "feedbackJoin": "learning-loop"}
    acls = {"enabled": True, "strimziCluster": "events", "principals": principals}
    values = {"kafka": {**BOOTSTRAP["kafka"], "acls": acls}, "feedback": {"join": {"enabled": True}}}
    users = _kafka_users(_install(_chart_copy(tmp_path), values))
    assert users["feedback-join"]["metadata"]["name"] == "learning-loop"
    assert users["worker"]["metadata"]["name"] == "sf-supportflow-worker"


# --- values.schema.json --------------------------------------------------------------------------


def test_values_schema_new_blocks_defaults_valid_and_off():
    values = yaml.safe_load((CHART / "values.yaml").read_text())
    jsonschema.validate(values, _schema())
    assert values["feedback"]["join"]["enabled"] is False and values["feedback"]["join"]["replicas"] == 1
    assert values["schemaRegistry"]["url"] == "" and values["tracing"]["enabled"] is False
    assert not any(values["secrets"]["create"][k] for k in
                   ("feedbackZendeskWebhookSecret", "feedbackFreshdeskWebhookToken", "feedbackAgentIdKey"))  # fmt: skip


@pytest.mark.parametrize(
    ("override", "path"),
    [
        ({"feedback__join__replicas": 2}, "replicas"),
        ({"feedback__join__replicas": 0}, "replicas"),
        ({"feedback__join__autoscaling": {"enabled": True}}, "autoscaling"),
        ({"feedback__webhookSecret": "x"}, "webhookSecret"),
        ({"schemaRegistry__outcomesFormat": "protobuf"}, "protobuf"),
        ({"schemaRegistry__url": "https://user:secret@registry:8081"}, "url"),
        ({"schemaRegistry__password": "x"}, "password"),
        ({"schemaRegistry__basicAuth": {"existingSecret": "r", "key": "k", "value": "u:p"}}, "value"),
        ({"tracing__headers": {"existingSecret": "", "key": "k", "value": "Authorization=Basic x"}}, "value"),
        ({"tracing__endpoint": "otel-collector:4318"}, "otel-collector"),
        ({"tracing__sampler": "sometimes"}, "sometimes"),
        ({"tracing__exporter": "zipkin"}, "exporter"),
        ({"secrets__create": {"feedbackZendeskSecret": "x"}}, "feedbackZendeskSecret"),
        ({"kafka__acls__principals": {"worker": "", "webhook": "", "egress": "", "topics": "",
                                      "feedbackJoin": "Learning"}}, "Learning"),
    ],
)  # fmt: skip
def test_values_schema_bad_feedback_registry_tracing_values_rejected(override, path):
    with pytest.raises(jsonschema.ValidationError, match=path):
        jsonschema.validate(_values_with(**override), _schema())


@pytest.mark.slow
def test_install_feedback_join_two_replicas_refused(tmp_path: Path):
    with pytest.raises(ChartInstallError, match="replicas"):
        _install(_chart_copy(tmp_path), {**BOOTSTRAP, "feedback": {"join": {"enabled": True, "replicas": 2}}})
