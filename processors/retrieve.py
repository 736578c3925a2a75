"""Stage 3 — retrieve: help-center sections for the ticket (reusing the router's vector).

Escalated tickets still get sources: the human who takes them sees what the help center says.
"""

from __future__ import annotations

import numpy as np

from supportflow.processors.knowledge import KnowledgeBase
from supportflow.processors.route import ticket_query
from supportflow.schemas.models import PipelineRecord


def retrieve(record: PipelineRecord, kb: KnowledgeBase, k: int = 4) -> PipelineRecord:
    vector = np.frombuffer(record.embedding, dtype=np.float32) if record.embedding else None
    sources = kb.search(ticket_query(record.ticket), k=k, vector=vector)
    return record.model_copy(update={"sources": sources})
