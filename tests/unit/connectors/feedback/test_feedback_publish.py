from supportflow.connectors.feedback.publish import parse_lines
from supportflow.schemas.models import FeedbackKind


def test_feedback_publish_parse_lines_bad_lines_become_letters_with_line_numbers():
    lines = [
        b'{"ticket_id": "t1", "kind": "csat", "score": 2}\n',
        b"\n",
        b"{not json\n",
        b'{"ticket_id": "t2", "kind": "teleport"}\n',
        b'{"ticket_id": "t3", "kind": "intent_correction", "corrected_intent": "refund_request"}\n',
    ]
    parsed = parse_lines(lines, origin="file:f.jsonl", agent_key=None, now_ms=1_796_551_200_000)
    assert [(f.ticket_id, f.kind) for f in parsed.records] == [
        ("t1", FeedbackKind.CSAT),
        ("t3", FeedbackKind.INTENT_CORRECTION),
    ]
    assert [(letter.offset, letter.original, letter.topic) for letter in parsed.letters] == [
        (3, b"{not json", "file:f.jsonl"),
        (4, b'{"ticket_id": "t2", "kind": "teleport"}', "file:f.jsonl"),
    ]
