"""``supportflow run`` and ``worker`` before anything starts: the metrics port they will serve on."""

from __future__ import annotations

import argparse
import socket

import pytest

from supportflow.cli import run
from supportflow.cli.main import main
from supportflow.settings import Settings, get_settings


@pytest.fixture
def busy_port():
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        s.listen()
        yield s.getsockname()[1]


@pytest.fixture
def settings_env(monkeypatch):
    monkeypatch.delenv("SUPPORTFLOW_METRICS_PORT", raising=False)
    get_settings.cache_clear()
    yield monkeypatch
    get_settings.cache_clear()


def test_metrics_port_problem_busy_port_named_with_the_fix(busy_port):
    problem = run.metrics_port_problem(busy_port, run.WORKER_PORT_FIX)
    assert problem == f"metrics port {busy_port} is in use; {run.WORKER_PORT_FIX}"


def test_metrics_port_problem_free_port_none():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    assert run.metrics_port_problem(port, run.RUN_PORT_FIX) is None


def test_run_busy_metrics_port_one_line_exit_2_before_starting_anything(settings_env, busy_port, capsys):
    assert main(["run", "--metrics-port", str(busy_port)]) == 2
    err = capsys.readouterr().err
    assert err == f"supportflow: metrics port {busy_port} is in use; {run.RUN_PORT_FIX}\n"


def test_run_second_worker_busy_port_exit_2(settings_env, busy_port, capsys):
    assert main(["run", "--workers", "2", "--metrics-port", str(busy_port - 1)]) == 2
    assert f"metrics port {busy_port} is in use" in capsys.readouterr().err


def test_worker_busy_metrics_port_from_environment_one_line_exit_2(settings_env, busy_port, capsys):
    settings_env.setenv("SUPPORTFLOW_METRICS_PORT", str(busy_port))
    assert main(["worker", "--broker", "127.0.0.1:9"]) == 2
    assert (
        capsys.readouterr().err == f"supportflow: metrics port {busy_port} is in use; {run.WORKER_PORT_FIX}\n"
    )


@pytest.mark.parametrize(
    ("flag", "env", "expected"),
    [(9300, "9400", 9300), (None, "9400", 9400), (None, "0", 0), (None, None, 9102)],
)
def test_run_metrics_port_flag_then_environment_then_default(monkeypatch, flag, env, expected):
    monkeypatch.delenv("SUPPORTFLOW_METRICS_PORT", raising=False)
    if env is not None:
        monkeypatch.setenv("SUPPORTFLOW_METRICS_PORT", env)
    assert run.run_metrics_port(argparse.Namespace(metrics_port=flag), Settings()) == expected
