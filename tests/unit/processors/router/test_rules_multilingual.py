"""Hard rules in es, de, fr, pt, it: every language's phrases on every ticket, accent- and
case-insensitive, with the near misses that must not fire."""

import pytest

from supportflow.processors.router import PolicyError, Prediction, decide, find_amounts, load_policy
from supportflow.processors.router.signals import Money, caps_shouting
from supportflow.schemas.models import Band, Channel, CustomerContext, Order, Ticket
from supportflow.settings import Thresholds

POLICY = load_policy()
RULES = POLICY.rules
THRESHOLDS = Thresholds()  # refund escalation above 200
# A sure prediction the hard rules must not need: the router does not understand these languages.
SURE = Prediction("track_order", 0.99)
ORDERS = [Order(order_id="NW-100202", status="shipped", total=950.0, placed_at="2026-03-02T10:00:00Z")]
REGULAR = CustomerContext(customer_id="cus_2", name="Daniel", tier="standard", orders=ORDERS)

# rule -> language -> (texts that must fire, texts with a related word that must not)
PHRASE_CASES: dict[str, dict[str, tuple[list[str], list[str]]]] = {
    "legal": {
        "es": (
            ["voy a demandarlos y hablaré con mi abogado", "Si no me devuelven el dinero, los DEMANDARÉ",
             "Demandaremos a la tienda", "Mi abogada ya tiene el caso", "Pondré una demanda judicial",
             "Iniciaré acciones legales contra ustedes", "Nos vemos en los tribunales"],
            ["Hay mucha demanda de esta chaqueta, ¿cuándo vuelve?", "A mi juicio la talla es pequeña",
             "Quiero reclamar el paquete perdido"],
        ),
        "de": (
            ["Mein Anwalt meldet sich bei Ihnen", "Ich gehe zum Rechtsanwalt", "Die Anwälte sind informiert",
             "Dann werde ich Sie verklagen", "Ich werde rechtliche Schritte einleiten",
             "Wir sehen uns vor Gericht", "Ich wende mich an die Verbraucherzentrale"],
            ["Die Anwendung stürzt beim Bezahlen ab", "Ich beklage mich nicht, nur eine Frage zur Größe",
             "Das Gericht im Restaurant war kalt, aber wo ist mein Paket?"],
        ),
        "fr": (
            ["Je vais vous poursuivre en justice", "Mon avocat va vous contacter", "Nos AVOCATS sont prêts",
             "Je vais porter plainte", "J'ai déposé une plainte au commissariat", "Ce sera un procès",
             "Je saisis la DGCCRF"],
            ["Pouvez-vous poursuivre la livraison demain ?", "Le procédé de retour est-il simple ?",
             "Ma réclamation concerne un article abîmé"],
        ),
        "pt": (
            ["Vou processar vocês", "Vou processá-los por isso", "Meu advogado vai entrar em contato",
             "Os ADVOGADOS já sabem", "Vou entrar na justiça", "Vou reclamar no Procon",
             "Abrirei um processo judicial"],
            ["Não conseguiram processar o pagamento", "O processo de devolução é demorado?",
             "Vou processar o pedido de troca amanhã"],
        ),
        "it": (
            ["Il mio avvocato vi contatterà", "Gli avvocati sono pronti", "Vi denuncerò", "Vi faccio causa",
             "Presenterò una querela", "Ci vediamo in tribunale", "Passerò alle vie legali"],
            ["A causa del ritardo ho perso il regalo", "Qual è la sede legale della vostra azienda?",
             "Il pacco è arrivato rotto, cosa devo fare?"],
        ),
    },
    "account_closure": {
        "es": (
            ["Quiero cerrar mi cuenta", "Por favor eliminen mi cuenta de cliente", "Borren mi perfil",
             "Solicito la baja de mi cuenta", "Eliminen todos mis datos personales",
             "Ejerzo mi derecho al olvido", "Según el RGPD quiero que borren mis datos"],
            ["No puedo cerrar sesión en la app", "¿A qué hora cierran la caja de la tienda?",
             "Quiero cancelar mi pedido"],
        ),
        "de": (
            ["Ich möchte mein Konto kündigen", "Bitte löschen Sie mein Kundenkonto",
             "Bitte mein Konto schliessen", "Kündigung meines Kontos", "Bitte die Kontolöschung bestätigen",
             "Löschen Sie alle meine Daten", "Auskunft und Löschung nach DSGVO"],
            ["Können Sie mir einen Kontoauszug schicken?", "Mein Konto wurde gestern gelöscht, warum?",
             "Wie ändere ich meine Adresse im Konto?"],
        ),
        "fr": (
            ["Je veux supprimer mon compte", "Merci de fermer mon compte client", "Clôturez mon compte",
             "Suppression de mon compte svp", "Effacez toutes mes données", "J'exerce mon droit à l’oubli",
             "Conformément au RGPD, supprimez mes données"],
            ["Comment supprimer un article du panier ?", "Je n'arrive pas à fermer la fenêtre",
             "Mon compte est bloqué, je ne peux pas me connecter"],
        ),
        "pt": (
            ["Quero excluir minha conta", "Encerrem a minha conta", "Apaguem meu cadastro",
             "Solicito o cancelamento da minha conta", "Apaguem todos os meus dados",
             "Direito ao esquecimento", "Conforme a LGPD, eliminem os meus dados"],
            ["Onde pago a conta do pedido?", "Como remover o item do carrinho?",
             "Não consigo entrar na minha conta"],
        ),
        "it": (
            ["Voglio chiudere il mio account", "Eliminate il mio profilo", "Vorrei cancellare l'account",
             "Richiedo la chiusura del mio account", "Cancellate i miei dati personali",
             "Esercito il diritto all'oblio", "Diritto alla cancellazione dei dati"],
            ["Voglio cancellare il mio ordine", "Come si chiude la scatola del reso?",
             "Non riesco ad accedere al mio account"],
        ),
    },
    "human_request": {
        "es": (
            ["Quiero hablar con una persona", "¿Puedo hablar con un agente?", "Necesito hablar con alguien",
             "Quiero una persona real, no un bot", "Páseme con un asesor",
             "¿puedo hablar con alguien sobre tallas?"],
            ["Ya introduje mis datos personales", "Ayer hablé con un agente y me dijo que tardaría",
             "¿Otra persona puede recoger mi pedido?"],
        ),
        "de": (
            ["Ich möchte mit einem Mitarbeiter sprechen", "Kann ich mit jemandem reden?",
             "Bitte verbinden Sie mich mit dem Kundendienst", "Ich will einen echten Menschen",
             "Keinen Bot bitte", "Ich möchte mit einer echten Person chatten"],
            ["Ich habe gestern mit einem Mitarbeiter gesprochen", "Brauche ich meinen Personalausweis?",
             "Was kostet der Versand pro Person?"],
        ),
        "fr": (
            ["Je veux parler à un conseiller", "Puis-je parler à quelqu'un ?", "Je voudrais un vrai humain",
             "Pas un robot s'il vous plaît", "Mettez-moi en relation avec un agent",
             "Je voudrais discuter avec une vraie personne"],
            ["J'ai parlé à un conseiller hier", "Comment personnaliser mon sac ?",
             "Une autre personne a signé pour le colis"],
        ),
        "pt": (
            ["Quero falar com um atendente", "Posso falar com alguém?", "Quero atendimento humano",
             "Não quero um robô", "Me transfira para um atendente", "Preciso conversar com uma pessoa"],
            ["Falei com um atendente ontem", "Já enviei meus dados pessoais",
             "Outra pessoa pode receber o pacote?"],
        ),
        "it": (
            ["Vorrei parlare con un operatore", "Posso parlare con qualcuno?", "Voglio un operatore umano",
             "Passatemi un operatore", "Voglio una persona vera, non un bot",
             "Vorrei parlare con un'operatrice"],
            ["Ho parlato con un operatore ieri", "Ho inserito i miei dati personali",
             "Una persona ha firmato per il pacco"],
        ),
    },
    "refund": {
        "es": (
            ["Quiero un reembolso", "Reembólsenme ya", "Devuélvanme el dinero", "Me cobraron dos veces",
             "Haré un contracargo con el banco"],
            ["¿Cuánto cuesta el envío?", "Quiero devolver la chaqueta por otra talla",
             "Pagué con tarjeta, ¿cuándo llega?"],
        ),
        "de": (
            ["Ich möchte eine Rückerstattung", "Bitte erstatten Sie den Betrag", "Ich will mein Geld zurück",
             "Mir wurde doppelt abgebucht", "Ich mache eine Rückbuchung"],
            ["Wann kommt mein Paket?", "Ich möchte die Jacke umtauschen", "Zahle ich per Rechnung?"],
        ),
        "fr": (
            ["Je veux un remboursement", "Remboursez-moi", "Rendez-moi mon argent", "J'ai été débité deux fois",
             "Je demande une rétrofacturation"],
            ["Combien coûte la livraison ?", "Je veux échanger la taille",
             "Puis-je payer en trois fois ?"],
        ),
        "pt": (
            ["Quero o reembolso", "Façam o estorno", "Quero meu dinheiro de volta", "Fui cobrado duas vezes",
             "Há uma cobrança indevida"],
            ["Quanto custa o frete?", "Quero trocar o tamanho", "Posso pagar com boleto?"],
        ),
        "it": (
            ["Voglio un rimborso", "Rimborsatemi subito", "Voglio i soldi indietro", "Mi avete addebitato due volte",
             "C'è un doppio addebito"],
            ["Quanto costa la spedizione?", "Vorrei cambiare la taglia", "Posso pagare a rate?"],
        ),
    },
    # Escalation words only add points (test_decide_* below check when anger fires).
    "anger": {
        "es": (
            ["Es INACEPTABLE", "Qué vergüenza", "Sois unos estafadores", "Estoy harta de esperar",
             "Un servicio pésimo"],
            ["Lo dejé en la estafeta de correos", "El encargo llegó bien, gracias",
             "Hace harto frío, ¿tienen chaquetas?"],
        ),
        "de": (
            ["Das ist eine Unverschämtheit", "Einfach lächerlich", "Ihr seid Betrüger",
             "Ich bin wütend", "Ich habe die Nase voll"],
            ["Der Betrag stimmt nicht mit der Rechnung überein", "Haben Sie den Katalog für Skandinavien?",
             "Gibt es einen Abzug für Stammkunden?"],
        ),
        "fr": (
            ["C'est inadmissible", "Quelle arnaque", "C'est une honte", "J'en ai marre", "Vous êtes des escrocs"],
            ["C'est marrant, la couleur change au soleil", "Inutile de me rappeler, tout est réglé",
             "Je ne trouve le bouton nulle part"],
        ),
        "pt": (
            ["Isso é inaceitável", "Que palhaçada", "Vocês são ladrões", "Atendimento péssimo",
             "Um descaso total"],
            ["Comprei uma lixeira de camping", "Fiquei envergonhado de perguntar, mas qual o tamanho?",
             "O absorvente de umidade vem junto?"],
        ),
        "it": (
            ["È inaccettabile", "Che vergogna", "Siete dei truffatori", "Sono stufo di aspettare",
             "Servizio pessimo"],
            ["Vendete una stufa da campeggio?", "Vorrei un olio al tartufo", "Il ladro di biciclette è un film"],
        ),
    },
}  # fmt: skip


