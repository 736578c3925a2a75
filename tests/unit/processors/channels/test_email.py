"""Email parsing: MIME structure, charsets, threading, quote/signature stripping, bad input."""

from __future__ import annotations

import base64
from datetime import UTC, datetime

import pytest

from supportflow.processors.channels import EMAIL_CONTENT_TYPE, parse_event
from supportflow.processors.channels.email import clean_subject
from supportflow.processors.channels.email_text import clean_body, decode_body, html_to_text
from supportflow.schemas.errors import InvalidInputError, SchemaError
from supportflow.schemas.models import Channel, InboundEvent, Ticket

NOW = 1_795_000_000_000


def email_event(raw: str | bytes) -> InboundEvent:
    payload = raw.encode("utf-8") if isinstance(raw, str) else raw
    payload = payload.replace(b"\r\n", b"\n").replace(b"\n", b"\r\n")
    return InboundEvent(
        event_id="e",
        channel=Channel.EMAIL,
        received_at_ms=NOW - 5,
        payload=payload,
        content_type=EMAIL_CONTENT_TYPE,
        source="test",
    )


def one(raw: str | bytes) -> Ticket:
    tickets = parse_event(email_event(raw), NOW)
    assert len(tickets) == 1
    return tickets[0]


HEAD = "From: Maya Thompson <Maya.Thompson@Example.com>\nTo: support@northwind.example\n"


def test_email_plain_message_maps_every_ticket_field() -> None:
    ticket = one(
        HEAD + "Subject: Where is my parka?\nDate: Sun, 22 Nov 2026 15:00:00 +0000\n"
        "Message-ID: <abc@example.com>\n\nHi, where is order NW-100248?\n"
    )
    assert ticket.channel is Channel.EMAIL
    assert ticket.sender == "maya.thompson@example.com"
    assert ticket.customer_name == "Maya Thompson"
    assert ticket.subject == "Where is my parka?"
    assert ticket.text == "Hi, where is order NW-100248?"
    assert ticket.received_at_ms == int(datetime(2026, 11, 22, 15, tzinfo=UTC).timestamp() * 1000)
    assert ticket.ingested_at_ms == NOW
    assert ticket.is_reply is False
    assert ticket.metadata["message_id"] == "abc@example.com"
    assert ticket.ticket_id.startswith("tkt_") and ticket.conversation_id.startswith("conv_")


def test_email_same_message_id_twice_gets_same_ticket_id_but_new_trace() -> None:
    raw = HEAD + "Subject: x\nMessage-ID: <same@example.com>\n\nhello there\n"
    first, second = one(raw), one(raw)
    assert first.ticket_id == second.ticket_id
    assert first.trace_id != second.trace_id


def test_email_reply_joins_thread_root_from_references() -> None:
    root = one(HEAD + "Subject: Boots\nMessage-ID: <root@example.com>\n\nWhere are my boots?\n")
    reply = one(
        HEAD + "Subject: Re: Boots\nMessage-ID: <r2@example.com>\nIn-Reply-To: <agent1@store.example>\n"
        "References: <root@example.com> <agent1@store.example>\n\nStill nothing.\n"
    )
    assert reply.conversation_id == root.conversation_id
    assert reply.ticket_id != root.ticket_id
    assert reply.is_reply is True
    assert reply.metadata["in_reply_to"] == "agent1@store.example"
    assert reply.subject == "Boots"


def test_email_in_reply_to_without_references_threads_on_parent() -> None:
    parent = one(HEAD + "Subject: a\nMessage-ID: <p@example.com>\n\nfirst\n")
    child = one(
        HEAD + "Subject: Re: a\nMessage-ID: <c@example.com>\nIn-Reply-To: <p@example.com>\n\nsecond\n"
    )
    assert child.conversation_id == parent.conversation_id and child.is_reply


def test_email_without_message_id_uses_content_hash_deterministically() -> None:
    raw = HEAD + "Subject: web form\n\nPlease call me back.\n"
    assert one(raw).ticket_id == one(raw).ticket_id
    assert one(raw).metadata["id_source"] == "content-hash"
    assert one(raw + "x").ticket_id != one(raw).ticket_id


def test_email_multipart_alternative_prefers_plain_text() -> None:
    ticket = one(
        HEAD + "Subject: a\nMessage-ID: <m@x.com>\nMIME-Version: 1.0\nContent-Type: multipart/alternative; "
        'boundary="b"\n\n--b\nContent-Type: text/plain; charset=utf-8\n\nPLAIN version\n--b\n'
        "Content-Type: text/html; charset=utf-8\n\n<p>HTML version</p>\n--b--\n"
    )
    assert ticket.text == "PLAIN version"


def test_email_blank_plain_part_falls_back_to_html() -> None:
    ticket = one(
        HEAD + "Subject: a\nMessage-ID: <m@x.com>\nMIME-Version: 1.0\nContent-Type: multipart/alternative; "
        'boundary="b"\n\n--b\nContent-Type: text/plain\n\n  \n--b\n'
        "Content-Type: text/html\n\n<p>Only the HTML has words</p>\n--b--\n"
    )
    assert ticket.text == "Only the HTML has words"


