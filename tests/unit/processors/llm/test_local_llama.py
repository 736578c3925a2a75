"""Opt-in: the local Qwen GGUF behind llama-cpp-python's OpenAI-compatible server, called through LiteLLM.

Runs only when ``llama_cpp`` (with its ``[server]`` extra) is installed AND ``SUPPORTFLOW_LLAMA_GGUF``
points at the model file; docs/models.md says how to build both. CI does not build llama-cpp-python
(about 11 minutes on 2 cores), so there this test is skipped with the reason below.
"""

from __future__ import annotations

import importlib.util
import os
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest
from pydantic import SecretStr

from supportflow.processors.llm import RetryPolicy, TierClient
from supportflow.schemas.models import Source, Tier
from supportflow.settings import ModelTiers

GGUF_ENV = "SUPPORTFLOW_LLAMA_GGUF"
GGUF = os.environ.get(GGUF_ENV, "")
HAVE_SERVER = importlib.util.find_spec("llama_cpp") is not None and (
    importlib.util.find_spec("uvicorn") is not None and importlib.util.find_spec("fastapi") is not None
)

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(not HAVE_SERVER, reason="llama-cpp-python[server] is not installed (opt-in path)"),
    pytest.mark.skipif(
        not GGUF or not Path(GGUF).is_file(), reason=f"{GGUF_ENV} does not point at the Qwen GGUF file"
    ),
]


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture(scope="module")
def llama_base_url() -> Iterator[str]:
    port = _free_port()
    command = [
        sys.executable, "-m", "llama_cpp.server", "--model", GGUF, "--model_alias", "qwen-local",
        "--host", "127.0.0.1", "--port", str(port), "--n_ctx", "4096",
    ]  # fmt: skip
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    base = f"http://127.0.0.1:{port}/v1"
    try:
        deadline = time.monotonic() + 180
        while time.monotonic() < deadline:
            try:
                with urllib.request.urlopen(f"{base}/models", timeout=2):
                    break
            except (urllib.error.URLError, ConnectionError):
                if process.poll() is not None:
                    pytest.fail(f"llama_cpp.server exited with {process.returncode}")
                time.sleep(1)
        else:
            pytest.fail("llama_cpp.server did not come up within 180 s")
        yield base
    finally:
        process.terminate()
        process.wait(timeout=30)


def test_local_qwen_answers_with_valid_citations_through_litellm(llama_base_url: str) -> None:
    tiers = ModelTiers(
        commodity="openai/qwen-local",
        api_base=llama_base_url,
        api_key=SecretStr("sk-local-unused"),
        timeout_s=120,
        max_retries=1,
    )
    client = TierClient(tiers, retry=RetryPolicy(backoff_base_s=1.0))
    sources = [
        Source(
            chunk_id="returns#1",
            article_id="returns",
            title="Returns",
            section="How to return an item",
            text="You can return unworn items within 30 days of delivery. Start the return from the Orders "
            "page and print the prepaid label; drop the parcel at any carrier location.",
            score=0.8,
        )
    ]

    answer = client.answer(
        ticket_text="How many days do I have to return my jacket?",
        sources=sources,
        customer_facts=["order NW-100234: status delivered"],
        tier=Tier.COMMODITY,
        ticket_id="local-llm-1",
    )

    assert answer.citations == ["returns#1"]
    assert answer.text.strip()
    assert answer.tokens_in > 0 and answer.tokens_out > 0
    assert answer.cost_usd == 0.0  # a local model is not in the price map
