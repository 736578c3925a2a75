"""Where feedback comes in: webhook routes of the ingress HTTP service (:mod:`.webhook`) and the
JSONL file publisher (:mod:`.publish`). Parsing is :mod:`supportflow.processors.feedback`'s."""