def _cases(rule: str, positive: bool) -> list[pytest.param]:
    return [
        pytest.param(rule, text, id=f"{rule}-{lang}-{n}")
        for lang, (yes, no) in PHRASE_CASES[rule].items()
        for n, text in enumerate(yes if positive else no)
    ]


POSITIVES = [c for rule in PHRASE_CASES for c in _cases(rule, True)]
NEGATIVES = [c for rule in PHRASE_CASES for c in _cases(rule, False)]


@pytest.mark.parametrize(("rule", "text"), POSITIVES)
def test_phrase_rule_foreign_phrase_matches(rule, text):
    assert getattr(RULES, rule).matches(text) is not None


@pytest.mark.parametrize(("rule", "text"), NEGATIVES)
def test_phrase_rule_related_word_in_other_sense_does_not_match(rule, text):
    assert getattr(RULES, rule).matches(text) is None


def ticket(text: str) -> Ticket:
    return Ticket(
        ticket_id="t1", conversation_id="c1", channel=Channel.EMAIL, sender="d@example.net",
        text=text, received_at_ms=0, ingested_at_ms=0, trace_id="tr",
    )  # fmt: skip


def route(text, prediction=SURE, customer=None):
    return decide(ticket(text), prediction, customer, POLICY, THRESHOLDS, 0.93, ("en",))


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("voy a demandarlos y hablaré con mi abogado", "rule:legal"),
        ("Ich möchte mein Konto kündigen und alle Daten nach DSGVO löschen.", "rule:account_closure"),
        ("Je veux parler à un conseiller, pas à un robot.", "rule:human_request"),
        # Matched in an English ticket too: the rule does not ask which language the ticket is in.
        ("Hi, my order is late. Quero falar com um atendente.", "rule:human_request"),
        ("Voglio chiudere il mio account.", "rule:account_closure"),
    ],
)
def test_decide_foreign_hard_rule_escalates_with_todays_reason(text, reason):
    d = route(text)
    assert d.band == Band.ESCALATE and reason in d.reasons


