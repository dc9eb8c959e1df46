"""EDIFACT: tokenizer (UNA, release character), envelope checks, INVOIC D.96A reader and writer, CONTRL.

Reading gives an `EdifactReadResult` (a ReadResult plus `interchanges`, the reports a CONTRL is
built from); `build_contrl` answers one interchange; `read_contrl` reads a partner's CONTRL.
"""

from qbo_sftp_assets.formats.edifact.aperak import AperakReport, build_aperak, read_aperak
from qbo_sftp_assets.formats.edifact.contrl import (
    ContrlReport,
    MessageAck,
    build_contrl,
    build_contrls,
    contrl_needed,
    read_contrl,
)
from qbo_sftp_assets.formats.edifact.envelope import InterchangeReport, MessageReport, SyntaxIssue
from qbo_sftp_assets.formats.edifact.invoic import iter_invoic, write_invoic, write_invoic_to
from qbo_sftp_assets.formats.edifact.reader import (
    EdifactReader,
    EdifactReadResult,
    iter_edifact_documents,
    read_edifact,
)
from qbo_sftp_assets.formats.edifact.tokenizer import (
    DEFAULT_SERVICE_CHARACTERS,
    Segment,
    SegmentReader,
    ServiceCharacters,
)

__all__ = [
    "DEFAULT_SERVICE_CHARACTERS",
    "AperakReport",
    "ContrlReport",
    "EdifactReadResult",
    "EdifactReader",
    "InterchangeReport",
    "MessageAck",
    "MessageReport",
    "Segment",
    "SegmentReader",
    "ServiceCharacters",
    "SyntaxIssue",
    "build_aperak",
    "build_contrl",
    "build_contrls",
    "contrl_needed",
    "iter_edifact_documents",
    "iter_invoic",
    "read_aperak",
    "read_contrl",
    "read_edifact",
    "write_invoic",
    "write_invoic_to",
]
