"""Start and stop worker processes (``supportflow worker``) for ``run``, ``demo`` and tests.

Workers are separate processes, as in production: a crash or SIGKILL of one is real, and Faust owns
its process's signals and event loop.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Mapping
from pathlib import Path


class WorkerProcess:
    def __init__(
        self,
        bootstrap: str,
        *,
        embedded: bool,
        kb_in_memory: bool = True,
        env: Mapping[str, str] | None = None,
        log_path: Path | None = None,
        cpus: frozenset[int] | None = None,
    ) -> None:
        """``cpus``: pin the worker to these cores (and size its encoder to them), as a pod's CPU limit would."""
        args = [sys.executable, "-m", "supportflow.cli.main", "worker", "--broker", bootstrap]
        if embedded:
            args.append("--embedded-quirks")
        if kb_in_memory:
            args.append("--kb-in-memory")
        self._log = open(log_path, "ab") if log_path else subprocess.DEVNULL  # noqa: SIM115
        full_env = {**os.environ, **(env or {})}
        if cpus:
            full_env["SUPPORTFLOW_EMBEDDING_THREADS"] = str(len(cpus))
        self.proc = subprocess.Popen(
            args, env=full_env, stdin=subprocess.DEVNULL, stdout=self._log, stderr=subprocess.STDOUT,
            preexec_fn=(lambda: os.sched_setaffinity(0, cpus)) if cpus else None,
        )  # fmt: skip

    @property
    def pid(self) -> int:
        return self.proc.pid

    def alive(self) -> bool:
        return self.proc.poll() is None

    def kill(self) -> None:
        """SIGKILL: no shutdown hooks, no offset commit — the crash case."""
        if self.alive():
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait(timeout=10)

    def stop(self, timeout_s: float = 15.0) -> None:
        if self.alive():
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=timeout_s)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=5)
        if self._log is not subprocess.DEVNULL:
            self._log.close()  # type: ignore[union-attr]


def stop_all(workers: list[WorkerProcess]) -> None:
    for w in workers:
        if w.alive():
            w.proc.send_signal(signal.SIGTERM)
    deadline = time.monotonic() + 15
    for w in workers:
        w.stop(timeout_s=max(0.1, deadline - time.monotonic()))