@pytest.mark.parametrize(
    ("text", "words"),
    [
        ("Esto es inaceptable, estoy harta!!", "word=inaceptable,word=estoy harta"),
        ("Das ist eine Frechheit und einfach lächerlich", "word=frechheit,word=lächerlich"),
        ("C'est une honte, vous êtes des incompétents", "word=une honte,word=incompétents"),
        ("Que palhaçada, atendimento péssimo!!", "word=palhaçada,word=péssimo"),
        ("È una vergogna, siete dei truffatori", "word=vergogna,word=truffatori"),
    ],
)
def test_decide_foreign_anger_words_fire_without_english_sentiment(text, words):
    (reason,) = [r for r in route(text).reasons if r.startswith("rule:anger")]
    assert reason.startswith(f"rule:anger:{words}")


@pytest.mark.parametrize(
    "text",
    [
        "¡¡ESTO ÉS INACEPTABLE!! ¿DÓNDE ESTÁ MI PEDIDO?",
        "DÓNDE ESTÁ MI PEDIDO LLEVO TRES SEMANAS ESPERANDO",
        "WO BLEIBT MEINE BESTELLUNG, ICH WARTE SEIT WOCHEN",
        "ÇA FAIT TROIS SEMAINES QUE J'ATTENDS MON COLIS",
        "DOVE È FINITO IL MIO PACCO, ASPETTO DA SETTIMANE",
    ],
)
def test_decide_shouting_with_accented_capitals_is_anger(text):
    assert any(r.startswith("rule:anger") for r in route(text).reasons)


