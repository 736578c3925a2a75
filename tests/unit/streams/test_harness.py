"""The pipeline harness without a broker: worker log folders, core pinning, worker environments."""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from typing import Any

import pytest

from supportflow.settings import get_settings
from supportflow.streams import harness
from supportflow.streams.harness import WorkerLogs, running_pipeline, worker_cpus


def test_worker_logs_clean_exit_removed():
    with WorkerLogs("supportflow-test-") as logs:
        logs.worker_log(0).write_text("ok\n")
    assert not logs.path.exists()


def test_worker_logs_ctrl_c_removed():
    with pytest.raises(KeyboardInterrupt), WorkerLogs("supportflow-test-") as logs:
        raise KeyboardInterrupt
    assert not logs.path.exists()


def test_worker_logs_error_kept_and_named(capsys):
    with pytest.raises(TimeoutError), WorkerLogs("supportflow-test-") as logs:
        raise TimeoutError("workers not ready")
    assert logs.path.exists() and f"worker logs kept in {logs.path}" in capsys.readouterr().err
    logs.path.rmdir()


@pytest.mark.parametrize("how", ["keep", "mark_failed"])
def test_worker_logs_kept_on_request_or_failure(capsys, how):
    with WorkerLogs("supportflow-test-", keep=how == "keep") as logs:
        if how == "mark_failed":
            logs.mark_failed()
    assert logs.path.exists() and str(logs.path) in capsys.readouterr().err
    logs.path.rmdir()


def test_worker_cpus_zero_unpinned_else_consecutive_wrapping():
    cores = sorted(os.sched_getaffinity(0))
    assert worker_cpus(0, 0) is None
    assert worker_cpus(0, 1) == frozenset({cores[0]})
    assert worker_cpus(len(cores), 1) == frozenset({cores[0]})  # wraps around the machine


class _Proc:
    def __init__(self, returncode: int) -> None:
        self.returncode = returncode


class _Worker:
    started: list[dict[str, Any]] = []
    exit_code = 0

    def __init__(self, bootstrap: str, **kwargs: Any) -> None:
        _Worker.started.append({"bootstrap": bootstrap, **kwargs})
        self.proc = _Proc(_Worker.exit_code)

    def alive(self) -> bool:
        return False


class _Reader:
    def __init__(self, *_args: Any, **_kwargs: Any) -> None:
        self.closed = False

    def close(self) -> None:
        self.closed = True


@pytest.fixture
def no_broker(monkeypatch):
    @contextlib.contextmanager
    def broker_for(bootstrap: str | None) -> Iterator[tuple[str, bool]]:
        yield bootstrap or "127.0.0.1:4400", bootstrap is None

    _Worker.started, _Worker.exit_code = [], 0
    monkeypatch.setattr(harness, "broker_for", broker_for)
    monkeypatch.setattr(harness, "ensure_topics", lambda *_a: [])
    monkeypatch.setattr(harness, "WorkerProcess", _Worker)
    monkeypatch.setattr(harness, "OutcomeReader", _Reader)
    monkeypatch.setattr(harness, "stop_all", lambda _workers: None)
    return _Worker


def test_running_pipeline_metrics_port_per_worker(no_broker):
    with (
        WorkerLogs("supportflow-test-") as logs,
        running_pipeline(get_settings(), logs, workers=2, env={"A": "1"}, metrics_port=9500) as pipe,
    ):
        assert pipe.embedded and pipe.bootstrap == "127.0.0.1:4400"
    envs = [w["env"] for w in no_broker.started]
    assert envs == [
        {"A": "1", "SUPPORTFLOW_METRICS_PORT": "9500"},
        {"A": "1", "SUPPORTFLOW_METRICS_PORT": "9501"},
    ]
    assert [w["log_path"].name for w in no_broker.started] == ["worker-0.log", "worker-1.log"]


def test_running_pipeline_without_metrics_port_leaves_the_environment_alone(no_broker):
    with WorkerLogs("supportflow-test-") as logs, running_pipeline(get_settings(), logs, bootstrap="b:1"):
        pass
    assert no_broker.started[0]["env"] == {} and no_broker.started[0]["bootstrap"] == "b:1"


@pytest.mark.parametrize(
    ("exit_code", "kept"), [(0, False), (-15, False), (-2, False), (1, True), (-9, True)]
)
def test_running_pipeline_worker_exit_status_decides_whether_logs_are_kept(no_broker, exit_code, kept):
    no_broker.exit_code = exit_code
    with WorkerLogs("supportflow-test-") as logs, running_pipeline(get_settings(), logs):
        pass
    assert logs.path.exists() is kept
    if kept:
        logs.path.rmdir()


def test_running_pipeline_interrupted_workers_killed_at_stop_logs_removed(no_broker):
    no_broker.exit_code = -9  # the broker died of the same Ctrl-C: the worker hung and was killed
    with WorkerLogs("supportflow-test-") as logs, running_pipeline(get_settings(), logs) as pipe:
        pipe.interrupted = True
    assert not logs.path.exists()


def test_running_pipeline_ctrl_c_in_the_block_logs_removed(no_broker):
    no_broker.exit_code = 1
    with (
        pytest.raises(KeyboardInterrupt),
        WorkerLogs("supportflow-test-") as logs,
        running_pipeline(get_settings(), logs),
    ):
        raise KeyboardInterrupt
    assert not logs.path.exists()
