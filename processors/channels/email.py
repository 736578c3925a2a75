"""RFC 5322 email (raw ``.eml`` bytes) -> one Ticket.

Threading follows the headers mail clients already maintain: the conversation is the first id in
``References`` (the thread root), else ``In-Reply-To``, else the message's own ``Message-ID``, so a
reply lands in the same conversation (and Kafka partition) as the message it answers.

The sender's address is vouched for (``Ticket.verified_email``) only when the header section names
exactly one mailbox without the parser having to guess: see ``_mailbox``.
"""

from __future__ import annotations

import re
import unicodedata
from email import errors, policy
from email.errors import HeaderParseError
from email.header import decode_header, make_header
from email.message import EmailMessage, Message
from email.parser import BytesParser
from email.utils import getaddresses, parsedate_to_datetime

from supportflow.processors.channels.common import (
    content_hash,
    conversation_id_for,
    new_trace_id,
    require_text,
    ticket_id_for,
)
from supportflow.processors.channels.email_text import clean_body, decode_body, html_to_text, is_forwarded
from supportflow.processors.contacts import email_address, normalize_email
from supportflow.schemas.errors import SchemaError
from supportflow.schemas.models import Attachment, Channel, InboundEvent, Ticket

_SUBJECT_PREFIX = re.compile(r"^\s*((re|fw|fwd|aw|wg|sv|vs|rv|res|enc|tr|r)\s*(\[\d+\])?\s*[:：]\s*)+", re.I)
_MSG_ID = re.compile(r"<([^<>\s]+)>")
# Message defects about the body's MIME structure: they say nothing about who sent the message. Any
# other message defect (a line in the header section that is not a header, a first header line that
# is a continuation) means the header section was read with a guess, so nobody is vouched for.
_BODY_DEFECTS = (
    errors.NoBoundaryInMultipartDefect,
    errors.StartBoundaryNotFoundDefect,
    errors.CloseBoundaryNotFoundDefect,
    errors.MultipartInvariantViolationDefect,
    errors.InvalidMultipartContentTransferEncodingDefect,
    errors.InvalidBase64PaddingDefect,
    errors.InvalidBase64CharactersDefect,
    errors.InvalidBase64LengthDefect,
)
# Obsolete-syntax defects about the wording of a display name only (``Dr. Daniel Okafor`` has an
# unquoted period): common, and the mailbox is still unambiguous. Every other header defect is not.
_NAME_DEFECTS = frozenset({"period in 'phrase'", "comment found without atom"})


def parse_email(event: InboundEvent, now_ms: int) -> list[Ticket]:
    msg = BytesParser(policy=policy.default).parsebytes(event.payload)
    if not isinstance(msg, EmailMessage) or not msg.keys():
        raise SchemaError("email payload has no RFC 5322 headers")
    sender, display_name = _sender(msg)
    own_id = _first_id(_header(msg, "Message-ID"))
    id_source = "message-id"
    if own_id is None:
        # No Message-ID (some web forms): the raw bytes are the identity, so a redelivery still dedupes.
        own_id = "sha1:" + content_hash(event.payload)
        id_source = "content-hash"
    references = _MSG_ID.findall(_header(msg, "References"))
    in_reply_to = _first_id(_header(msg, "In-Reply-To"))
    thread_root = references[0] if references else in_reply_to or own_id

    body_text, charset = _body_text(msg)
    text = require_text(
        clean_body(body_text, display_name), f"email <{own_id}> (truncated or attachment-only?)"
    )
    metadata = {"message_id": own_id, "id_source": id_source}
    if in_reply_to:
        metadata["in_reply_to"] = in_reply_to
    if charset:
        metadata["charset"] = charset
    if is_forwarded(body_text):
        metadata["forwarded"] = "true"
    return [
        Ticket(
            ticket_id=ticket_id_for(Channel.EMAIL.value, own_id),
            conversation_id=conversation_id_for(Channel.EMAIL.value, thread_root),
            channel=Channel.EMAIL,
            sender=sender,
            customer_name=display_name or None,
            subject=clean_subject(_header(msg, "Subject")),
            text=text,
            attachments=_attachments(msg),
            received_at_ms=_date_ms(msg, event.received_at_ms),
            ingested_at_ms=now_ms,
            trace_id=new_trace_id(),
            is_reply=bool(references or in_reply_to),
            metadata=metadata,
            # The Message-ID as the sending mail server wrote it (or the content hash, see id_source):
            # an id of the message, never derived from the sender's address.
            external_id=own_id,
            verified_email=_verified_address(msg, sender),
        )
    ]


