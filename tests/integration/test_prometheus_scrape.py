"""Metrics against real servers: a real Prometheus scrapes a worker's endpoint; lag on the real broker."""

from __future__ import annotations

import json
import shutil
import socket
import subprocess
import time
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path

import pytest
import yaml
from confluent_kafka import Consumer, Producer, TopicPartition
from prometheus_client import REGISTRY

from supportflow.streams import metrics
from supportflow.streams.lag import LagSampler
from supportflow.streams.topics import TopicSpec, ensure_topics

pytestmark = pytest.mark.integration


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


CHART = Path(__file__).resolve().parents[2] / "helm" / "supportflow"


def _api(prom_port: int, path: str, **params: str) -> dict:
    url = f"http://127.0.0.1:{prom_port}/api/v1/{path}?" + urllib.parse.urlencode(params)
    try:
        with urllib.request.urlopen(url, timeout=5) as resp:
            return json.load(resp)
    except urllib.error.HTTPError as exc:
        return json.load(exc)  # a bad query answers 400 with the error in the body
    except (urllib.error.URLError, ConnectionError):
        return {"status": "unreachable"}  # not listening yet


def _query(prom_port: int, expr: str) -> list[dict]:
    doc = _api(prom_port, "query", query=expr)
    return doc["data"]["result"] if doc.get("status") == "success" else []


def _dashboard_queries() -> list[str]:
    dashboard = json.loads((CHART / "dashboards" / "supportflow.json").read_text())
    exprs = [t["expr"] for panel in dashboard["panels"] for t in panel.get("targets", [])]
    # Grafana's variables, as Grafana would substitute them.
    return [
        e.replace("$job", ".*").replace("$__rate_interval", "1m").replace("$__range", "5m") for e in exprs
    ]


@pytest.mark.slow
def test_prometheus_scrapes_metrics_endpoint_query_returns_incremented_value(tmp_path: Path):
    binary = shutil.which("prometheus")
    if binary is None:
        pytest.skip("prometheus binary not installed (CI installs it with `apt-get install -y prometheus`)")
    channel = f"scrape{_free_port()}"  # a label value no other test increments
    metrics.observe_ticket_in(channel, 3)
    target = metrics.start_metrics_server(_free_port(), addr="127.0.0.1")
    prom_port = _free_port()
    config = tmp_path / "prometheus.yml"
    config.write_text(
        "global: {scrape_interval: 1s, evaluation_interval: 1s}\n"
        f"rule_files: ['{CHART / 'files' / 'alerts.yaml'}']\n"
        "scrape_configs:\n"
        "  - job_name: supportflow\n"
        f"    static_configs: [{{targets: ['127.0.0.1:{target}']}}]\n"
    )
    proc = subprocess.Popen(
        [binary, f"--config.file={config}", f"--storage.tsdb.path={tmp_path / 'data'}",
         f"--web.listen-address=127.0.0.1:{prom_port}"],
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
    )  # fmt: skip
    try:
        expr = f'supportflow_tickets_in_total{{channel="{channel}"}}'
        deadline = time.monotonic() + 30
        result: list[dict] = []
        while time.monotonic() < deadline and proc.poll() is None:
            result = _query(prom_port, expr)
            if result:
                break
            time.sleep(0.2)  # polling interval of the wait loop, not a fixed wait for readiness
        assert proc.poll() is None, proc.stderr.read().decode() if proc.stderr else "prometheus exited"
        assert result, f"prometheus never returned {expr}"
        assert float(result[0]["value"][1]) == 3.0
        assert result[0]["metric"]["job"] == "supportflow"
        # Every dashboard query parses and evaluates on a real Prometheus.
        for expr in _dashboard_queries():
            doc = _api(prom_port, "query", query=expr)
            assert doc["status"] == "success", f"{expr}: {doc.get('error')}"
        # The alert rules load and evaluate without errors.
        rules: list[dict] = []
        while time.monotonic() < deadline:
            groups = _api(prom_port, "rules").get("data", {}).get("groups", [])
            rules = [r for g in groups for r in g["rules"]]
            if rules and all(r.get("lastEvaluation", "").startswith("20") for r in rules):
                break
            time.sleep(0.2)
        in_file = yaml.safe_load((CHART / "files" / "alerts.yaml").read_text())["groups"]
        assert len(rules) == sum(len(g["rules"]) for g in in_file)  # every rule in the file loaded
        assert [r["name"] for r in rules if r["health"] != "ok"] == []
    finally:
        proc.terminate()
        proc.wait(timeout=10)


