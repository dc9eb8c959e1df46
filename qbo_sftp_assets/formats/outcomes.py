"""What became of each document of an inbound file once posting was tried: the input of application acks.

The CSV ack, the X12 824 and the EDIFACT APERAK are written from these; the pipeline fills them from
validation failures, QuickBooks' answers and the ledger, so this layer needs none of those.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from decimal import Decimal
from enum import StrEnum


class OutcomeStatus(StrEnum):
    """A document's fate. Only `rejected` and `skipped` mean the partner must act."""

    POSTED = "posted"  # created in QuickBooks by this file
    UPDATED = "updated"  # an existing QuickBooks record was updated (partner policy on_existing: update)
    DUPLICATE = "duplicate"  # already in QuickBooks from an earlier file or posting: linked, not created again
    REJECTED = "rejected"  # failed mapping, validation, or QuickBooks refused it
    SKIPPED = "skipped"  # already in QuickBooks with different content, and the policy is on_existing: skip


POSTED_STATUSES = frozenset({OutcomeStatus.POSTED, OutcomeStatus.UPDATED, OutcomeStatus.DUPLICATE})


@dataclass(frozen=True)
class DocumentOutcome:
    """One document's outcome, with where it sits in the file and, when posted, its QuickBooks record.

    `transaction_set` / `group` / `interchange` are the envelope control numbers (X12 ST02/GS06/ISA13,
    EDIFACT UNH/UNG/UNB references) an 824 or APERAK points back to; `line` / `segment` are the
    document's first line or segment in the file.
    """

    record_index: int
    document_type: str  # bill | vendor_credit | journal_entry
    document_number: str | None
    status: OutcomeStatus
    vendor_id: str | None = None  # as the file names the party
    vendor_name: str | None = None
    total: Decimal | None = None
    line: int | None = None
    segment: int | None = None
    transaction_set: str | None = None
    group: str | None = None
    interchange: str | None = None
    qbo_entity: str | None = None  # Bill | VendorCredit | JournalEntry
    qbo_id: str | None = None
    code: str | None = None  # QuickBooks fault code or the failed check's name
    reason: str | None = None  # what went wrong and how to fix it, for a person

    @property
    def accepted(self) -> bool:
        return self.status in POSTED_STATUSES


class FileStatus(StrEnum):
    """A file's status in every acknowledgment and the ledger: the one place it is worked out is
    `file_status`; `duplicate` is for a whole file that is a re-send of one already processed."""

    ACCEPTED = "accepted"  # every document accepted (or posted, updated, linked)
    PARTIAL = "partial"  # some documents accepted, some not
    REJECTED = "rejected"  # nothing accepted, or the file itself was refused
    DUPLICATE = "duplicate"  # the same file (or interchange) came before: answered, nothing posted again


def file_status(documents: Iterable[DocumentOutcome | bool], *, file_rejected: bool = False) -> FileStatus:
    """The status of a file from its documents: each a `DocumentOutcome` (after posting; posted,
    updated and duplicate count as accepted, rejected and skipped do not) or a bool (accepted?) at
    parse time. A file without documents and not refused is accepted; `file_rejected` (an error of
    the whole file) rejects it whatever its documents."""
    if file_rejected:
        return FileStatus.REJECTED
    accepted = refused = 0
    for document in documents:
        if document.accepted if isinstance(document, DocumentOutcome) else document:
            accepted += 1
        else:
            refused += 1
    if not refused:
        return FileStatus.ACCEPTED
    return FileStatus.PARTIAL if accepted else FileStatus.REJECTED
