"""X12 for partners: a streaming tokenizer, envelope validation, 810 read/write, 997 and TA1 acks."""

from qbo_sftp_assets.formats.x12.ack_997 import AckResult, build_acknowledgments
from qbo_sftp_assets.formats.x12.advice_824 import AdviceEntry, build_824, read_824
from qbo_sftp_assets.formats.x12.envelope import (
    ElementIssue,
    GroupReport,
    InterchangeReport,
    SegmentIssue,
    SetReport,
    X12Acknowledgment,
)
from qbo_sftp_assets.formats.x12.invoice_810 import render_810_body, seller_party, write_810
from qbo_sftp_assets.formats.x12.reader import acknowledge_x12, iter_x12_documents, read_997, read_x12
from qbo_sftp_assets.formats.x12.tokenizer import (
    Delimiters,
    SegmentBatch,
    X12DelimiterError,
    iter_segment_batches,
    iter_segments,
)
from qbo_sftp_assets.formats.x12.writer import (
    DEFAULT_DELIMITERS,
    GroupSpec,
    Parties,
    SegmentWriter,
    X12WriteError,
    group_version,
    write_interchange,
)

__all__ = [
    "DEFAULT_DELIMITERS",
    "AckResult",
    "AdviceEntry",
    "Delimiters",
    "ElementIssue",
    "GroupReport",
    "GroupSpec",
    "InterchangeReport",
    "Parties",
    "SegmentBatch",
    "SegmentIssue",
    "SegmentWriter",
    "SetReport",
    "X12Acknowledgment",
    "X12DelimiterError",
    "X12WriteError",
    "acknowledge_x12",
    "build_824",
    "build_acknowledgments",
    "group_version",
    "iter_segment_batches",
    "iter_segments",
    "iter_x12_documents",
    "read_824",
    "read_997",
    "read_x12",
    "render_810_body",
    "seller_party",
    "write_810",
    "write_interchange",
]
