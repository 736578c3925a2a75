"""The feedback join's store on a table and its record handler, with a dict standing in for the Faust
table (the same get/set/del/items) and the real join, metrics and dead-letter encoding."""

from supportflow.processors.feedback.join import Entry, FeedbackJoin
from supportflow.schemas import wire
from supportflow.schemas.models import DeadLetter, Decision, FeedbackKind
from supportflow.streams import feedback as join_stream
from supportflow.streams.handlers import Message
from tests.unit.processors.feedback.builders import feedback, outcome

OUTCOMES, FEEDBACK = "sf.outcomes", "sf.feedback"


def store_of(table: dict) -> join_stream.TableStore:
    return join_stream.TableStore(table, FEEDBACK, 4)


def test_table_store_sweep_walks_past_the_first_batch_and_drops_stale_entries(monkeypatch):
    monkeypatch.setattr(join_stream, "SWEEP_BATCH", 3)
    table = {f"k{i}".encode(): Entry(touched_ms=1_000 if i % 2 else 9_000).dumps() for i in range(7)}
    store = store_of(table)
    deleted = sum(store.sweep(now_ms=10_000, max_age_ms=5_000)[0] for _ in range(4))
    assert deleted == 3 and sorted(table) == [b"k0", b"k2", b"k4", b"k6"]


def test_join_handler_counts_joined_feedback_once_and_dead_letters_bad_bytes():
    handler = join_stream.JoinHandler(FeedbackJoin(store_of({})), OUTCOMES)
    metric = join_stream.FEEDBACK.labels(path="auto", intent="track_order", kind="reopened")
    before = metric._value.get()
    reopened = wire.encode(feedback(FeedbackKind.REOPENED, ticket_id="t9", fid="fb_t9"))
    assert handler.handle(Message(FEEDBACK, 0, 0, b"t9", reopened), now_ms=1) is None  # pending
    answer = wire.encode(outcome("t9", Decision.AUTO_RESOLVED, intent="track_order"))
    assert handler.handle(Message(OUTCOMES, 0, 0, b"conv", answer), now_ms=2) is None
    assert handler.handle(Message(FEEDBACK, 0, 1, b"t9", reopened), now_ms=3) is None  # replayed
    assert metric._value.get() - before == 1
    key, value = handler.handle(Message(FEEDBACK, 1, 7, b"t1", b"garbage"), now_ms=4)
    letter = wire.decode(value, DeadLetter)
    assert (key, letter.stage, letter.original, letter.offset) == (b"t1", "feedback", b"garbage", 7)
