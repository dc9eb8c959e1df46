"""How often a sensor ticks, said once for every sensor of the code location.

The Dagster daemon looks at its sensors every 5 s (`MIN_INTERVAL_LOOP_TIME`) and runs a tick when the
sensor's minimum interval has passed since the last one. A tick's start is stamped a moment after the
look, so a minimum of exactly N seconds finds a hair less than N elapsed at the look N seconds later and
waits for the next one: a 5 s sensor ticked every 10 s and a 60 s one every 65 s (measured under
`dagster dev`). A minimum one second short of the wanted period ticks at the look that period brings.
"""

__all__ = ["DAEMON_LOOK_SECONDS", "minimum_interval"]

# dagster's `_daemon.sensor.MIN_INTERVAL_LOOP_TIME` (importing it loads the whole daemon: a second at each
# run's start); test_defs_webhook_sensor checks the two agree.
DAEMON_LOOK_SECONDS = 5


def minimum_interval(every: float) -> int:
    """The `minimum_interval_seconds` for a sensor that should tick every `every` seconds (at least at
    every look of the daemon)."""
    return max(DAEMON_LOOK_SECONDS, round(every)) - 1