@pytest.mark.parametrize(
    "text",
    [
        "¿Puedo pedir la factura al gerente de la tienda de Madrid? Gracias.",  # es: one word only
        "Nunca más pedí por teléfono, ahora uso la web. ¿Dónde está mi pedido?",
        "Ist der Geschäftsführer der Filiale heute da? Danke",  # de
        "Votre supérieur m’a bien aidé la dernière fois, merci",  # fr
        "O gerente da loja foi muito gentil, obrigado",  # pt
        "Il direttore del negozio è stato gentile, grazie",  # it
        "Pedido NW-100201: ¿llega el lunes? OK",
    ],
)
def test_decide_one_foreign_anger_word_in_calm_ticket_is_not_anger(text):
    assert not any(r.startswith("rule:anger") for r in route(text).reasons)


@pytest.mark.parametrize(
    "text",
    [
        # VADER reads German "die" as the English verb: "die Bestellung" alone scored -0.60
        "ich brauche eine Rechnung für die Bestellung NW-100283, wo kann ich die runterladen?",
        "Die Lieferung kam nicht an, die Sendungsnummer zeigt nichts. Wo ist die Bestellung?",
    ],
)
def test_decide_foreign_text_english_sentiment_never_scores_anger(text):
    assert not any(r.startswith("rule:anger") for r in route(text).reasons)


