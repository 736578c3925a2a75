"""A fake OpenAI-compatible model that answers like a well-behaved one: valid JSON citing a shown source.

:class:`~tests.fakes.openai_server.FakeOpenAIServer` replies with scripted, fixed content, but a valid
resolve reply must cite a chunk id that is in *this* request's prompt, which a fixed reply cannot know
when real tickets flow through the pipeline. This server reads the prompt's first source block
(``[chunk-id] Title - Section`` then its text, see ``processors/llm/prompt.py``) and answers with that
section's first sentence, citing it. Requests are still recorded by the base class.
"""

from __future__ import annotations

import re
from typing import Any

from tests.fakes.openai_server import Behaviour, FakeOpenAIServer, Reply, answer_json

_SOURCE = re.compile(r"^\[(?P<chunk_id>[^\]\n]+)\][^\n]*\n(?P<text>[^\n]+)", re.MULTILINE)
_SENTENCE = re.compile(r"^.+?[.!?](?=\s|$)")


def prompt_text(body: dict[str, Any]) -> str:
    """Every message content of a chat-completion request, joined."""
    return "\n".join(str(m.get("content", "")) for m in body.get("messages", []) if isinstance(m, dict))


def cited_reply(body: dict[str, Any]) -> str:
    """The JSON answer for ``body``: the first source's first sentence, citing that source."""
    match = _SOURCE.search(prompt_text(body))
    if match is None:  # no sources shown: an honest model cannot cite, and the client must reject it
        return answer_json("I could not find this in the help center.", [])
    text = match.group("text").strip()
    sentence = _SENTENCE.match(text)
    answer = sentence.group(0) if sentence else text
    return answer_json(f"{answer} [{match.group('chunk_id')}]", [match.group("chunk_id")])


class CitingOpenAIServer(FakeOpenAIServer):
    """Every request gets a cited answer built from its own prompt (scripts are not consulted)."""

    def _next(self, model: str, body: dict[str, Any]) -> Behaviour:
        super()._next(model, body)  # records the request
        return Reply(cited_reply(body))


def llm_env(base_url: str) -> dict[str, str]:
    """Worker environment that turns both model tiers on against a loopback fake at ``base_url``."""
    return {
        "SUPPORTFLOW_MODELS__COMMODITY": "openai/gpt-4o-mini",
        "SUPPORTFLOW_MODELS__FRONTIER": "openai/gpt-4o",
        "SUPPORTFLOW_MODELS__API_BASE": base_url,
        "SUPPORTFLOW_MODELS__API_KEY": "test",
    }
