"""Mapping between QBO entities and the neutral documents, in both directions; no Dagster here.

Inbound: `plan_postings` turns a file's documents into QBO payloads (`PostingDraft`) against the
company's `ReferenceData`, which `refresh_reference` keeps in the ledger. Outbound: `from_qbo`.
"""

from qbo_sftp_assets.mapping.plan import (
    FAILURE_COLUMNS,
    FailureRow,
    HeaderFacts,
    LineFacts,
    MappingFailure,
    PostingDraft,
    PostingPlan,
    content_sha256,
)
from qbo_sftp_assets.mapping.reference import (
    REFRESHABLE,
    EntityRefresh,
    RefreshResult,
    refresh_reference,
)
from qbo_sftp_assets.mapping.reference_data import ReferenceData
from qbo_sftp_assets.mapping.resolve import Resolver
from qbo_sftp_assets.mapping.to_qbo import plan_postings

__all__ = [
    "FAILURE_COLUMNS",
    "REFRESHABLE",
    "EntityRefresh",
    "FailureRow",
    "HeaderFacts",
    "LineFacts",
    "MappingFailure",
    "PostingDraft",
    "PostingPlan",
    "ReferenceData",
    "RefreshResult",
    "Resolver",
    "content_sha256",
    "plan_postings",
    "refresh_reference",
]
