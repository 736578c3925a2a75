"""Turning an email body into the words the customer actually wrote this time.

Order matters: HTML -> text first, then cut quoted history (everything below "On ... wrote:" is the
previous thread, which the conversation already holds), then drop the signature. Every cut is
skipped when it would leave nothing, because a short message is better than an empty ticket.
"""

from __future__ import annotations

import re
import warnings

from bs4 import BeautifulSoup, MarkupResemblesLocatorWarning

from supportflow.schemas.errors import InvalidInputError

# Tags whose end should become a line break when flattening HTML.
_BLOCK_TAGS = ["p", "div", "br", "li", "tr", "h1", "h2", "h3", "h4", "h5", "h6", "blockquote", "table", "hr"]
# Containers mail clients use for quoted history in HTML replies.
_HTML_QUOTE_SELECTORS = [
    "blockquote",
    "div.gmail_quote",
    "div#divRplyFwdMsg",
    "div#appendonsend",
    "div.moz-cite-prefix",
    "div.yahoo_quoted",
]

# A line that starts the quoted previous message. "On <date>, <name> wrote:" may wrap onto a 2nd line.
_QUOTE_HEADERS = [
    re.compile(r"^\s*On\b[^\n]{0,300}(\n[^\n]{0,200})?\bwrote:\s*$", re.M),
    re.compile(r"^\s*El\b[^\n]{0,300}(\n[^\n]{0,200})?\bescribi[óo]:\s*$", re.M),
    re.compile(r"^\s*Am\b[^\n]{0,300}(\n[^\n]{0,200})?\bschrieb[^\n]{0,100}:\s*$", re.M),
    re.compile(r"^\s*Le\b[^\n]{0,300}(\n[^\n]{0,200})?\ba [ée]crit\s*:\s*$", re.M),
    re.compile(r"^\s*(Em|No dia)\b[^\n]{0,300}(\n[^\n]{0,200})?\bescreveu:\s*$", re.M),
    re.compile(r"^\s*-{2,}\s*Original Message\s*-{2,}\s*$", re.M | re.I),
    # Outlook: an optional underscore rule, then a From:/Sent: (or Date:) header block.
    re.compile(r"^(_{10,}\s*\n)?\s*\*?From:\*?[^\n]*\n\s*\*?(Sent|Date):\*?[^\n]*$", re.M),
    re.compile(r"^\s*(De|Von):[^\n]*\n\s*(Enviado|Envoy[ée]|Gesendet|Date|Datum):[^\n]*$", re.M),
]
_FORWARD_HEADER = re.compile(
    r"^\s*-{2,}\s*(Forwarded message|Begin forwarded message|Mensaje reenviado|"
    r"Weitergeleitete Nachricht|Message transféré)\s*-*\s*:?\s*$",
    re.M | re.I,
)

_SIGNATURE_DELIMITER = re.compile(r"^-- ?$", re.M)
_MOBILE_FOOTERS = re.compile(
    r"^\s*(Sent from my (iPhone|iPad|Android|Samsung|Galaxy|mobile)[^\n]*|Sent from Mail for Windows[^\n]*|"
    r"Get Outlook for (iOS|Android)[^\n]*|Enviado desde mi (iPhone|móvil)[^\n]*|"
    r"Von meinem iPhone gesendet[^\n]*|Envoyé de mon iPhone[^\n]*|Enviado do meu iPhone[^\n]*)\s*$",
    re.M | re.I,
)
_SIGN_OFFS = re.compile(
    r"^\s*((thanks|thank you)( so much| a lot| in advance| again)?|many thanks|thx|cheers|"
    r"best|best regards|kind regards|warm regards|"
    r"regards|sincerely|yours|all the best|talk soon|saludos|un saludo|gracias|muchas gracias|"
    r"atentamente|mit freundlichen gr(ü|ue)(ß|ss)en|viele gr(ü|ue)(ß|ss)e|liebe gr(ü|ue)(ß|ss)e|danke|"
    r"gr(ü|ue)(ß|ss)e|cordialement|bien (à vous|cordialement)|merci|obrigad[oa]|atenciosamente|"
    r"cumprimentos)\s*[,.!]*\s*$",
    re.I,
)
# A sign-off is only a signature when what follows it is short (a name, a title, a phone number).
_MAX_SIGNATURE_LINES = 4
_MAX_SIGNATURE_LINE_CHARS = 60


