"""Per-partition metadata for a step over many inbound files, recorded at the cost of one check per step.

Dagster's `context.add_asset_metadata(metadata, partition_key=key)` is the public way to give each
partition of a range run its own metadata. Before recording, it checks the key by loading every
partition of the range from the instance: for a dynamic partitions definition that is a query over
every file ever received, about 20 ms per call at a few thousand files and growing, made five times per
file (once per inbound asset). That check, not our work, was the largest share of a file's time in
`make bench pipeline`.

`add_metadata_by_partition` checks the run's keys once against `context.partition_keys` and records
each file's metadata exactly where `add_asset_metadata` records it: the step's metadata accumulator,
from which Dagster builds each partition's materialization. It is the one place that touches those
internals (pinned dagster 1.13.27); `test_defs_inbound` reads each file's metadata back from the
instance, so a Dagster change that moved them fails there, not silently.
"""

from collections.abc import Mapping
from typing import Any

import dagster as dg


def add_metadata_by_partition(context: dg.AssetExecutionContext, metadata: Mapping[str, Mapping[str, Any]]) -> None:
    """Give each partition key of this run its own materialization metadata."""
    targeted = set(context.partition_keys)
    strays = [key for key in metadata if key not in targeted]
    if strays:
        raise dg.DagsterInvariantViolationError(
            f"metadata for partition(s) this run does not materialize: {', '.join(sorted(strays)[:5])}"
        )
    step = context.op_execution_context._step_execution_context  # Dagster internals: see the module docstring
    accumulator = step._metadata_accumulator
    for key, values in metadata.items():
        accumulator = accumulator.with_additional_asset_metadata(
            asset_key=context.asset_key, partition_key=key, metadata=values
        )
    step._metadata_accumulator = accumulator
