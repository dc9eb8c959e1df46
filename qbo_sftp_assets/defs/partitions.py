"""Partitions: a QBO company, a partner's outbound feed, and one inbound file (`partner/filename`).

Companies and feeds come from the config file (static: the UI lists exactly what is configured;
without a config they are empty). Inbound files are one dynamic dimension the SFTP sensors add to: a
single `partner/filename` key survives any name a partner sends, where a partner x file multi-partition
stalled every tick on a name with `|` (docs/asset-graph.md, "Measured choices").
"""

import re

import dagster as dg

from qbo_sftp_assets.config import Config

INBOUND_FILES = "inbound_files"
inbound_files = dg.DynamicPartitionsDefinition(name=INBOUND_FILES)

_CONTROL_CHARACTERS = re.compile(r"[\x00-\x1f\x7f]")


def inbound_file_key(partner: str, filename: str) -> str:
    """The partition key of a partner's file; control characters (never valid in a UI key) are dropped."""
    return f"{partner}/{_CONTROL_CHARACTERS.sub('', filename)}"


def split_inbound_file_key(key: str) -> tuple[str, str]:
    """(partner, filename) of a partition key; partner names never contain `/`, file names may not."""
    partner, slash, filename = key.partition("/")
    if not slash or not partner or not filename:
        raise ValueError(f"{key!r} is not an inbound file partition (expected partner/filename)")
    return partner, filename


def company_partitions(config: Config | None) -> dg.StaticPartitionsDefinition:
    """One partition per configured company, keyed by its name in the config."""
    return dg.StaticPartitionsDefinition(sorted(config.companies) if config else [])


def feed_key(partner: str, feed: str) -> str:
    return f"{partner}/{feed}"


def split_feed_key(key: str) -> tuple[str, str]:
    partner, _, feed = key.partition("/")
    return partner, feed


def feed_partitions(config: Config | None) -> dg.StaticPartitionsDefinition:
    """One partition per partner outbound feed, keyed `partner/feed`."""
    keys = (
        [] if config is None else [feed_key(p, f) for p, partner in config.partners.items() for f in partner.outbound]
    )
    return dg.StaticPartitionsDefinition(sorted(keys))


def feeds_by_company(config: Config | None) -> dict[str, list[str]]:
    """The feed partition keys that render each company's data."""
    by_company: dict[str, list[str]] = {name: [] for name in (config.companies if config else {})}
    for partner_name, partner in (config.partners if config else {}).items():
        for feed in partner.outbound:
            by_company.setdefault(partner.company, []).append(feed_key(partner_name, feed))
    return by_company
