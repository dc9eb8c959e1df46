"""File formats, pure: bytes in, neutral documents out, and back (CSV, fixed-width, X12, EDIFACT).

The public names, loaded on first use (`qbo_sftp_assets.surface`); X12 and EDIFACT have their own
surfaces, `formats.x12` and `formats.edifact`. `builtin_layouts()` is imported from its module: the
module's name would hide it here.
"""

from typing import TYPE_CHECKING

from qbo_sftp_assets.surface import lazy_exports

if TYPE_CHECKING:
    from qbo_sftp_assets.formats.builtin_layouts import (
        LayoutError,
        load_layout_file,
        parse_layout,
    )
    from qbo_sftp_assets.formats.control_numbers import (
        CONTROL_NUMBER_MAXIMUM,
        ControlNumbers,
        InMemoryControlNumbers,
    )
    from qbo_sftp_assets.formats.csv_format import (
        CsvWriteError,
        read_csv,
        render_csv,
        render_records_csv,
        render_reference_csv,
    )
    from qbo_sftp_assets.formats.detect import (
        SNIFF_BYTES,
        FormatName,
        UnknownFormatError,
        detect_format,
        detect_stream_format,
    )
    from qbo_sftp_assets.formats.documents import (
        Account,
        Bill,
        Class,
        Document,
        DocumentType,
        FileDocument,
        Invoice,
        JournalEntry,
        JournalLine,
        Line,
        PartyRef,
        Posting,
        Source,
        Transaction,
        Vendor,
        VendorCredit,
    )
    from qbo_sftp_assets.formats.errors import (
        CsvParseError,
        CustomerMissingError,
        EdifactParseError,
        FixedWidthParseError,
        ParseError,
        PartyMissingError,
        VendorMissingError,
        X12ParseError,
    )
    from qbo_sftp_assets.formats.files import (
        Acknowledged,
        LayoutRequired,
        Unacknowledgeable,
        acknowledge_file,
        read_file,
    )
    from qbo_sftp_assets.formats.fixed_width import (
        FixedWidthWriteError,
        read_fixed_width,
        render_fixed_width,
    )
    from qbo_sftp_assets.formats.flat_ack import (
        ACK_COLUMNS,
        FILE_REJECTED,
        build_flat_ack,
        build_posting_ack,
    )
    from qbo_sftp_assets.formats.identities import (
        EdifactIdentity,
        EdifactSyntax,
        X12Identity,
    )
    from qbo_sftp_assets.formats.layouts import (
        CsvLayout,
        FixedField,
        FixedRecord,
        FixedWidthLayout,
        Layout,
    )
    from qbo_sftp_assets.formats.outcomes import (
        DocumentOutcome,
        FileStatus,
        OutcomeStatus,
        file_status,
    )
    from qbo_sftp_assets.formats.results import (
        ReadResult,
    )

__all__ = [
    "ACK_COLUMNS",
    "CONTROL_NUMBER_MAXIMUM",
    "FILE_REJECTED",
    "SNIFF_BYTES",
    "Account",
    "Acknowledged",
    "Bill",
    "Class",
    "ControlNumbers",
    "CsvLayout",
    "CsvParseError",
    "CsvWriteError",
    "CustomerMissingError",
    "Document",
    "DocumentOutcome",
    "DocumentType",
    "EdifactIdentity",
    "EdifactParseError",
    "EdifactSyntax",
    "FileDocument",
    "FileStatus",
    "FixedField",
    "FixedRecord",
    "FixedWidthLayout",
    "FixedWidthParseError",
    "FixedWidthWriteError",
    "FormatName",
    "InMemoryControlNumbers",
    "Invoice",
    "JournalEntry",
    "JournalLine",
    "Layout",
    "LayoutError",
    "LayoutRequired",
    "Line",
    "OutcomeStatus",
    "ParseError",
    "PartyMissingError",
    "PartyRef",
    "Posting",
    "ReadResult",
    "Source",
    "Transaction",
    "Unacknowledgeable",
    "UnknownFormatError",
    "Vendor",
    "VendorCredit",
    "VendorMissingError",
    "X12Identity",
    "X12ParseError",
    "acknowledge_file",
    "build_flat_ack",
    "build_posting_ack",
    "detect_format",
    "detect_stream_format",
    "file_status",
    "load_layout_file",
    "parse_layout",
    "read_csv",
    "read_file",
    "read_fixed_width",
    "render_csv",
    "render_fixed_width",
    "render_records_csv",
    "render_reference_csv",
]

__getattr__ = lazy_exports(
    __name__,
    globals(),
    {
        "builtin_layouts": (
            "LayoutError",
            "load_layout_file",
            "parse_layout",
        ),
        "control_numbers": (
            "CONTROL_NUMBER_MAXIMUM",
            "ControlNumbers",
            "InMemoryControlNumbers",
        ),
        "csv_format": (
            "CsvWriteError",
            "read_csv",
            "render_csv",
            "render_records_csv",
            "render_reference_csv",
        ),
        "detect": (
            "SNIFF_BYTES",
            "FormatName",
            "UnknownFormatError",
            "detect_format",
            "detect_stream_format",
        ),
        "documents": (
            "Account",
            "Bill",
            "Class",
            "Document",
            "DocumentType",
            "FileDocument",
            "Invoice",
            "JournalEntry",
            "JournalLine",
            "Line",
            "PartyRef",
            "Posting",
            "Source",
            "Transaction",
            "Vendor",
            "VendorCredit",
        ),
        "errors": (
            "CsvParseError",
            "CustomerMissingError",
            "EdifactParseError",
            "FixedWidthParseError",
            "ParseError",
            "PartyMissingError",
            "VendorMissingError",
            "X12ParseError",
        ),
        "files": (
            "Acknowledged",
            "LayoutRequired",
            "Unacknowledgeable",
            "acknowledge_file",
            "read_file",
        ),
        "fixed_width": (
            "FixedWidthWriteError",
            "read_fixed_width",
            "render_fixed_width",
        ),
        "flat_ack": (
            "ACK_COLUMNS",
            "FILE_REJECTED",
            "build_flat_ack",
            "build_posting_ack",
        ),
        "identities": (
            "EdifactIdentity",
            "EdifactSyntax",
            "X12Identity",
        ),
        "layouts": (
            "CsvLayout",
            "FixedField",
            "FixedRecord",
            "FixedWidthLayout",
            "Layout",
        ),
        "outcomes": (
            "DocumentOutcome",
            "FileStatus",
            "OutcomeStatus",
            "file_status",
        ),
        "results": ("ReadResult",),
    },
)
