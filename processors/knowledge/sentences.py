"""Sentence and step splitting plus a cached sentence embedder, shared by the drafter and the scorer."""

from __future__ import annotations

import re
import threading
from collections import OrderedDict
from collections.abc import Sequence

import numpy as np
import numpy.typing as npt

from supportflow.processors.embedding import DIMENSIONS, get_embedder
from supportflow.processors.knowledge.chunking import OVERLAP_MARK

_LIST_ITEM = re.compile(r"^\s*(?:\d+[.)]|[-*•])\s+")
_SPLIT = re.compile(r"(?<=[.!?])[\"')\]]*\s+(?=[A-Z0-9\"'(€$£])")
_ABBREVIATIONS = ("e.g.", "i.e.", "etc.", "approx.", "no.", "vs.", "a.m.", "p.m.", "mr.", "ms.", "dr.", "st.")
_MARKUP = re.compile(r"\*\*|__|`|\[([^\]]+)\]\([^)]*\)")


def clean(text: str) -> str:
    """Plain text of one line: no list marker, no Markdown emphasis; links keep their label."""
    text = _MARKUP.sub(lambda m: m.group(1) or "", text)
    return _LIST_ITEM.sub("", text).strip()


def is_list_item(line: str) -> bool:
    return bool(_LIST_ITEM.match(line))


def split_sentences(text: str) -> list[str]:
    """Sentences of ``text``; every list item and line is its own sentence."""
    out: list[str] = []
    for line in text.replace(OVERLAP_MARK, "").splitlines():
        line = clean(line)
        if not line or line.startswith("#"):
            continue
        out.extend(s.strip() for s in _split_line(line) if s.strip())
    return out


def _split_line(line: str) -> list[str]:
    parts = _SPLIT.split(line)
    merged: list[str] = []
    for part in parts:
        if merged and merged[-1].lower().endswith(_ABBREVIATIONS):
            merged[-1] = f"{merged[-1]} {part}"
        else:
            merged.append(part)
    return merged


def answer_units(text: str) -> list[str]:
    """Pieces the drafter can lift: prose sentences, or a whole list (with its lead-in) as one piece.

    Keeping a numbered procedure in one unit means an answer never skips step 3 of 5.
    The carried-over overlap paragraph is left out: it belongs to the previous section.
    """
    paragraphs = [p.strip() for p in re.split(r"\n\s*\n", text) if p.strip()]
    if paragraphs and paragraphs[0].startswith(OVERLAP_MARK):
        paragraphs = paragraphs[1:]
    units: list[str] = []
    for paragraph in paragraphs:
        lines = [line for line in paragraph.splitlines() if line.strip()]
        if lines and all(is_list_item(line) for line in lines):
            items = "\n".join(_MARKUP.sub(lambda m: m.group(1) or "", line).strip() for line in lines)
            if units and units[-1].endswith(":"):
                units[-1] = f"{units[-1]}\n{items}"
            else:
                units.append(items)
        else:
            units.extend(split_sentences(paragraph))
    return units


class SentenceEmbeddings:
    """LRU cache in front of the shared embedder: help-center sentences repeat across tickets."""

    def __init__(self, capacity: int = 50_000) -> None:
        self._cache: OrderedDict[str, npt.NDArray[np.float32]] = OrderedDict()
        self._capacity = capacity
        self._lock = threading.Lock()
        self._model_id = ""  # vectors from another encoder (a reconfigured shared one) are not reused

    def encode(self, texts: Sequence[str]) -> npt.NDArray[np.float32]:
        out = np.zeros((len(texts), DIMENSIONS), dtype=np.float32)
        missing: list[int] = []
        embedder = get_embedder()
        with self._lock:
            if embedder.model_id != self._model_id:
                self._cache.clear()
                self._model_id = embedder.model_id
            for i, text in enumerate(texts):
                cached = self._cache.get(text)
                if cached is None:
                    missing.append(i)
                else:
                    self._cache.move_to_end(text)
                    out[i] = cached
        if missing:
            fresh = embedder.encode([texts[i] for i in missing])
            with self._lock:
                for row, i in enumerate(missing):
                    out[i] = fresh[row]
                    self._cache[texts[i]] = fresh[row]
                while len(self._cache) > self._capacity:
                    self._cache.popitem(last=False)
        return out


sentence_embeddings = SentenceEmbeddings()
