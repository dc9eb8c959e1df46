"""A run coordinator that gives every run the `qbo/realm_id` tag of the company it touches, UI runs included.

The instance keeps each realm's runs serial with a run-tag limit on `qbo/realm_id`. The sensors tag
their runs, but a run launched from the UI (materialize a company's snapshots, one inbound file, a
range of files) carries only its partition tags. Dagster 1.13 has no per-partition run tags for these
partitions and an asset's `pool` is one fixed name (a pool per realm cannot be declared), so the tag
is added where every run passes: `submit_run`, before the run is queued and the daemon reads its tags.

The realm comes from the partition: a company key names the company; `partner/...` (an outbound feed,
an inbound file) names the partner, whose company the config gives. A range of inbound files that
spans companies gets every realm joined with `+`: it waits only for runs of that same set, so keep
such ranges rare (the sensors never make them).
"""

import logging
from collections.abc import Mapping

import dagster as dg
from dagster._core.run_coordinator import SubmitRunContext

from qbo_sftp_assets.config import Config, ConfigError, config_path
from qbo_sftp_assets.defs.partitions import INBOUND_FILES
from qbo_sftp_assets.defs.resources import REALM_TAG, ConfigFileResource

PARTITION_TAG = "dagster/partition"
RANGE_START = "dagster/asset_partition_range_start"
RANGE_END = "dagster/asset_partition_range_end"

logger = logging.getLogger(__name__)


def realm_of_key(key: str, config: Config) -> str | None:
    """The realm a partition key belongs to: a company's name, or `partner/...` of a configured partner."""
    partner, slash, _rest = key.partition("/")
    if not slash:
        company = config.companies.get(key)
        return company.realm_id if company is not None else None
    found = config.partners.get(partner)
    if found is None or found.company not in config.companies:
        return None
    return config.companies[found.company].realm_id


def realm_tags(tags: Mapping[str, str], config: Config, inbound_keys: list[str] | None = None) -> dict[str, str]:
    """The realm tag a run should carry; empty when it has one, or when its partitions name no company.

    `inbound_keys` are the inbound file partitions in order, to resolve a range's middle.
    """
    if REALM_TAG in tags:
        return {}
    keys: list[str] = []
    if PARTITION_TAG in tags:
        keys = [tags[PARTITION_TAG]]
    elif RANGE_START in tags and RANGE_END in tags:
        start, end = tags[RANGE_START], tags[RANGE_END]
        keys = [start, end]
        if inbound_keys and start in inbound_keys and end in inbound_keys:
            keys = inbound_keys[inbound_keys.index(start) : inbound_keys.index(end) + 1]
    realms = sorted({realm for key in keys if (realm := realm_of_key(key, config)) is not None})
    return {REALM_TAG: "+".join(realms)} if realms else {}


class RealmTaggingRunCoordinator(dg.QueuedRunCoordinator):
    """`QueuedRunCoordinator` that adds the `qbo/realm_id` tag before the run is queued."""

    def submit_run(self, context: SubmitRunContext) -> dg.DagsterRun:
        run = context.dagster_run
        config = None if REALM_TAG in run.tags else _config()
        if config is not None:
            inbound_keys = None
            if RANGE_START in run.tags:
                inbound_keys = list(self._instance.get_dynamic_partitions(INBOUND_FILES))
            tags = realm_tags(run.tags, config, inbound_keys)
            if tags:
                self._instance.add_run_tags(run.run_id, tags)
        return super().submit_run(context)


def _config() -> Config | None:
    """The config file the code location reads (parsed once while unchanged); None when absent or broken."""
    if not config_path().exists():
        return None
    try:
        return ConfigFileResource().load()
    except ConfigError as error:
        logger.warning(f"runs are queued without a {REALM_TAG} tag: {error}")
        return None
