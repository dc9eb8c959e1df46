"""`make faults`: every scenario on the sandbox and a real sshd, then the table; exit 1 unless every
duplicates, lost and leaked-secrets figure is 0.

    python -m qbo_sftp_assets_tests.faults [SCENARIO ...]
"""

from __future__ import annotations

import sys
import time

from qbo_sftp_assets_tests.faults import run_scenarios
from qbo_sftp_assets_tests.faults.scenarios import SCENARIOS, by_name
from qbo_sftp_assets_tests.faults.table import render


def main(argv: list[str]) -> int:
    scenarios = by_name(argv) if argv else SCENARIOS
    started = time.monotonic()
    rows = run_scenarios(scenarios, progress=lambda text: print(text, file=sys.stderr, flush=True))
    print(render(rows))
    clean = sum(row.clean for row in rows)
    seconds = time.monotonic() - started
    print(f"\n{len(rows)} scenarios, {clean} clean, in {seconds:.0f} s (starting the shared world included)")
    return 0 if all(row.clean for row in rows) else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