def _produce(bootstrap: str, topic: str, per_partition: dict[int, int]) -> None:
    producer = Producer({"bootstrap.servers": bootstrap, "linger.ms": 5})
    for partition, n in per_partition.items():
        for i in range(n):
            producer.produce(topic, value=f"{partition}-{i}".encode(), partition=partition)
    assert producer.flush(30) == 0


def _commit(bootstrap: str, group: str, offsets: list[TopicPartition]) -> None:
    consumer = Consumer({"bootstrap.servers": bootstrap, "group.id": group, "enable.auto.commit": False})
    consumer.commit(offsets=offsets, asynchronous=False)
    consumer.close()


def _gauge(topic: str, group: str) -> float | None:
    return REGISTRY.get_sample_value("supportflow_consumer_lag", {"topic": topic, "group": group})


def test_lag_sampler_fetch_strategy_lag_is_produced_minus_committed(broker, unique):
    topic, group = unique("lag"), unique("group")
    ensure_topics(broker.bootstrap, [TopicSpec(topic, 3, "test")])
    # Several flushes make several batches per partition: Tansu's ListOffsets is wrong exactly then.
    for _ in range(4):
        _produce(broker.bootstrap, topic, {0: 100, 1: 40, 2: 0})
    _commit(broker.bootstrap, group, [TopicPartition(topic, 0, 150), TopicPartition(topic, 1, 160)])
    sampler = LagSampler(broker.bootstrap, group, [topic], watermarks="fetch", timeout_s=10)
    try:
        lag = sampler.sample()
    finally:
        sampler.stop()
    assert lag == {topic: (400 - 150) + (160 - 160) + 0}
    assert _gauge(topic, group) == 250


def test_lag_sampler_uncommitted_partitions_count_from_log_start(broker, unique):
    topic, group = unique("lag"), unique("group")
    ensure_topics(broker.bootstrap, [TopicSpec(topic, 2, "test")])
    _produce(broker.bootstrap, topic, {0: 30, 1: 12})
    sampler = LagSampler(broker.bootstrap, group, [topic], watermarks="fetch", timeout_s=10)
    try:
        assert sampler.sample() == {topic: 42}
        _commit(broker.bootstrap, group, [TopicPartition(topic, 0, 30), TopicPartition(topic, 1, 2)])
        assert sampler.sample() == {topic: 10}
    finally:
        sampler.stop()


def test_lag_sampler_list_offsets_on_tansu_reads_low(broker, unique):
    """Documents why the embedded path needs ``watermarks="fetch"``: ListOffsets undercounts on Tansu."""
    topic, group = unique("lag"), unique("group")
    ensure_topics(broker.bootstrap, [TopicSpec(topic, 1, "test")])
    for _ in range(3):
        _produce(broker.bootstrap, topic, {0: 50})
    listed = LagSampler(broker.bootstrap, group, [topic], watermarks="list_offsets", timeout_s=10)
    fetched = LagSampler(broker.bootstrap, group, [topic], watermarks="fetch", timeout_s=10)
    try:
        assert fetched.sample() == {topic: 150}
        assert listed.sample()[topic] < 150
    finally:
        listed.stop()
        fetched.stop()


def test_lag_sampler_thread_updates_gauge(broker, unique):
    topic, group = unique("lag"), unique("group")
    ensure_topics(broker.bootstrap, [TopicSpec(topic, 1, "test")])
    _produce(broker.bootstrap, topic, {0: 7})
    sampler = LagSampler(
        broker.bootstrap, group, [topic], interval_s=0.2, watermarks="fetch", timeout_s=10
    ).start()
    try:
        deadline = time.monotonic() + 20
        while _gauge(topic, group) != 7 and time.monotonic() < deadline:
            time.sleep(0.05)
    finally:
        sampler.stop()
    assert _gauge(topic, group) == 7
