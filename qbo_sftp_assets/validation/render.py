"""The failure table as text: markdown for Dagster metadata and reviews, a plain grid for the terminal."""

from __future__ import annotations

import pandas as pd

from qbo_sftp_assets.mapping import FAILURE_COLUMNS

# What a reviewer reads; record_index is for joining and stays out of the rendering.
SHOWN_COLUMNS = tuple(c for c in FAILURE_COLUMNS if c != "record_index")
NO_FAILURES = "No failures: every document passed mapping and validation."


def _shown(failures: pd.DataFrame, max_rows: int | None) -> tuple[pd.DataFrame, int]:
    frame = failures.loc[:, list(SHOWN_COLUMNS)].astype(object)
    frame = frame.where(frame.notna(), "")
    hidden = 0
    if max_rows is not None and len(frame) > max_rows:
        hidden = len(frame) - max_rows
        frame = frame.head(max_rows)
    return frame, hidden


def failure_table_markdown(failures: pd.DataFrame, *, max_rows: int | None = 200) -> str:
    """A markdown table of the failures (pipes in values escaped), or a sentence when there are none."""
    if failures.empty:
        return NO_FAILURES
    frame, hidden = _shown(failures, max_rows)
    frame = frame.map(lambda v: str(v).replace("|", "\\|").replace("\n", " "))
    text = frame.to_markdown(index=False)
    if hidden:
        text += f"\n\n… and {hidden} more failures."
    return text


def failure_table_text(failures: pd.DataFrame, *, max_rows: int | None = 200) -> str:
    """The failures as a plain-text grid for a terminal (`qbo-sftp post --dry-run`)."""
    if failures.empty:
        return NO_FAILURES
    frame, hidden = _shown(failures, max_rows)
    text = frame.to_markdown(index=False, tablefmt="simple", maxcolwidths=[None, None, 30, None, 30, None, 60])
    if hidden:
        text += f"\n… and {hidden} more failures."
    return text
