"""The fault suite (`make faults`): the whole inbound pipeline on the QBO sandbox and a real sshd while
processes are killed, servers fail or stall and input is hostile; then, from the sandbox's own data, the
SFTP tree and the ledger, nothing lost, nothing posted twice, no secret in any file."""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from pathlib import Path

from qbo_sftp_assets_tests.faults.checker import Figures
from qbo_sftp_assets_tests.faults.world import fault_world


def run_scenarios(
    scenarios: Sequence, *, workdir: Path | None = None, progress: Callable[[str], None] = lambda _text: None
) -> list[Figures]:
    """Run each scenario in one shared world and return its row."""
    rows = []
    with fault_world(workdir) as world:
        for scenario in scenarios:
            started = time.monotonic()
            row = scenario.run(world)
            rows.append(row)
            verdict = "clean" if row.clean else "NOT CLEAN"
            progress(f"{scenario.name}: {verdict} in {time.monotonic() - started:.1f} s")
    return rows
