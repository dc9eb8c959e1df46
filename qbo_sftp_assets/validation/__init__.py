"""Validation of one file's postings before anything reaches QuickBooks: pandera models for headers and
lines, and one failure table (mapping's failures and pandera's) a reviewer can act on. No Dagster here."""

from qbo_sftp_assets.validation.models import DESCRIPTION_LIMIT, DOC_NUMBER_LIMIT, HeaderSchema, LineSchema
from qbo_sftp_assets.validation.render import failure_table_markdown, failure_table_text
from qbo_sftp_assets.validation.validate import (
    ValidatedPostings,
    header_frame,
    line_frame,
    validate_plan,
    validate_plans,
)

__all__ = [
    "DESCRIPTION_LIMIT",
    "DOC_NUMBER_LIMIT",
    "HeaderSchema",
    "LineSchema",
    "ValidatedPostings",
    "failure_table_markdown",
    "failure_table_text",
    "header_frame",
    "line_frame",
    "validate_plan",
    "validate_plans",
]