def test_decide_english_sentiment_still_scores_anger():
    reasons = route("This is ridiculous, the worst experience, I hate this awful useless shop").reasons
    assert any(r.startswith("rule:anger") and "sentiment=" in r for r in reasons)


@pytest.mark.parametrize(
    ("text", "amount"),
    [
        ("Quiero el reembolso de 1.200 €, la tienda llegó rota", "1200.00"),
        ("Ich möchte eine Rückerstattung von 1.200,50 euros", "1200.50"),
        ("Je veux être remboursé de 300 euros", "300.00"),
        ("Quero o reembolso de 1.500 dólares", "1500.00"),
        ("Voglio un rimborso di 250 euro", "250.00"),
    ],
)
def test_decide_foreign_refund_over_threshold_escalates_whatever_the_intent(text, amount):
    d = route(text)
    assert d.band == Band.ESCALATE and f"rule:refund_over_threshold:{amount}>200.00" in d.reasons


def test_decide_foreign_refund_of_my_order_uses_latest_crm_order():
    d = route("Quiero un reembolso de mi pedido, llegó roto", customer=REGULAR)
    assert "rule:refund_over_threshold:950.00>200.00" in d.reasons


@pytest.mark.parametrize(
    ("text", "prediction"),
    [
        ("Rimborso spese di spedizione: quanto costa?", Prediction("check_refund_policy", 0.99)),
        ("¿Cuál es su política de reembolso para compras de más de 500 €?",
         Prediction("check_refund_policy", 0.99)),
        ("Pagué 300 euros por la chaqueta, ¿cuándo llega?", SURE),  # an amount, no refund
        ("Ich habe 1.200 € bezahlt, wann kommt das Zelt?", SURE),
        ("Rimborso spese di spedizione: quanto costa?", Prediction("get_refund", 0.99)),  # no amount
    ],
)  # fmt: skip
def test_decide_foreign_refund_question_or_amount_alone_is_not_over_threshold(text, prediction):
    d = route(text, prediction, REGULAR)
    assert not [r for r in d.reasons if r.startswith("rule:refund")]


@pytest.mark.parametrize(
    ("text", "found", "language"),
    [
        ("VOY A DEMANDARLOS", "DEMANDARLOS", "es"),
        ("Ich will mein Konto schließen.", "Konto schließen", "de"),
        ("Ich will mein Konto schliessen.", "Konto schliessen", "de"),
        ("Effacez toutes mes DONNÉES", "Effacez toutes mes DONNÉES", "fr"),
        ("Mon avoca\u0301t", "avoca\u0301t", "fr"),  # decomposed accent: reported as written
        ("I will sue", "sue", "en"),
    ],
)
def test_phrase_rule_match_reports_text_as_written_and_list_language(text, found, language):
    (rule,) = [r for r in (RULES.legal, RULES.account_closure) if r.match(text)]
    assert tuple(rule.match(text)) == (found, language)


def test_anger_escalation_words_keep_accents_as_written():
    assert RULES.anger.escalation_words("Es INADMISIBLE y una VERGÜENZA") == ["inadmisible", "vergüenza"]


@pytest.mark.parametrize(
    ("text", "amount", "currency"),
    [
        ("1.200 €", 1200.0, "EUR"),
        ("1.200,50 euros", 1200.5, "EUR"),
        ("300 euros", 300.0, "EUR"),
        ("1.500 Euro", 1500.0, "EUR"),
        ("1.500 dólares", 1500.0, "USD"),
        ("200 libras", 200.0, "GBP"),
        ("50 sterline", 50.0, "GBP"),
    ],
)
def test_find_amounts_european_formats_and_currency_words(text, amount, currency):
    assert find_amounts(text) == [Money(amount, currency)]


