"""TA1 interchange acknowledgments: the segment we send, and the interchange a bad ISA still names."""

from __future__ import annotations

from qbo_sftp_assets.formats.x12.envelope import InterchangeReport
from qbo_sftp_assets.formats.x12.tokenizer import Delimiters, X12DelimiterError

# The version our replies carry when the received ISA12 is not a well-formed one to echo.
DEFAULT_REPLY_VERSION = "00401"


def reply_version(received: str) -> str:
    """ISA12 for a reply: the received version when it is five digits, else 00401, so our own
    acknowledgment is always well-formed even when it answers a broken header."""
    return received if len(received) == 5 and received.isdigit() else DEFAULT_REPLY_VERSION


# Byte offsets of the fixed-width ISA fields (docs/edi-rules.md §1.1), used when the delimiters are unreadable.
_ISA_FIELDS = {
    "sender_qualifier": (32, 34),
    "sender_id": (35, 50),
    "receiver_qualifier": (51, 53),
    "receiver_id": (54, 69),
    "date": (70, 76),
    "time": (77, 81),
    "version": (84, 89),
    "control_number": (90, 99),
    "ack_requested": (100, 101),
    "usage": (102, 103),
}


def ta1_elements(interchange: InterchangeReport) -> list[str]:
    """`TA1*ISA13*ISA09*ISA10*A|E|R*note code` for a received interchange."""
    return [
        "TA1",
        interchange.control_number,
        interchange.date,
        interchange.time,
        interchange.status,
        interchange.ta1_code,
    ]


def interchange_from_bad_header(error: X12DelimiterError) -> InterchangeReport | None:
    """The interchange a TA1 can answer when only its delimiters are broken: read from fixed offsets.

    None when the header is too short or its control number, date or time are not digits, because
    then no TA1 can name the interchange.
    """
    header = error.header
    if len(header) < 106:
        return None
    values = {name: header[start:end].decode("latin-1").strip() for name, (start, end) in _ISA_FIELDS.items()}
    if not all(values[name].isdigit() for name in ("control_number", "date", "time")):
        return None
    return InterchangeReport(
        control_number=values["control_number"],
        sender_qualifier=values["sender_qualifier"],
        sender_id=values["sender_id"],
        receiver_qualifier=values["receiver_qualifier"],
        receiver_id=values["receiver_id"],
        date=values["date"],
        time=values["time"],
        version=reply_version(values["version"]),
        ack_requested=values["ack_requested"] == "1",
        usage=values["usage"] if values["usage"] in ("P", "T") else "P",
        delimiters=Delimiters(),
        file_position=error.segment or 1,
        codes=[error.code or "022"],
    )
