"""PII in the formats customers type: which ones a redactor removes (docs/reliability.md, "Redaction formats").

Each case is one line of customer text and the secret in it. A case counts as redacted when the
secret's letters and digits (after NFKC, so fullwidth digits count as digits) no longer appear in
the output's letters and digits; a "kept" case is ordinary text that must come back unchanged.

    .venv/bin/python docs/experiments/redaction_formats.py              # supportflow's redact(), table
    .venv/bin/python docs/experiments/redaction_formats.py --lines | .venv/bin/supportflow redact --json
    # a maintained library, in a throwaway venv (not a project dependency):
    python -m venv /tmp/pii && /tmp/pii/bin/pip install presidio-analyzer scrubadub
    /tmp/pii/bin/python docs/experiments/redaction_formats.py --engine presidio --engine scrubadub

presidio runs its pattern recognizers directly (credit card, IBAN, email, IP, US SSN, phone), which
needs no spaCy model; its AnalyzerEngine would load one (en_core_web_lg, a download) for names.
scrubadub runs its default Scrubber (regex detectors; the name detector needs TextBlob corpora and
is not in the default set).
"""

from __future__ import annotations

import argparse
import json
import time
import unicodedata
from collections.abc import Callable

ZW = "\u200b"
NB = "\u00a0"

# (group, format, line, secret); secret "" marks ordinary text that must come back unchanged.
CASES: list[tuple[str, str, str, str]] = [
    ("card", "spaces", "card 4111 1111 1111 1111 was charged", "4111111111111111"),
    ("card", "dashes", "card 4111-1111-1111-1111 was charged", "4111111111111111"),
    ("card", "no separator", "card 4111111111111111 was charged", "4111111111111111"),
    ("card", "dots", "card 4111.1111.1111.1111 was charged", "4111111111111111"),
    ("card", "slashes", "card 4111/1111/1111/1111 was charged", "4111111111111111"),
    ("card", "underscores", "card 4111_1111_1111_1111 was charged", "4111111111111111"),
    ("card", "double spaces", "card 4111  1111  1111  1111 was charged", "4111111111111111"),
    ("card", "non-breaking spaces", f"card 4111{NB}1111{NB}1111{NB}1111 was charged", "4111111111111111"),
    ("card", "zero-width spaces", f"card 4111{ZW}1111{ZW}1111{ZW}1111 was charged", "4111111111111111"),
    ("card", "zero-width inside groups", f"card 41{ZW}11 1111 11{ZW}11 1111 was charged", "4111111111111111"),
    ("card", "fullwidth digits", "card ４１１１ １１１１ １１１１ １１１１ was charged", "4111111111111111"),
    ("card", "Arabic-Indic digits", "card ٤١١١ ١١١١ ١١١١ ١١١١ was charged", "4111111111111111"),
    ("card", "space-dash-space", "card 5555 - 5555 - 5555 - 4444 please", "5555555555554444"),
    ("card", "Amex 4-6-5 dashes", "amex 3782-822463-10005 declined", "378282246310005"),
    ("card", "after a carrier word", "dhl 4000000000000002 thanks", "4000000000000002"),
    ("card", "end of sentence", "my card is 5555555555554444.", "5555555555554444"),
    ("card", "after another number", "ref 1234 card 4111 1111 1111 1111", "4111111111111111"),
    ("IBAN", "upper case, spaces", "IBAN DE89 3704 0044 0532 0130 00 thanks", "DE89370400440532013000"),
    ("IBAN", "upper case, compact", "pay to GB82WEST12345698765432", "GB82WEST12345698765432"),
    ("IBAN", "lower case, spaces", "iban de89 3704 0044 0532 0130 00 thanks", "DE89370400440532013000"),
    ("IBAN", "lower case, compact", "pay to gb82west12345698765432", "GB82WEST12345698765432"),
    ("IBAN", "dashes", "IBAN DE89-3704-0044-0532-0130-00 thanks", "DE89370400440532013000"),
    ("IBAN", "mixed case, spaces", "pay to Gb82 West 1234 5698 7654 32 now", "GB82WEST12345698765432"),
    ("IBAN", "double spaces", "cuenta ES91  2100  0418  4502  0005  1332", "ES9121000418450200051332"),
    ("email", "plain", "write to jane.doe@example.com please", "jane.doe@example.com"),
    ("email", "URL-encoded @", "write to jane.doe%40example.com please", "jane.doe%40example.com"),
    (
        "email",
        "URL-encoded + and @",
        "login jane.doe%2Bshop%40example.com fails",
        "jane.doe%2Bshop%40example.com",
    ),
    ("email", "fullwidth @", "write to jane.doe＠example.com please", "jane.doe@example.com"),
    ("email", "(at)", "write to jane.doe(at)example.com please", "jane.doe(at)example.com"),
    ("IP", "mid-sentence", "from 192.168.1.10 yesterday", "192.168.1.10"),
    ("IP", "end of sentence", "my ip is 10.0.0.1.", "10.0.0.1"),
    ("IP", "before a comma", "blocked 203.0.113.42, why", "203.0.113.42"),
    ("IP", "IPv6", "ipv6 2001:db8:85a3::8a2e:370:7334 blocked", "2001:db8:85a3::8a2e:370:7334"),
    ("SSN", "dashes", "my ssn is 123-45-6789", "123456789"),
    ("SSN", "dashes (2)", "SSN: 536-22-4187.", "536224187"),
    ("SSN", "spaces", "social security 536 22 4187 thanks", "536224187"),
    ("SSN", "after the word, no separator", "SSN 536224187", "536224187"),
    ("phone", "US", "call me on (415) 555-0132 tonight", "4155550132"),
    ("phone", "UK, non-breaking spaces", f"landline +44{NB}20{NB}7946{NB}0958", "442079460958"),
    ("kept", "order id", "Where is order NW-100231?", ""),
    ("kept", "tracking after carrier", "carrier USPS tracking 9400664035367877923594", ""),
    ("kept", "DPD parcel", "DPD parcel 07379504083351 is stuck", ""),
    ("kept", "UPS", "UPS 1Z999AA10123456784 arrived", ""),
    ("kept", "amounts", "I was charged $1,200.00 instead of €89.50", ""),
    ("kept", "dates and times", "It arrived on 15.03.2024, not 2024-03-15, around 10:30", ""),
    ("kept", "two dates", "between 25.03.2024 26.03.2024 and 27/03/2024", ""),
    ("kept", "card ending", "card ending 4242, invoice 2024-0042", ""),
    ("kept", "Luhn-invalid 16 digits", "reference 1234 5678 9012 3456 please", ""),
    ("kept", "version", "version 1.2.3.4.5 of the app", ""),
    ("kept", "order lines", "order 2 x 1234 and 3 x 5678, qty 10 20 30", ""),
]


