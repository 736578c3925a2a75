"""The learning loop's feedback: parse each source into :class:`~supportflow.schemas.models.Feedback`,
join it to the outcome it is about, and measure what the join says (pure functions, no I/O).

- :mod:`.parse`: Zendesk and Freshdesk webhook payloads, API and JSONL records -> ``Feedback``
  (edited text redacted, agent ids hashed);
- :mod:`.join`: the bounded per-ticket join state (outcome seen, feedback pending, feedback counted);
- :mod:`.measure`: metrics by path and intent from joined feedback, and the report's rendering.
"""