def html_to_text(html: str) -> str:
    """Visible text of an HTML email, without scripts, styles or quoted replies, keeping line breaks."""
    with warnings.catch_warnings():
        # Short bodies such as "help.html" make bs4 warn that they look like file names.
        warnings.simplefilter("ignore", MarkupResemblesLocatorWarning)
        soup = BeautifulSoup(html, "html.parser")
    for tag in soup(["script", "style", "head", "title", "meta", "noscript", "template"]):
        tag.decompose()
    for selector in _HTML_QUOTE_SELECTORS:
        for tag in soup.select(selector):
            tag.decompose()
    for tag in soup.find_all(_BLOCK_TAGS):
        tag.append("\n")
    return normalize_whitespace(soup.get_text())


def normalize_whitespace(text: str) -> str:
    """Trim every line, turn runs of blank lines into one, drop leading/trailing blank lines."""
    text = text.replace("\r\n", "\n").replace("\r", "\n").replace("\xa0", " ")
    lines = [re.sub(r"[ \t\f\v]+", " ", line).strip() for line in text.split("\n")]
    out: list[str] = []
    for line in lines:
        if line or (out and out[-1]):
            out.append(line)
    return "\n".join(out).strip()


def strip_quoted(text: str) -> str:
    """Remove the previous messages a reply quotes; forwarded content is kept (it is the question)."""
    forward = _FORWARD_HEADER.search(text)
    cut = len(text)
    for pattern in _QUOTE_HEADERS:
        match = pattern.search(text)
        # A quote header inside forwarded content belongs to the forwarded thread: keep it.
        if match and match.start() < cut and not (forward and match.start() > forward.start()):
            cut = match.start()
    kept = text[:cut]
    kept = "\n".join(line for line in kept.split("\n") if not line.lstrip().startswith(">"))
    kept = normalize_whitespace(kept)
    return kept or normalize_whitespace(text)


def strip_signature(text: str) -> str:
    """Drop the "-- " signature, mobile footers and a short sign-off block at the end."""
    original = text
    delimiter = _SIGNATURE_DELIMITER.search(text)
    if delimiter:
        text = text[: delimiter.start()]
    text = _MOBILE_FOOTERS.sub("", text)
    lines = normalize_whitespace(text).split("\n")
    # Look for the last sign-off within the final few lines; cut it and the short block under it.
    for idx in range(len(lines) - 1, max(-1, len(lines) - _MAX_SIGNATURE_LINES - 2), -1):
        if _SIGN_OFFS.match(lines[idx]):
            tail = [line for line in lines[idx + 1 :] if line]
            if len(tail) <= _MAX_SIGNATURE_LINES and all(len(t) <= _MAX_SIGNATURE_LINE_CHARS for t in tail):
                lines = lines[:idx]
            break
    result = normalize_whitespace("\n".join(lines))
    return result or normalize_whitespace(original)


def strip_trailing_name(text: str, display_name: str | None) -> str:
    """Drop a last line that is just the sender's name ("Noah", "William Hayes"): a bare signature."""
    if not display_name:
        return text
    names = {display_name.strip().lower(), display_name.split()[0].lower()} if display_name.split() else set()
    head, _, last = text.rpartition("\n")
    if head.strip() and last.strip().strip(",.!-").lower() in names:
        return normalize_whitespace(head)
    return text


def clean_body(text: str, display_name: str | None = None) -> str:
    cleaned = strip_signature(strip_quoted(normalize_whitespace(text)))
    return strip_trailing_name(cleaned, display_name)


def is_forwarded(text: str) -> bool:
    return _FORWARD_HEADER.search(text) is not None


# More control characters than this means the bytes were not text in any charset we tried.
_MAX_CONTROL_RATIO = 0.05


def decode_body(raw: bytes, declared: str | None) -> tuple[str, str]:
    """Decode a text part: declared charset, then UTF-8, then Windows-1252. Returns (text, charset used).

    Mail clients mislabel charsets all the time (Latin-1 bytes sent as us-ascii, UTF-8 sent as
    iso-8859-1), so a strict failure of the declared charset falls back instead of dead-lettering.
    Raises InvalidInputError when no candidate yields text.
    """
    candidates: list[str] = []
    for name in (declared, "utf-8", "windows-1252"):
        if name and name.lower() not in candidates:
            candidates.append(name.lower())
    for charset in candidates:
        try:
            text = raw.decode(charset)
        except (ValueError, LookupError):  # bad bytes, unknown charset, or a charset name with NULs
            continue
        if _looks_like_text(text):
            return text, charset
    raise InvalidInputError(
        f"email body ({len(raw)} bytes) is not text in its declared charset {declared or 'us-ascii'!r} "
        "nor in utf-8/windows-1252"
    )


def _looks_like_text(text: str) -> bool:
    if not text:
        return True
    controls = sum(1 for c in text if ord(c) < 32 and c not in "\n\r\t\f\v")
    return controls / len(text) <= _MAX_CONTROL_RATIO