def clean_subject(subject: str) -> str:
    """``"RE: Fwd: Where is my order"`` -> ``"Where is my order"``."""
    return " ".join(_SUBJECT_PREFIX.sub("", subject).split())


def _header(msg: Message, name: str) -> str:
    # policy.default decodes RFC 2047 words; a malformed header can still fail to parse, and a
    # missing subject is not a reason to drop a customer's message.
    try:
        value = msg.get(name)
    except (ValueError, TypeError, IndexError, AttributeError):
        # The stdlib header parser trips over some malformed headers: fall back to the raw value.
        raw = next((v for k, v in msg.raw_items() if k.lower() == name.lower()), "")
        return _decode_words(str(raw))
    return str(value) if value is not None else ""


def _decode_words(raw: str) -> str:
    """Best-effort RFC 2047 decoding of a raw header value; undecodable words stay as they are."""
    try:
        return str(make_header(decode_header(raw)))
    except (ValueError, LookupError, UnicodeError, HeaderParseError):
        return raw


def _first_id(value: str) -> str | None:
    found = _MSG_ID.findall(value)
    if found:
        return str(found[0])
    stripped = value.strip()
    return stripped or None


def _sender(msg: Message) -> tuple[str, str]:
    """Who to answer (the first address of Reply-To, else of From) and their display name.

    Lenient on purpose, so a message with a messy header is still answered; whether that address is
    vouched for is ``_verified_address``'s strict decision.
    """
    raw_from = _header(msg, "Reply-To") or _header(msg, "From")
    for name, addr in getaddresses([raw_from]):
        email = email_address(addr)
        if email:
            return email, name.strip().strip('"')
    raise SchemaError(f"email has no usable sender address (From: {raw_from[:80]!r})")


def _verified_address(msg: Message, sender: str) -> str:
    """The From address when it is unambiguous and answers go back to it; "" otherwise.

    Identity binding (docs/ingress.md) vouches for the From address only if ``From`` (and ``Reply-To``
    when present) each name exactly one mailbox (``_mailbox``), the same one, and it is the ticket's
    sender: otherwise "From: customer, Reply-To: impostor" would mail the customer's account to the
    impostor, and ``From: customer@example.net <impostor@evil.example>``, which the stdlib parser reads
    as the customer's address, would too.
    """
    if any(not isinstance(defect, _BODY_DEFECTS) for defect in msg.defects):
        return ""
    email = _mailbox(msg, "From")
    if email is None or email != sender:
        return ""
    if any(str(value).strip() for key, value in msg.raw_items() if key.lower() == "reply-to"):
        return email if _mailbox(msg, "Reply-To") == email else ""
    return email