def test_email_html_only_strips_scripts_styles_and_gmail_quote() -> None:
    html = (
        "<html><head><style>p{color:red}</style><script>alert(1)</script></head><body>"
        "<div>Line one<br>Line two</div><p>Para</p>"
        '<div class="gmail_quote">On Mon, support wrote:<blockquote>old text</blockquote></div></body></html>'
    )
    ticket = one(
        HEAD + f"Subject: a\nMessage-ID: <h@x.com>\nMIME-Version: 1.0\nContent-Type: text/html\n\n{html}\n"
    )
    assert ticket.text == "Line one\nLine two\nPara"


def test_html_to_text_keeps_list_items_on_lines() -> None:
    assert html_to_text("<ul><li>boots</li><li>tent</li></ul>") == "boots\ntent"


def test_email_latin1_body_and_rfc2047_subject_decode() -> None:
    raw = (
        HEAD + "Subject: =?iso-8859-1?q?Direcci=F3n_nueva?=\nMessage-ID: <l1@x.com>\nMIME-Version: 1.0\n"
        "Content-Type: text/plain; charset=iso-8859-1\nContent-Transfer-Encoding: 8bit\n\n"
    ).encode()
    ticket = one(raw + "Mi dirección: Calle Alcalá 3º\n".encode("iso-8859-1"))
    assert ticket.subject == "Dirección nueva"
    assert ticket.text == "Mi dirección: Calle Alcalá 3º"


def test_email_quoted_printable_windows_1252_decodes_euro_and_quotes() -> None:
    ticket = one(
        HEAD + "Subject: f\nMessage-ID: <q@x.com>\nMIME-Version: 1.0\n"
        "Content-Type: text/plain; charset=windows-1252\nContent-Transfer-Encoding: quoted-printable\n\n"
        "Facture de 329 =80 pour l=92entreprise=\n s'il vous pla=EEt\n"
    )
    assert ticket.text == "Facture de 329 € pour l’entreprise s'il vous plaît"


def test_email_base64_utf8_body_decodes() -> None:
    body = base64.b64encode("Passwort zurücksetzen geht nicht".encode()).decode()
    ticket = one(
        HEAD + "Subject: =?utf-8?b?UGFzc3dvcnQ=?=\nMessage-ID: <b@x.com>\nMIME-Version: 1.0\n"
        f"Content-Type: text/plain; charset=utf-8\nContent-Transfer-Encoding: base64\n\n{body}\n"
    )
    assert ticket.text == "Passwort zurücksetzen geht nicht"
    assert ticket.subject == "Passwort"


def test_email_mislabeled_ascii_charset_falls_back_to_utf8() -> None:
    raw = (
        HEAD + "Subject: a\nMessage-ID: <u@x.com>\nContent-Type: text/plain; charset=us-ascii\n"
        "Content-Transfer-Encoding: 8bit\n\n"
    ).encode()
    ticket = one(raw + "Grüße aus München".encode())
    assert ticket.text == "Grüße aus München"
    assert ticket.metadata["charset"] == "utf-8"


def test_email_unknown_charset_falls_back_to_windows_1252() -> None:
    text, used = decode_body("café".encode("windows-1252"), "x-made-up")
    assert (text, used) == ("café", "windows-1252")


def test_email_binary_garbage_body_is_invalid_input() -> None:
    raw = (
        HEAD + "Subject: a\nMessage-ID: <g@x.com>\nContent-Type: text/plain; charset=utf-8\n"
        "Content-Transfer-Encoding: 8bit\n\n"
    ).encode()
    with pytest.raises(InvalidInputError, match="not text"):
        parse_event(email_event(raw + bytes(range(0, 32)) * 20), NOW)


def test_email_attachments_listed_with_size_never_inlined() -> None:
    pdf = base64.b64encode(b"%PDF-1.4 fake statement").decode()
    ticket = one(
        HEAD + "Subject: a\nMessage-ID: <a@x.com>\nMIME-Version: 1.0\nContent-Type: multipart/mixed; "
        'boundary="m"\n\n--m\nContent-Type: text/plain\n\nSee attached statement.\n--m\n'
        'Content-Type: application/pdf; name="s.pdf"\nContent-Disposition: attachment; filename="s.pdf"\n'
        f"Content-Transfer-Encoding: base64\n\n{pdf}\n--m--\n"
    )
    assert ticket.text == "See attached statement."
    assert [(a.filename, a.content_type, a.size_bytes) for a in ticket.attachments] == [
        ("s.pdf", "application/pdf", 23)
    ]


