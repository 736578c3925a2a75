"""classify_follow_up and mentions_repeat: what a customer's follow-up says, in six languages."""

from __future__ import annotations

import pytest

from supportflow.processors.conversation.signals import FollowUp, classify_follow_up, mentions_repeat

NOT_HELPED, CLOSING, NONE = FollowUp.NOT_HELPED, FollowUp.CLOSING, FollowUp.NONE

CASES = [
    # English: closings
    ("thanks, that worked!", CLOSING),
    ("ok great, problem solved", CLOSING),
    ("Thank you so much, have a nice day", CLOSING),
    ("It's fixed now, you can close the ticket.", CLOSING),
    ("Perfect!", CLOSING),
    # English: not helped, beating any thanks
    ("that didn't help", NOT_HELPED),
    ("That didnt help at all", NOT_HELPED),
    ("thanks but it still doesn’t work", NOT_HELPED),
    ("this is the second time I'm asking", NOT_HELPED),
    ("still not working", NOT_HELPED),
    ("your answer doesn't answer my question", NOT_HELPED),
    ("that's not what I asked", NOT_HELPED),
    ("I already tried that", NOT_HELPED),
    ("The steps did not work, I get the same error", NOT_HELPED),
    ("Thanks for nothing.", NOT_HELPED),
    # English: new requests and other negatives
    ("Thank you! Also, how do I change my address?", NONE),
    ("It helped me a lot, but where is my refund?", NONE),
    ("It helped me a lot, but where is my refund", NONE),
    ("How can I make sure this doesn't fail again?", NONE),
    ("Thanks in advance, where is my order?", NONE),
    ("Thanks in advance", NONE),
    ("I didn't receive the help article link", NONE),
    ("What if it doesn't work?", NONE),
    ("no thanks", NONE),
    ("Thanks, I'll try that and let you know", NONE),
    ("Thanks, my package is missing", NONE),
    ("My card does not work", NONE),
    ("Problem solved?", NONE),
    # Spanish
    ("perfect, gracias!", CLOSING),
    ("Muchas gracias, ya funcionó", CLOSING),
    ("no sirvió de nada", NOT_HELPED),
    ("Sigue sin funcionar", NOT_HELPED),
    ("Es la segunda vez que pregunto", NOT_HELPED),
    ("Gracias, ¿y cómo cambio mi contraseña?", NONE),
    ("Mi tarjeta no funciona, gracias", NONE),
    ("La app no funciona", NONE),
    # German
    ("Danke, hat geklappt", CLOSING),
    ("Vielen Dank, alles erledigt", CLOSING),
    ("das hat nicht geholfen", NOT_HELPED),
    ("Es funktioniert immer noch nicht", NOT_HELPED),
    ("Danke im Voraus, wo ist meine Bestellung?", NONE),
    ("Danke, ich brauche noch die Rechnung", NONE),
    # French
    ("merci, c'est réglé", CLOSING),
    ("Merci beaucoup, ça marche maintenant", CLOSING),
    ("ça n'a pas marché", NOT_HELPED),
    ("Ça ne fonctionne toujours pas", NOT_HELPED),
    ("C'est la deuxième fois que je demande", NOT_HELPED),
    ("Merci d'avance pour votre aide", NONE),
    ("Le problème n'est toujours pas résolu", NOT_HELPED),
    # Portuguese
    ("obrigado, resolvido", CLOSING),
    ("Valeu, deu certo!", CLOSING),
    ("não resolveu", NOT_HELPED),
    ("Ainda não funciona", NOT_HELPED),
    ("Já perguntei isso ontem", NOT_HELPED),
    ("Obrigada, e como faço para cancelar?", NONE),
    # Italian
    ("Grazie mille, tutto risolto", CLOSING),
    ("Perfetto, grazie!", CLOSING),
    ("non ha funzionato", NOT_HELPED),
    ("Non è quello che ho chiesto", NOT_HELPED),
    ("È la seconda volta che scrivo", NOT_HELPED),
    ("Grazie, vorrei anche cambiare indirizzo", NONE),
]


@pytest.mark.parametrize(("text", "expected"), CASES)
def test_classify_follow_up_phrase_expected_label(text: str, expected: FollowUp) -> None:
    assert classify_follow_up(text) == expected


REPEATS = [
    ("this is the second time I'm asking", True),
    ("I already asked this yesterday", True),
    ("Asking again: where is my refund?", True),
    ("Still waiting for an answer", True),
    ("Ya les escribí la semana pasada", True),
    ("Ich habe schon zweimal gefragt", True),
    ("Je vous ai déjà écrit", True),
    ("Ninguém me respondeu", True),
    ("Ho già chiesto", True),
    ("How can I make sure this doesn't fail again?", False),
    ("Where is my order?", False),
    ("It broke again after the update", False),
]


@pytest.mark.parametrize(("text", "expected"), REPEATS)
def test_mentions_repeat_phrase_expected_answer(text: str, expected: bool) -> None:
    assert mentions_repeat(text) is expected


def test_classify_follow_up_repeat_with_thanks_not_helped() -> None:
    """A repeat is a complaint even when polite: NOT_HELPED beats the gratitude."""
    assert classify_follow_up("Thanks, but I already asked this twice") == NOT_HELPED


def test_classify_follow_up_long_gratitude_with_story_none() -> None:
    """Gratitude alone closes only a short message; a long one may carry anything."""
    text = "Thank you for the quick reply, I read it on the train and I was thinking about my account setup"
    assert classify_follow_up(text) == NONE


def test_classify_follow_up_empty_text_none() -> None:
    assert classify_follow_up("") == NONE
    assert classify_follow_up("   \n ") == NONE


def test_follow_up_values_are_wire_strings() -> None:
    assert [member.value for member in FollowUp] == ["not_helped", "closing", "none"]
