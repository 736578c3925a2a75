"""A tiny labelled intent set (three intents plus ``oos``) for end-to-end tests of ``eval route``."""

from __future__ import annotations

PHRASES = {
    "track_order": ["where is my order", "track my package", "has my parcel shipped", "order status please",
                    "when will my order arrive", "tracking number for my purchase"],
    "recover_password": ["I forgot my password", "reset my password", "can't log in, lost password",
                         "password recovery", "how do I change my forgotten password", "locked out of my account"],
    "get_refund": ["I want my money back", "refund my purchase", "how do I get a refund",
                   "please reimburse me", "return the item for a refund", "can I get a refund for this"],
    "oos": ["what's the weather tomorrow", "tell me a joke", "set an alarm for 7",
            "who won the football game", "how tall is mount everest", "play some music"],
}  # fmt: skip
PREFIXES = ["", "hi, ", "hello ", "please ", "quick question: "]

# Train on the first five phrases of each intent under four prefixes; test on unseen phrasings.
TRAIN = [(p + t, label) for label, texts in PHRASES.items() for t in texts[:5] for p in PREFIXES[:4]]
TEST = [(PREFIXES[4] + texts[5], label) for label, texts in PHRASES.items()] + [
    ("thanks, " + texts[0], label) for label, texts in PHRASES.items()
]
