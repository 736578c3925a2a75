"""What a customer's follow-up says about the conversation so far: not helped, closing, or neither.

Pure and offline: phrase tables per language (English, Spanish, German, French, Portuguese, Italian),
compiled once into regexes, matched against text folded to lowercase ASCII (diacritics stripped with
NFKD, ``ß`` as ``ss``, English contractions expanded so "didn't", "didnt" and "did not" read the same,
punctuation as spaces). Runs on every message, so everything is compiled at import and nothing does I/O.

Decision order, per message:

1. NOT_HELPED when a sentence says the previous answer failed ("that didn't help", "no sirvió de
   nada", "hat nicht geklappt") or that the customer already asked (``mentions_repeat``). It beats
   CLOSING: "thanks but it still doesn't work" is a complaint, not a goodbye.
2. NONE when the message asks something new: a question mark, a request marker ("also, how do I",
   "where is", "necesito", "bitte") or thanks given *in advance* (which announces a request).
3. CLOSING when it says the problem is solved ("that worked", "c'est réglé", "resolvido"), or when it
   is short gratitude only ("perfect, gracias!"): at most 12 words, no negation, no problem word and
   nothing pending ("I'll try that").
4. NONE otherwise.

Failure phrases must bind to the answer, not to any verb. Negation counts only when it governs a
help/work/solve/answer verb with a pronoun or answer-like subject ("it didn't work", "the steps did
not help") or comes with "still"; "I didn't receive the help article link" is a new issue (NONE), and
"my card doesn't work" on its own is too, since it may describe a second problem. A failure phrase
right after a conditional ("what if it doesn't work?", "in case it does not work") is hypothetical
and ignored.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from enum import StrEnum


class FollowUp(StrEnum):
    NOT_HELPED = "not_helped"
    CLOSING = "closing"
    NONE = "none"


@dataclass(frozen=True)
class _Phrases:
    """Regex fragments over folded text (lowercase ASCII words separated by single spaces)."""

    not_helped: tuple[str, ...]  # the previous answer did not solve it
    repeat: tuple[str, ...]  # the customer already asked
    resolved: tuple[str, ...]  # the problem is solved (CLOSING at any length up to _RESOLVED_MAX_WORDS)
    gratitude: tuple[str, ...]  # thanks and bare acknowledgements (CLOSING only when short)
    request: tuple[str, ...]  # a new request: blocks CLOSING
    pending: tuple[str, ...]  # the customer will try and report back: blocks short-gratitude CLOSING
    negation: tuple[str, ...]  # with a problem word, a short "thanks" message still reports an issue
    problem: tuple[str, ...]
    conditional: tuple[str, ...]  # right before a failure phrase, makes it hypothetical


_SUBJECT = r"(?:it|that|this|these|those|nothing|none of (?:it|this|that|them)|the (?:solution|fix|steps|instructions|suggestion|workaround|answer|reply|response|link|article|reset|update))"
_EN = _Phrases(
    not_helped=(
        rf"{_SUBJECT} (?:still )?(?:really |just )?(?:does|did|do|has|have|is|was|were|will|can) not (?:really |even |actually |quite )?(?:help|helped|helping|work|worked|working|fix|fixed|solve|solved|resolve|resolved|change|changed)",
        r"not (?:really |very |at all )?helpful|unhelpful|useless|(?:was|were|is) (?:of )?no help",
        r"(?:did|does|do|has|have) not (?:really |even |actually )?help(?:ed)?",
        r"still (?:not|broken|failing|(?:does|did|do|is|has|have|can|will) not|(?:getting|having|seeing|get|have) the same|the same (?:problem|issue|error))",
        r"(?:is|was|has|have|are|been|got|get) not (?:been )?(?:yet )?(?:fixed|solved|resolved|sorted)|unresolved",
        r"(?:does|did|do) not (?:really |even |actually )?(?:answer|address) (?:my|the) question",
        r"not what i (?:asked|was asking|am asking|meant|need|needed|wanted)",
        r"already (?:tried|did|done|tested|followed|checked) (?:that|this|it|those|these|everything|all)|tried (?:that|this|it|those|these) already",
        r"thanks for nothing|you (?:did not|do not) (?:understand|get it|read)|you misunderstood",
    ),
    repeat=(
        r"(?:second|third|fourth|fifth|2nd|3rd|4th|5th|umpteenth|nth) time (?:that )?(?:i am |im |i m |i have |i ve |i |we are |we )?(?:ask|write|writ|contact|email|messag|reach|request|rais|report|tell|explain)\w*",
        r"for the (?:second|third|fourth|fifth|2nd|3rd|4th|5th|umpteenth|nth) time",
        r"(?:already|previously) (?:asked|told|written|wrote|contacted|emailed|reported|explained|sent|requested|raised)",
        r"(?:asked|told you|written|wrote|contacted you|reported|explained|emailed you) (?:this |that |it |you )?(?:before|already|previously|twice|(?:several|many|multiple|three|two|3|2) times)",
        r"(?:asking|asked|writing|emailing|messaging|requesting|reminding|following up|telling|explaining) (?:you |about )?(?:this |it |that )?(?:once )?again",
        r"still (?:waiting (?:for|on) (?:an|a|any|your) (?:answer|reply|response|update)|(?:no|have not (?:had|got|gotten|received) (?:an|a|any)) (?:answer|reply|response|update))",
        r"(?:no one|nobody|noone) (?:has )?(?:answered|replied|responded|got back)|never (?:got|received|heard) (?:an |a |any )?(?:answer|reply|response|back)",
    ),
    resolved=(
        r"(?:that|it|this) (?:worked|works|did the trick|did it|fixed it|solved it|helped|sorted it)",
        r"(?:works|working) (?:now|again|fine|perfectly)",
        r"(?:issue|problem|it|that|everything|all) (?:is |has been |was |got |s )?(?:now |all )?(?:solved|resolved|fixed|sorted)",
        r"all (?:good|set|sorted)|no (?:further|more|other) questions|(?:that|this|it) answers my question",
        r"(?:you can|please|feel free to) close (?:the |this |my )?(?:ticket|case|request|conversation)",
    ),
    gratitude=(
        r"thanks|thank you|thx|ty|cheers|much appreciated|appreciate it|many thanks",
        r"perfect|great|awesome|excellent|wonderful|brilliant|fantastic|amazing",
    ),
    request=(
        r"thanks in advance|thank you in advance",
        r"also (?:how|where|what|when|why|can|could|would|i|is|do|does|please)|another question|one more (?:thing|question)",
        r"(?:how|where|when|what|why) (?:do|can|could|would|should|will|is|are|does|did|about|if)",
        r"(?:can|could|would|will) you|please(?! close)|i (?:need|want|would like|d like)|is it possible",
        r"i (?:have|got|ve got) (?:a|an|another|one more) (?:question|issue|problem)|(?:additional|new|different|separate|other) (?:question|issue|problem|request)",
    ),
    pending=(
        r"i (?:will|ll) (?:try|test|check|let you know|get back)|will try|let you know|get back to you",
    ),
    negation=(r"no|not|never|nothing",),
    problem=(r"error|broken|wrong|missing|late|problem|issue|fail\w*|charged|crash\w*",),
    conditional=(r"(?<!even )if|in case|make sure|ensure|prevent|avoid|so that|unless",),
)
_ES = _Phrases(
    not_helped=(
        r"no (?:me |nos )?(?:sirvio|funciono|ayudo|resolvio|soluciono|arreglo|sirve|ayuda|ha servido|ha funcionado|ha ayudado|ha resuelto|ha solucionado)",
        r"no (?:se )?(?:ha |han |esta |fue |quedo )?(?:resuelto|solucionado|arreglado)",
        r"(?:de nada|para nada) (?:me )?(?:sirvio|ayudo)|no (?:me )?sirvio de nada",
        r"(?:sigue|todavia|aun|sigo) (?:sin (?:funcionar|solucion|resolver)|no (?:funciona|va|puedo)|(?:igual|fallando|con el mismo (?:problema|error)))",
        r"no es lo que (?:yo )?(?:pregunte|pedi|preguntaba|necesito)|no responde (?:a )?mi pregunta",
        r"ya (?:lo )?(?:probe|intente|hice eso|hice|habia probado)|gracias por nada",
    ),
    repeat=(
        r"(?:segunda|tercera|cuarta|quinta) vez que (?:les |le |te |lo |se lo )?(?:pregunto|escribo|pido|contacto|reclamo|solicito|digo|repito|consulto)",
        r"por (?:segunda|tercera|cuarta|quinta) vez",
        r"ya (?:les |le |te |lo |se lo )?(?:pregunte|pedi|escribi|dije|solicite|consulte|reporte|habia (?:preguntado|escrito|pedido))",
        r"(?:vuelvo|volvi) a (?:preguntar|escribir|pedir|contactar|consultar)|(?:pregunto|escribo|pido|consulto) (?:otra vez|de nuevo|nuevamente)",
        r"sigo esperando (?:una |la |su |tu )?respuesta|(?:todavia|aun) (?:sin|no (?:tengo|he recibido|hay)) (?:ninguna |una )?respuesta",
        r"nadie (?:me )?(?:ha )?(?:respondido|contestado|respondio|contesto)",
    ),
    resolved=(
        r"(?:ya )?(?:funciono|funciona|se soluciono|se resolvio|se arreglo)|(?:esta |quedo )?(?:resuelto|solucionado|arreglado)",
        r"todo (?:bien|listo|correcto|en orden)|problema resuelto|eso era todo|pueden cerrar",
    ),
    gratitude=(
        r"gracias|muchas gracias|mil gracias|(?:te|se|les) lo agradezco",
        r"perfecto|genial|excelente|estupendo",
    ),
    request=(
        r"gracias (?:de|por) adelantado|gracias de antemano",
        r"(?:tambien|ademas) (?:quisiera|necesito|quiero|como|donde)|otra (?:pregunta|cosa|duda)",
        r"como (?:puedo|hago|se)|donde (?:esta|estan|puedo)|cuando (?:llega|va|me|van|puedo)|por que",
        r"(?:pueden|puede|podrian|podria|podrias) |por favor|necesito|quiero|quisiera|me gustaria",
    ),
    pending=(
        r"lo (?:voy a )?(?:intento|probare|pruebo)|voy a (?:probar|intentar)|(?:te|les) (?:aviso|confirmo)",
    ),
    negation=(r"no|nunca|nada|ningun\w*",),
    problem=(r"error|roto|problema|falla\w*|tarde",),
    conditional=(r"en caso|para que|asegurar\w*|evitar|que pasa si|y si",),
)
_DE = _Phrases(
    not_helped=(
        r"(?:hat|haben|hats) (?:es |das )?(?:mir |uns )?(?:leider |immer noch |noch |aber |trotzdem )?(?:nicht|nichts|nix|kein bisschen) (?:geholfen|funktioniert|geklappt|gebracht|gelost|behoben)",
        r"(?:es|das|dies|immer noch|noch immer|trotzdem|weiterhin) (?:funktioniert|klappt|geht) (?:leider |immer noch |noch immer |trotzdem |weiterhin )?(?:nicht|immer noch nicht)",
        r"(?:funktioniert|klappt|geht) (?:immer noch|noch immer|weiterhin|trotzdem) nicht|(?:immer noch|noch immer) (?:kaputt|das gleiche problem|derselbe fehler)",
        r"nicht (?:mehr |wirklich |ganz )?(?:gelost|behoben|geholfen|geklappt|erledigt)|(?:das )?hilft (?:mir )?(?:leider )?nicht|nicht hilfreich",
        r"(?:ist|war) nicht (?:das|was) (?:ich )?(?:gefragt|wollte|gemeint)|beantwortet (?:meine frage )?nicht",
        r"(?:habe ich|hab ich|ich habe|ich hab) (?:das )?(?:schon|bereits) (?:versucht|probiert|gemacht)|(?:schon|bereits) (?:versucht|probiert)",
    ),
    repeat=(
        r"(?:zweite|dritte|vierte|zweiten|dritten|vierten) mal",
        r"(?:schon|bereits) (?:einmal |mal |zweimal |mehrmals |mehrfach )?(?:gefragt|geschrieben|angefragt|gemeldet|mitgeteilt|nachgefragt)",
        r"(?:frage|schreibe) (?:ich )?(?:noch einmal|nochmal|nochmals|erneut)",
        r"warte (?:immer )?noch auf (?:eine |ihre |deine |eure )?antwort|(?:noch|immer noch) keine antwort|niemand hat (?:mir )?geantwortet",
    ),
    resolved=(
        r"(?:hat|hats) (?:super |gut |prima |perfekt |jetzt )?(?:geklappt|funktioniert|geholfen)(?! nicht)",
        r"(?:es |das |jetzt )?(?:funktioniert|klappt|geht) (?:jetzt|wieder)(?! nicht)|(?:ist |problem )(?:jetzt )?(?:gelost|behoben|erledigt)",
        r"alles (?:klar|gut|erledigt|in ordnung)|keine weiteren fragen",
    ),
    gratitude=(
        r"danke|vielen dank|besten dank|dankeschon|herzlichen dank|danke schon",
        r"perfekt|super|prima|toll|klasse|wunderbar",
    ),
    request=(
        r"danke im voraus|vielen dank im voraus|vorab vielen dank",
        r"ausserdem|noch eine frage|noch etwas|eine weitere frage",
        r"wie (?:kann|konnen|mache|geht)|wo (?:ist|sind|kann|finde)|wann|warum|wieso",
        r"(?:konnen|konnten|wurden) sie|kannst du|bitte(?! schliessen)|ich (?:brauche|mochte|will|hatte gern)",
    ),
    pending=(r"(?:probiere|versuche|teste) (?:es|das)|(?:ich )?melde mich",),
    negation=(r"nicht|nichts|kein\w*|nie",),
    problem=(r"fehler|kaputt|problem\w*",),
    conditional=(r"falls|sicherstellen|vermeiden|verhindern|was (?:ist )?wenn",),
)
_FR = _Phrases(
    not_helped=(
        r"n (?:a|ont|avait) (?:toujours |absolument |vraiment )?(?:pas|rien) (?:marche|fonctionne|aide|resolu|regle|change|servi)",
        r"ne (?:marche|fonctionne|m aide|resout|regle|sert) (?:toujours |vraiment |absolument |a rien|plus )?(?:pas|rien)?",
        r"toujours (?:pas|le meme probleme|la meme erreur|bloque|en panne)|(?:pas|n est (?:toujours )?pas) (?:encore )?(?:regle|resolu)",
        r"(?:pas|n est pas) ce que (?:j ai demande|je demandais|je voulais)|(?:ne|n) (?:repond|repondez) pas a ma question|pas utile",
        r"(?:j ai|je l ai) deja (?:essaye|fait|teste)|merci pour rien",
    ),
    repeat=(
        r"(?:deuxieme|troisieme|quatrieme|2e|3e|4e) fois",
        r"ai deja (?:demande|ecrit|contacte|signale|pose)",
        r"je (?:vous |te )?(?:redemande|reecris|relance)|(?:ecris|demande|contacte) (?:a |de )?nouveau",
        r"(?:toujours|encore) (?:pas de|sans|en attente d une|en attente de) reponse|j attends toujours (?:une |votre |ta )?reponse|personne ne (?:m a|a) repondu",
    ),
    resolved=(
        r"c est (?:bien |tout |maintenant |donc )?(?:regle|resolu|bon|ok|parfait)|(?:probleme|tout est) (?:regle|resolu)",
        r"ca (?:a |m a )?(?:marche|fonctionne|aide)(?: maintenant| parfaitement| tres bien)?|tout (?:fonctionne|marche)",
        r"pas d autres questions|plus de questions|vous pouvez fermer",
    ),
    gratitude=(r"merci|je vous remercie", r"parfait|genial|super|excellent|top"),
    request=(
        r"merci d avance|merci par avance",
        r"egalement|par ailleurs|autre (?:question|chose)",
        r"comment (?:puis|faire|je|on)|ou (?:est|sont|puis)|quand|pourquoi",
        r"(?:pouvez|pourriez) vous|peux tu|s il vous plait|svp|j ai besoin|je (?:voudrais|veux|souhaite)",
    ),
    pending=(r"je (?:vais )?(?:essayer|essaie|teste|tester)|je vous tiens au courant",),
    negation=(r"ne|n|pas|rien|jamais",),
    problem=(r"erreur|probleme|panne",),
    conditional=(r"au cas ou|pour que|m assurer|s assurer|eviter|et si|si jamais",),
)
_PT = _Phrases(
    not_helped=(
        r"nao (?:me )?(?:ajudou|funcionou|resolveu|adiantou|deu certo|serviu|ajuda|serve)",
        r"nao (?:foi |esta |ficou )?(?:resolvido|solucionado|consertado)",
        r"(?:ainda|continua|continuo) (?:nao (?:funciona|consigo)|sem funcionar|com (?:o mesmo )?(?:problema|erro)|dando erro)",
        r"nao e o que (?:eu )?(?:perguntei|pedi)|nao responde (?:a )?minha pergunta|ja (?:tentei|fiz isso|testei)",
    ),
    repeat=(
        r"(?:segunda|terceira|quarta) vez que (?:eu )?(?:pergunto|escrevo|peco|entro em contato|falo)|pela (?:segunda|terceira|quarta) vez",
        r"ja (?:perguntei|pedi|escrevi|falei|solicitei|reclamei|entrei em contato)",
        r"(?:pergunto|escrevo|peco) (?:de novo|novamente|outra vez)",
        r"(?:continuo|ainda estou|sigo) (?:esperando|aguardando) (?:uma |a |sua )?resposta|ainda sem resposta|ninguem (?:me )?respondeu",
    ),
    resolved=(
        r"(?:ja )?(?:funcionou|resolvido|resolveu|solucionado|deu certo)|(?:agora )?(?:funciona|esta funcionando)(?! mal)",
        r"(?:tudo|problema) (?:certo|ok|resolvido)|pode fechar",
    ),
    gratitude=(r"obrigad[oa]|muito obrigad[oa]|valeu|agradeco", r"perfeito|otimo|excelente|show"),
    request=(
        r"obrigad[oa] desde ja|desde ja obrigad[oa]|obrigad[oa] antecipadamente",
        r"tambem (?:gostaria|queria|preciso)|outra (?:pergunta|duvida|coisa)",
        r"como (?:posso|faco)|onde (?:esta|estao|posso)|quando|por que",
        r"(?:podem|pode|poderiam|poderia) (?:me |ver|verificar|enviar|mudar)|por favor|preciso|quero|gostaria",
    ),
    pending=(r"vou (?:tentar|testar|ver)|(?:te |lhe )?aviso",),
    negation=(r"nao|nunca|nada|nenhum\w*",),
    problem=(r"erro|problema|quebrado",),
    conditional=(r"caso|para que|garantir|evitar|e se",),
)
_IT = _Phrases(
    not_helped=(
        r"non (?:mi |ci )?(?:ha|hanno) (?:ancora |proprio |affatto )?(?:funzionato|aiutato|risolto|servito)",
        r"(?:ancora|continua a) non (?:funziona|va|funzionare)|non (?:funziona|va) ancora|non (?:e |e stato |si e |e ancora )?(?:risolto|sistemato)",
        r"non e quello che (?:ho chiesto|chiedevo)|non risponde alla mia domanda|non (?:mi )?(?:serve|aiuta)|inutile",
        r"ho gia (?:provato|fatto|tentato)|grazie per niente",
    ),
    repeat=(
        r"(?:seconda|terza|quarta) volta che (?:vi |ti )?(?:chiedo|scrivo|domando|contatto)|per la (?:seconda|terza|quarta) volta",
        r"(?:ho|avevo) gia (?:chiesto|scritto|domandato|segnalato)",
        r"(?:chiedo|scrivo|domando) (?:di nuovo|ancora una volta|nuovamente)",
        r"sto ancora aspettando (?:una |la |vostra )?risposta|ancora nessuna risposta|nessuno (?:mi )?ha risposto",
    ),
    resolved=(
        r"(?:ha |ora |adesso )?funziona(?:to)?(?: ora| adesso| perfettamente)?|(?:e )?(?:risolto|sistemato)",
        r"tutto (?:ok|a posto|bene|chiaro|risolto)|potete chiudere",
    ),
    gratitude=(r"grazie|grazie mille|ti ringrazio|vi ringrazio", r"perfetto|ottimo|fantastico|benissimo"),
    request=(
        r"grazie in anticipo|grazie anticipatamente",
        r"inoltre|un altra (?:domanda|cosa)",
        r"come (?:posso|faccio|si)|dove (?:e|sono|posso)|dov e|quando|perche",
        r"potete|potreste|puoi|per favore|per piacere|ho bisogno|vorrei|voglio",
    ),
    pending=(r"(?:provo|provero)|(?:vi|ti) faccio sapere",),
    negation=(r"non|mai|niente|nulla",),
    problem=(r"errore|problema|guasto",),
    conditional=(r"nel caso|in caso|affinche|assicurarmi|evitare|e se",),
)
_LANGUAGES = (_EN, _ES, _DE, _FR, _PT, _IT)

# A "solved" word right after a negation is the opposite ("no funciona", "non ha funzionato", "n'a
# pas marché"); the failure tables catch those, this keeps them from also reading as CLOSING.
_NOT_NEGATED = "".join(
    rf"(?<!\b{word} )" for word in ("no", "not", "non", "nao", "nicht", "ne", "pas", "never", "nunca", "mai")
)
_RESOLVED_MAX_WORDS = 40
_GRATITUDE_MAX_WORDS = 12


def _compile(field: str, prefix: str = "") -> re.Pattern[str]:
    fragments = [fragment for language in _LANGUAGES for fragment in getattr(language, field)]
    return re.compile(prefix + r"\b(?:" + "|".join(fragments) + r")\b")


_NOT_HELPED = _compile("not_helped")
_REPEAT = _compile("repeat")
_RESOLVED = _compile("resolved", _NOT_NEGATED)
_GRATITUDE = _compile("gratitude")
_REQUEST = _compile("request")
_PENDING = _compile("pending")
_NEGATION = _compile("negation")
_PROBLEM = _compile("problem")
# Conditional marker, then at most three words, then the failure phrase.
_CONDITIONAL = re.compile(
    r"\b(?:" + "|".join(f for lang in _LANGUAGES for f in lang.conditional) + r")(?: \w+){0,3} $"
)

_SENTENCE = re.compile(r"[^.!?;\n]+[.!?;\n]*")
_FOLD_CHARS = str.maketrans({"’": "'", "‘": "'", "´": "'", "`": "'", "ß": "ss"})
_NEGATED_AUX = re.compile(r"\b(did|does|do|is|was|has|have|had|are|were|could|would|should|ca|wo)n'?t\b")
_CONTRACTED = re.compile(r"\b(i|you|we|they|he|she|it|that)'(m|re|ve|ll|d)\b")
_CONTRACTION_WORDS = {"m": "am", "re": "are", "ve": "have", "ll": "will", "d": "would"}
_NON_WORD = re.compile(r"[^a-z0-9]+")


def _fold(text: str) -> str:
    """Lowercase ASCII words separated by single spaces, English negations spelled out."""
    decomposed = unicodedata.normalize("NFKD", text.translate(_FOLD_CHARS).casefold())
    ascii_text = "".join(char for char in decomposed if not unicodedata.combining(char))
    ascii_text = _NEGATED_AUX.sub(lambda m: {"ca": "can", "wo": "will"}.get(m[1], m[1]) + " not", ascii_text)
    ascii_text = ascii_text.replace("cannot", "can not")
    ascii_text = _CONTRACTED.sub(lambda m: f"{m[1]} {_CONTRACTION_WORDS[m[2]]}", ascii_text)
    return " ".join(_NON_WORD.sub(" ", ascii_text).split())


@dataclass(frozen=True)
class _Sentence:
    words: str  # folded
    question: bool


def _sentences(text: str) -> list[_Sentence]:
    return [
        _Sentence(_fold(chunk), "?" in chunk or "¿" in chunk)
        for chunk in _SENTENCE.findall(text)
        if chunk.strip()
    ]


def _asserted(pattern: re.Pattern[str], sentences: list[_Sentence]) -> bool:
    """True when ``pattern`` matches somewhere not right after a conditional ("what if it fails")."""
    for sentence in sentences:
        padded = f" {sentence.words} "
        for match in pattern.finditer(padded):
            if not _CONDITIONAL.search(padded[: match.start()]):
                return True
    return False


def mentions_repeat(text: str) -> bool:
    """Whether the customer says they already asked ("second time", "asking again", "ya pregunté")."""
    return _asserted(_REPEAT, _sentences(text))


def classify_follow_up(text: str) -> FollowUp:
    """What a follow-up in a thread says about the conversation so far (see the module docstring)."""
    sentences = _sentences(text)
    if _asserted(_NOT_HELPED, sentences) or _asserted(_REPEAT, sentences):
        return FollowUp.NOT_HELPED
    folded = " ".join(sentence.words for sentence in sentences)
    if any(sentence.question for sentence in sentences) or _REQUEST.search(folded):
        return FollowUp.NONE
    word_count = folded.count(" ") + 1 if folded else 0
    if word_count <= _RESOLVED_MAX_WORDS and _RESOLVED.search(folded):
        return FollowUp.CLOSING
    if (
        word_count <= _GRATITUDE_MAX_WORDS
        and _GRATITUDE.search(folded)
        and not _NEGATION.search(folded)
        and not _PROBLEM.search(folded)
        and not _PENDING.search(folded)
    ):
        return FollowUp.CLOSING
    return FollowUp.NONE