def test_email_attachment_only_is_invalid_input() -> None:
    png = base64.b64encode(b"\x89PNG fake").decode()
    raw = (
        HEAD + "Subject: photo\nMessage-ID: <p@x.com>\nMIME-Version: 1.0\nContent-Type: multipart/mixed; "
        'boundary="m"\n\n--m\nContent-Type: image/png\nContent-Disposition: attachment; filename="a.png"\n'
        f"Content-Transfer-Encoding: base64\n\n{png}\n--m--\n"
    )
    with pytest.raises(InvalidInputError, match="no text to answer"):
        parse_event(email_event(raw), NOW)


def test_email_without_from_is_schema_error() -> None:
    with pytest.raises(SchemaError, match="sender"):
        parse_event(email_event("Subject: hi\nMessage-ID: <n@x.com>\n\nhello\n"), NOW)


def test_email_that_is_not_mime_at_all_raises_documented_error() -> None:
    with pytest.raises((SchemaError, InvalidInputError)):
        parse_event(email_event(b"\x00\x01 definitely not an email"), NOW)


def test_email_over_size_limit_is_invalid_input() -> None:
    raw = HEAD + "Subject: big\nMessage-ID: <big@x.com>\n\n" + "a" * 5000
    with pytest.raises(InvalidInputError, match="over the 2048-byte limit"):
        parse_event(email_event(raw), NOW, max_body_bytes=2048)


@pytest.mark.parametrize(
    "subject, expected",
    [
        ("RE: Fwd: AW: Order late", "Order late"),
        ("Re[2]: x", "x"),
        ("WG: Rechnung", "Rechnung"),
        ("Regarding my order", "Regarding my order"),
        ("  RE:  ", ""),
    ],
)
def test_clean_subject_strips_reply_and_forward_prefixes(subject: str, expected: str) -> None:
    assert clean_subject(subject) == expected


@pytest.mark.parametrize(
    "quoted",
    [
        "On Tue, Nov 3, 2026 at 10:00 AM Support <s@x.com> wrote:\n> old",
        "On Tue, Nov 3, 2026 at 10:00 AM Northwind Outfitters Support\n<support@x.com> wrote:\nold",
        "-----Original Message-----\nFrom: Support\nold",
        "________________________________\nFrom: Support <s@x.com>\nSent: Monday\nTo: me\nold",
        "From: Support <s@x.com>\nDate: Monday\nold",
        "El lun, 3 nov 2026 a las 10:00, Soporte escribió:\n> viejo",
        "Am Mo., 3. Nov. 2026 um 10:00 Uhr schrieb Support <s@x.com>:\n> alt",
        "Le lun. 3 nov. 2026 à 10:00, Support <s@x.com> a écrit :\n> ancien",
    ],
)
def test_clean_body_cuts_quoted_history(quoted: str) -> None:
    assert clean_body(f"My new question is here.\n\n{quoted}\nmore old text") == "My new question is here."


def test_clean_body_removes_interleaved_quote_lines() -> None:
    assert clean_body("> you said\nI disagree\n> more\nstrongly") == "I disagree\nstrongly"


@pytest.mark.parametrize(
    "signature",
    [
        "-- \nJane Doe\nCEO, Example Inc",
        "Sent from my iPhone",
        "Thanks,\nJane",
        "Best regards,\nJane Doe\n+1 555 0100",
        "Mit freundlichen Grüßen\nJonas",
        "Cordialement,\nCamille",
        "Get Outlook for iOS",
    ],
)
def test_clean_body_strips_signatures(signature: str) -> None:
    assert clean_body(f"Where is my order?\n\n{signature}") == "Where is my order?"


def test_clean_body_keeps_long_text_after_a_thanks_line() -> None:
    text = "Thanks,\n" + "\n".join(
        f"this is paragraph {i} of a long explanation of my problem" for i in range(6)
    )
    assert clean_body("Hi\n" + text) == "Hi\n" + text


def test_clean_body_never_returns_empty_for_thanks_only_message() -> None:
    assert clean_body("Thanks!") == "Thanks!"


def test_clean_body_drops_bare_sender_name_line() -> None:
    assert clean_body("Please refund me.\n\nNoah", "Noah Patel") == "Please refund me."


def test_clean_body_keeps_forwarded_content() -> None:
    body = "See below?\n\n---------- Forwarded message ---------\nFrom: DHL\nDate: Mon\n\nParcel held."
    assert clean_body(body).endswith("Parcel held.")


def test_email_forwarded_as_attachment_is_listed_not_inlined() -> None:
    ticket = one(
        HEAD + "Subject: Fwd: carrier\nMessage-ID: <f@x.com>\nMIME-Version: 1.0\nContent-Type: "
        'multipart/mixed; boundary="m"\n\n--m\nContent-Type: text/plain\n\nSee the carrier mail.\n--m\n'
        "Content-Type: message/rfc822\nContent-Disposition: attachment\n\n"
        "From: dhl@example.com\nSubject: held\n\nParcel held at depot.\n--m--\n"
    )
    assert ticket.text == "See the carrier mail."
    assert [(a.filename, a.content_type) for a in ticket.attachments] == [("forwarded.eml", "message/rfc822")]
    assert ticket.attachments[0].size_bytes > 0