def _compact(text: str) -> str:
    folded = (str(unicodedata.decimal(c, c)) for c in unicodedata.normalize("NFKC", text))
    return "".join(c for c in folded if c.isalnum()).upper()


def _secret_compact(secret: str) -> str:
    return _compact(secret.replace("%40", "@").replace("%2B", "+").replace("(at)", "@"))


def _supportflow() -> Callable[[str], str]:
    from supportflow.processors.redact import redact

    return lambda text: redact(text).text


def _presidio() -> Callable[[str], str]:
    from presidio_analyzer.predefined_recognizers import (  # type: ignore[import-not-found]
        CreditCardRecognizer,
        EmailRecognizer,
        IbanRecognizer,
        IpRecognizer,
        PhoneRecognizer,
        UsSsnRecognizer,
    )

    recognizers = [CreditCardRecognizer(), IbanRecognizer(), EmailRecognizer(), IpRecognizer(),
                   UsSsnRecognizer(), PhoneRecognizer()]  # fmt: skip

    def run(text: str) -> str:
        spans = sorted(
            (r.start, r.end)
            for rec in recognizers
            for r in rec.analyze(text, rec.supported_entities, None)
            if r.score > 0
        )
        out, cursor = [], 0
        for start, end in spans:
            if start >= cursor:
                out.append(text[cursor:start] + "[PII]")
                cursor = end
            elif end > cursor:
                cursor = end
        return "".join(out) + text[cursor:]

    return run


def _scrubadub() -> Callable[[str], str]:
    import scrubadub  # type: ignore[import-not-found]

    scrubber = scrubadub.Scrubber()
    return lambda text: str(scrubber.clean(text))


ENGINES = {"supportflow": _supportflow, "presidio": _presidio, "scrubadub": _scrubadub}


def outcome(redacted: str, line: str, secret: str) -> bool:
    """True when the engine did the right thing: secret gone, or ordinary text unchanged."""
    if not secret:
        return redacted == line
    secret_c = _secret_compact(secret)
    return secret_c not in _compact(redacted) and secret not in redacted


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--engine", action="append", choices=sorted(ENGINES))
    parser.add_argument("--lines", action="store_true", help="print the case lines only")
    parser.add_argument("--json", action="store_true", help="one JSON object per case and engine")
    args = parser.parse_args()
    if args.lines:
        for *_, line, _secret in CASES:
            print(line)
        return
    engines = {name: ENGINES[name]() for name in args.engine or ["supportflow"]}
    names = list(engines)
    print("| what | format | " + " | ".join(names) + " |")
    print("|---|---|" + "---|" * len(names))
    totals = dict.fromkeys(names, 0)
    for group, fmt, line, secret in CASES:
        cells = []
        for name, run in engines.items():
            started = time.perf_counter()
            redacted = run(line)
            ok = outcome(redacted, line, secret)
            totals[name] += ok
            if args.json:
                ms = (time.perf_counter() - started) * 1000
                print(json.dumps({"engine": name, "format": fmt, "ok": ok, "out": redacted, "ms": ms}))
            cells.append(
                ("kept" if ok else "**changed**") if not secret else ("redacted" if ok else "**LEAKED**")
            )
        print(f"| {group} | {fmt} | " + " | ".join(cells) + " |")
    print("| total right | " + f"of {len(CASES)} | " + " | ".join(str(totals[n]) for n in names) + " |")


if __name__ == "__main__":
    main()
