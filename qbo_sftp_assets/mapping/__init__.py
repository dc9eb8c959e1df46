"""Mapping between QBO entities and the neutral documents, in both directions; no Dagster here.

Inbound: `plan_postings` turns a file's documents into QBO payloads (`PostingDraft`) against the
company's `ReferenceData`, which `refresh_reference` keeps in the ledger. Outbound: `bill_from_qbo`
and the other `*_from_qbo`. The public names, loaded on first use (`qbo_sftp_assets.surface`).
"""

from typing import TYPE_CHECKING

from qbo_sftp_assets.surface import lazy_exports

if TYPE_CHECKING:
    from qbo_sftp_assets.mapping.from_qbo import (
        UnexpectedQboEntity,
        account_from_qbo,
        bill_from_qbo,
        class_from_qbo,
        invoice_from_qbo,
        vendor_from_qbo,
    )
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
        NAME_LIST_ENTITIES,
        REFRESHABLE,
        TRANSACTION_ENTITIES,
        EntityRefresh,
        ReferenceClient,
        RefreshResult,
        refresh_reference,
    )
    from qbo_sftp_assets.mapping.reference_data import (
        ReferenceData,
    )
    from qbo_sftp_assets.mapping.resolve import (
        Resolver,
    )
    from qbo_sftp_assets.mapping.to_qbo import (
        plan_postings,
    )

__all__ = [
    "FAILURE_COLUMNS",
    "NAME_LIST_ENTITIES",
    "REFRESHABLE",
    "TRANSACTION_ENTITIES",
    "EntityRefresh",
    "FailureRow",
    "HeaderFacts",
    "LineFacts",
    "MappingFailure",
    "PostingDraft",
    "PostingPlan",
    "ReferenceClient",
    "ReferenceData",
    "RefreshResult",
    "Resolver",
    "UnexpectedQboEntity",
    "account_from_qbo",
    "bill_from_qbo",
    "class_from_qbo",
    "content_sha256",
    "invoice_from_qbo",
    "plan_postings",
    "refresh_reference",
    "vendor_from_qbo",
]

__getattr__ = lazy_exports(
    __name__,
    globals(),
    {
        "from_qbo": (
            "UnexpectedQboEntity",
            "account_from_qbo",
            "bill_from_qbo",
            "class_from_qbo",
            "invoice_from_qbo",
            "vendor_from_qbo",
        ),
        "plan": (
            "FAILURE_COLUMNS",
            "FailureRow",
            "HeaderFacts",
            "LineFacts",
            "MappingFailure",
            "PostingDraft",
            "PostingPlan",
            "content_sha256",
        ),
        "reference": (
            "NAME_LIST_ENTITIES",
            "REFRESHABLE",
            "TRANSACTION_ENTITIES",
            "EntityRefresh",
            "ReferenceClient",
            "RefreshResult",
            "refresh_reference",
        ),
        "reference_data": ("ReferenceData",),
        "resolve": ("Resolver",),
        "to_qbo": ("plan_postings",),
    },
)