def _mailbox(msg: Message, name: str) -> str | None:
    """The comparable address of the one mailbox header ``name`` names, or None if that is ambiguous.

    Exactly one such header, holding one address and no group, with no parser defect except the
    display-name wording ones (``_NAME_DEFECTS``) and raw UTF-8 in the name; the address is the
    angle-addr's. A display name containing ``@`` (after RFC 2047 decoding and NFKC, so ``=?utf-8?b?...?=``
    and a fullwidth at count) is ambiguous unless it is that same address, and the raw header may hold no
    other ``@`` (in a comment, a second address the parser dropped, a quoted local part, a route).
    """
    try:
        headers = msg.get_all(name) or []
        raws = [str(value) for key, value in msg.raw_items() if key.lower() == name.lower()]
    except (ValueError, TypeError, IndexError, AttributeError):
        return None
    if len(headers) != 1 or len(raws) != 1:
        return None
    header = headers[0]
    groups = getattr(header, "groups", None)
    if not groups or len(groups) != 1 or groups[0].display_name is not None or len(groups[0].addresses) != 1:
        return None
    if not all(_name_only(defect) for defect in getattr(header, "defects", ())):
        return None
    address = groups[0].addresses[0]
    email = normalize_email(address.addr_spec)
    if email is None:
        return None
    display_name = _readable(address.display_name or "")
    names_address = "@" in display_name
    if names_address and normalize_email(display_name) != email:
        return None
    if _readable(_decode_words(_unescape(raws[0]))).count("@") != (2 if names_address else 1):
        return None
    return email


def _name_only(defect: errors.MessageDefect) -> bool:
    """A header defect that concerns only a display name's wording or bytes, not the mailbox."""
    if isinstance(defect, errors.UndecodableBytesDefect):
        return True  # raw UTF-8 (RFC 6532); an address with such bytes is refused by normalize_email
    return isinstance(defect, errors.ObsoleteHeaderDefect) and str(defect) in _NAME_DEFECTS


def _unescape(text: str) -> str:
    """Raw UTF-8 bytes the parser kept as surrogates, decoded (undecodable ones become U+FFFD)."""
    try:
        return text.encode("utf-8", "surrogateescape").decode("utf-8", "replace")
    except UnicodeError:
        return text.encode("utf-8", "replace").decode("utf-8")


def _readable(text: str) -> str:
    """``_unescape``, then NFKC: what a reader sees, so a fullwidth or small ``@`` counts as ``@``."""
    return unicodedata.normalize("NFKC", _unescape(text))


def _date_ms(msg: Message, fallback_ms: int) -> int:
    value = _header(msg, "Date")
    try:
        return int(parsedate_to_datetime(value).timestamp() * 1000) if value else fallback_ms
    except (TypeError, ValueError, IndexError, OverflowError):
        return fallback_ms


def _body_text(msg: EmailMessage) -> tuple[str, str | None]:
    """Prefer text/plain; use HTML when there is no plain part or the plain part is blank."""
    candidates = [msg.get_body(preferencelist=("plain",)), msg.get_body(preferencelist=("html",))]
    if not msg.is_multipart() and msg.get_content_maintype() != "text":
        candidates = []  # a bare image/pdf body: nothing for us to read
    for part in candidates:
        if part is None:
            continue
        raw = part.get_payload(decode=True)
        if not isinstance(raw, bytes):
            continue
        text, charset = decode_body(raw, part.get_content_charset())
        if part.get_content_subtype() == "html":
            text = html_to_text(text)
        if text.strip():
            return text, charset
    return "", None


def _attachments(msg: EmailMessage) -> list[Attachment]:
    """Files are listed (name, type, size) so agents know they exist; their bytes never enter a ticket."""
    found: list[Attachment] = []
    for part in msg.walk():
        content_type = part.get_content_type()
        filename = part.get_filename()
        if content_type == "message/rfc822":
            # A message forwarded "as attachment": listed whole (its own parts are walked next).
            inner = part.get_payload()
            size = (
                len(inner[0].as_bytes())
                if isinstance(inner, list) and inner and isinstance(inner[0], Message)
                else 0
            )
            found.append(
                Attachment(filename=filename or "forwarded.eml", content_type=content_type, size_bytes=size)
            )
            continue
        if part.is_multipart():
            continue
        disposition = part.get_content_disposition()
        if disposition != "attachment" and not (filename and part.get_content_maintype() != "text"):
            continue
        payload = part.get_payload(decode=True)
        found.append(
            Attachment(
                filename=filename or f"attachment-{len(found) + 1}",
                content_type=content_type,
                size_bytes=len(payload) if isinstance(payload, bytes) else 0,
            )
        )
    return found


def count_email_messages(event: InboundEvent) -> int:
    return 1
