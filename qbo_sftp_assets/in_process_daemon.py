"""The daemon's part, done one step at a time in this process on the code location's own definitions.

`make demo` uses it: a sensor or schedule is evaluated as the daemon would (its cursor kept between
ticks, its dynamic partitions added to the instance, a run key never run twice), and each run it asks
for is executed in process on a real instance folder, so the results open in the UI afterwards.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import dagster as dg

RUN_KEY_TAG = "dagster/run_key"


@dataclass
class RunOutcome:
    """One executed run: what asked for it, which partitions it covered, and its result."""

    origin: str
    partitions: list[str]
    result: dg.ExecuteInProcessResult

    @property
    def success(self) -> bool:
        return self.result.success

    def failed_checks(self) -> list[dg.AssetCheckEvaluation]:
        return [e for e in self.result.get_asset_check_evaluations() if not e.passed]


@dataclass
class InProcessDaemon:
    """Evaluates sensors and schedules of `defs` and executes the runs they request on `instance`."""

    defs: dg.Definitions
    instance: dg.DagsterInstance
    say: Callable[[str], None] = print
    cursors: dict[str, str | None] = field(default_factory=dict)
    run_keys: set[tuple[str, str]] = field(default_factory=set)
    outcomes: list[RunOutcome] = field(default_factory=list)
    # The runs' own event log stays in the instance (and the UI); the demo prints its own summary of each.
    run_config: dict = field(default_factory=lambda: {"loggers": {"console": {"config": {"log_level": "CRITICAL"}}}})

    def sensor_names(self) -> list[str]:
        return sorted(sensor.name for sensor in self.defs.sensors or [])

    def schedule_names(self) -> list[str]:
        return sorted(schedule.name for schedule in self.defs.schedules or [])

    def tick_sensor(self, name: str) -> list[RunOutcome]:
        """One tick of sensor `name`: its cursor carried over, its partitions added, its runs executed."""
        sensor = self.defs.resolve_sensor_def(name)
        # An instance *ref*, as the daemon passes: only then are the partitions a tick requests resolved
        # against the instance plus the partitions the same tick adds.
        with dg.build_sensor_context(
            instance_ref=self.instance.get_ref(),
            cursor=self.cursors.get(name),
            sensor_name=name,
            definitions=self.defs,
            resources=self.defs.resources,
        ) as context:
            data = sensor.evaluate_tick(context)
        self.cursors[name] = data.cursor
        for request in data.dynamic_partitions_requests or []:
            if isinstance(request, dg.AddDynamicPartitionsRequest):
                self.instance.add_dynamic_partitions(request.partitions_def_name, list(request.partition_keys))
            elif isinstance(request, dg.DeleteDynamicPartitionsRequest):
                for key in request.partition_keys:
                    self.instance.delete_dynamic_partition(request.partitions_def_name, key)
        if data.skip_message and not data.run_requests:
            self.say(f"   {name}: {data.skip_message}")
        default_job = sensor.job_name if sensor.has_jobs and len(sensor.jobs) == 1 else None
        return self._execute_all(name, data.run_requests or [], default_job)

    def tick_schedule(self, name: str, at: dt.datetime) -> list[RunOutcome]:
        """The tick schedule `name` would have at `at`, and its runs."""
        schedule = self.defs.resolve_schedule_def(name)
        with dg.build_schedule_context(
            instance=self.instance,
            scheduled_execution_time=at,
            repository_def=self.defs.get_repository_def(),
            resources=self.defs.resources,
        ) as context:
            data = schedule.evaluate_tick(context)
        return self._execute_all(name, data.run_requests or [], schedule.job_name)

    def materialize(self, assets: Sequence[str], partition: str) -> RunOutcome:
        """Assets (with their checks) for one partition, as "Materialize selected" in the UI does."""
        request = dg.RunRequest(partition_key=partition, asset_selection=[dg.AssetKey(a) for a in assets])
        return self.execute("materialize", request, None)

    def _execute_all(self, origin: str, requests: Sequence[dg.RunRequest], job: str | None) -> list[RunOutcome]:
        done = []
        for request in requests:
            if request.run_key is not None:
                if (origin, request.run_key) in self.run_keys:
                    continue  # the daemon skips a run key it already launched for this sensor
                self.run_keys.add((origin, request.run_key))
            done.append(self.execute(origin, request, job))
        return done

    def execute(self, origin: str, request: dg.RunRequest, job_name: str | None) -> RunOutcome:
        """Execute one run request in process (the in-process executor, as the code location sets)."""
        name = request.job_name or job_name
        job = self.defs.resolve_job_def(name) if name else self.defs.resolve_implicit_global_asset_job_def()
        selection = list(request.asset_selection) if request.asset_selection else None
        if request.asset_check_keys is not None:
            # A check-only request (asset_selection=[]) runs just those checks, as the daemon does.
            job = job.get_subset(
                asset_selection=set(selection or []), asset_check_selection=set(request.asset_check_keys)
            )
            selection = None
        tags = dict(request.tags)
        if request.run_key is not None:
            tags[RUN_KEY_TAG] = request.run_key
        result = job.execute_in_process(
            instance=self.instance,
            partition_key=request.partition_key,
            asset_selection=selection,
            tags=tags,
            raise_on_error=False,
            run_config=self.run_config,
        )
        outcome = RunOutcome(origin, materialized_partitions(result), result)
        self.outcomes.append(outcome)
        return outcome


def materialized_partitions(result: dg.ExecuteInProcessResult) -> list[str]:
    """The partitions a run materialized anything for, in the order it did."""
    seen: dict[str, None] = {}
    for event in result.get_asset_materialization_events():
        partition = event.step_materialization_data.materialization.partition
        if partition is not None:
            seen.setdefault(partition)
    return list(seen)
