"""``supportflow serve`` start-up checks, run as the real command in a subprocess."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from supportflow.streams.embedded import free_port

REPO = Path(__file__).resolve().parents[4]


def test_serve_admin_token_equal_to_api_key_refuses_to_start_without_printing_it():
    secret = "shared-secret-7c1d9e"
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith("SUPPORTFLOW_")},
        "SUPPORTFLOW_WEBHOOK__API_KEY": secret,
        "SUPPORTFLOW_WEBHOOK__ADMIN_TOKEN": secret,
        "LITELLM_LOCAL_MODEL_COST_MAP": "True",
    }
    # An unreachable broker: the command must stop before it ever needs one.
    command = [sys.executable, "-m", "supportflow.cli.main", "serve", "--broker", "127.0.0.1:1",
               "--port", str(free_port())]  # fmt: skip
    proc = subprocess.run(command, env=env, cwd=REPO, capture_output=True, text=True, timeout=60)
    assert proc.returncode == 2, proc.stderr
    refusals = [line for line in proc.stderr.splitlines() if "refusing to start" in line]
    assert len(refusals) == 1, proc.stderr
    assert "ADMIN_TOKEN" in refusals[0] and "API_KEY" in refusals[0]
    assert secret not in proc.stdout + proc.stderr
    assert "serving on" not in proc.stderr
