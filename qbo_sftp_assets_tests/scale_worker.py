"""One inbound run in this process, as a run worker on another host runs it: `python -m ... FIRST LAST REALM`.

The run covers the `inbound_files` partitions FIRST..LAST (a single-run backfill's range, as the SFTP
sensor asks for it), tagged with the realm (REALM "": untagged, a run over several companies), on the
instance DAGSTER_HOME names and the config QBO_SFTP_CONFIG names. Exit status 0 when the run succeeded.
"""

from __future__ import annotations

import sys

import dagster as dg

from qbo_sftp_assets.config import load_config
from qbo_sftp_assets.definitions import build_definitions
from qbo_sftp_assets.defs.jobs import INBOUND_JOB
from qbo_sftp_assets.defs.resources import REALM_TAG

RANGE_START = "dagster/asset_partition_range_start"
RANGE_END = "dagster/asset_partition_range_end"


def main(argv: list[str]) -> int:
    first, last, realm = argv
    job = build_definitions(load_config()).resolve_job_def(INBOUND_JOB)
    tags = {RANGE_START: first, RANGE_END: last, **({REALM_TAG: realm} if realm else {})}
    with dg.DagsterInstance.get() as instance:
        result = job.execute_in_process(instance=instance, tags=tags, raise_on_error=False)
    print(f"run {result.run_id} {'SUCCESS' if result.success else 'FAILURE'}", flush=True)
    return 0 if result.success else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
