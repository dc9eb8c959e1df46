"""Which feeds follow QuickBooks changes, and the run request that sends a feed's changes.

Both change sensors (webhooks, CDC) use these, so a feed is requested the same way whichever saw the
change first; the file carries what changed since the feed's last delivery, so the later request
finds nothing new and sends nothing.
"""

from dataclasses import dataclass

import dagster as dg

from qbo_sftp_assets.config import Config
from qbo_sftp_assets.defs.partitions import feed_key
from qbo_sftp_assets.defs.resources import REALM_TAG
from qbo_sftp_assets.pipeline.snapshots import FEED_ENTITIES

# Run tag saying why a feed run started: "change" sends what changed since the last delivery.
TRIGGER_TAG = "qbo_sftp/trigger"


@dataclass(frozen=True)
class ChangeFeed:
    key: str
    entities: frozenset[str]
    debounce_seconds: float


def change_feeds(config: Config, company: str) -> dict[str, ChangeFeed]:
    """Feed partition key -> the QBO entities it renders and its quiet period, for feeds that follow changes."""
    return {
        feed_key(partner_name, feed_name): ChangeFeed(
            feed_key(partner_name, feed_name),
            frozenset(FEED_ENTITIES[word] for word in feed.entities),
            feed.debounce_seconds,
        )
        for partner_name, partner in sorted(config.partners.items())
        if partner.company == company
        for feed_name, feed in sorted(partner.outbound.items())
        if feed.follows_changes
    }


def change_run_request(job_name: str, key: str, run_key: str, realm_id: str) -> dg.RunRequest:
    return dg.RunRequest(
        run_key=run_key,
        job_name=job_name,
        partition_key=key,
        tags={REALM_TAG: realm_id, TRIGGER_TAG: "change"},
    )