@pytest.mark.parametrize(
    ("text", "shouted"), [("ESTO ÉS INACEPTABLE", 3), ("ÇA SUFFIT", 2), ("Größe", 0), ("STRAẞE ÜBEL", 2)]
)
def test_caps_shouting_counts_accented_capitals(text, shouted):
    assert caps_shouting(text)[1] == shouted


def _policy_file(tmp_path, text):
    p = tmp_path / "policy.yaml"
    p.write_text(text, encoding="utf-8")
    return p


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("rules:\n  legal: {phrases_by_language: {xx: [abogado]}}\n", "unknown language 'xx'"),
        ("rules:\n  legal: {phrases_by_language: {en: [lawyer]}}\n", "English phrases go in `phrases`"),
        ("rules:\n  anger: {phrases_by_language: {de: ['/(offen/']}}\n", "bad regex"),
        ("rules:\n  legal: {phrases_by_language: {es: ['/(?P<x>a)/', '/(?P<x>b)/']}}\n", "compile together"),
    ],
)
def test_load_policy_bad_phrases_by_language_raises(tmp_path, text, message):
    with pytest.raises(PolicyError, match=r"^policy .* is invalid: rules\.") as info:
        load_policy(_policy_file(tmp_path, text))
    assert message in str(info.value)


@pytest.mark.parametrize(
    ("regex", "found"),
    [
        ("/\\bKLAGE\\s+ÜBER\\b/", "Klage über"),
        ("/\\b(?P<Verb>klage)\\s+(?P=Verb)\\b/", "KLAGE klage"),  # (?P keeps its case
        ("/\\bKLAGE\\W+ÜBER\\b/", "Klage über"),  # \\W stays "not a word character"
    ],
)
def test_load_policy_regex_with_capitals_and_accents_matches_folded_text(tmp_path, regex, found):
    policy = load_policy(
        _policy_file(tmp_path, f"rules:\n  legal: {{phrases_by_language: {{de: ['{regex}']}}}}\n")
    )
    text = "Ich erhebe KLAGE klage, Klage über den Preis"
    assert policy.rules.legal.matches(text) == found


COVERED = ("en", "es", "de", "fr", "pt", "it")


@pytest.mark.parametrize(
    ("text", "language"),
    [
        ("¿Dónde está mi pedido? Lo pedí hace una semana y no llega.", "es"),
        ("Wo ist meine Bestellung? Ich habe sie vor einer Woche aufgegeben.", "de"),
    ],
)
def test_decide_covered_language_router_not_calibrated_on_drafts(text, language):
    out = decide(ticket(text), SURE, None, POLICY, THRESHOLDS, 0.93, COVERED)
    assert out.band == Band.SUGGEST and f"language:{language}_not_calibrated" in out.reasons
    assert not any(r.endswith("_not_covered") for r in out.reasons)


def test_decide_language_listed_in_auto_languages_may_be_auto(tmp_path):
    policy_file = tmp_path / "policy.yaml"
    policy_file.write_text(
        "rules:\n  language: {action: suggest, auto_languages: [en, es]}\n", encoding="utf-8"
    )
    policy = load_policy(policy_file)
    out = decide(ticket("¿Dónde está mi pedido? Lo pedí hace una semana y no llega."), SURE, None, policy,
                 THRESHOLDS, 0.93, COVERED)  # fmt: skip
    assert out.band == Band.AUTO and not any(r.startswith("language:") for r in out.reasons)


def test_load_policy_auto_languages_not_iso_codes_raises(tmp_path):
    policy_file = tmp_path / "policy.yaml"
    policy_file.write_text("rules:\n  language: {auto_languages: [English]}\n", encoding="utf-8")
    with pytest.raises(PolicyError, match="ISO 639-1"):
        load_policy(policy_file)
