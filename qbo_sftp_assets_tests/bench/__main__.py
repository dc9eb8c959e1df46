"""Run benchmark modules and print their figures; `python -m qbo_sftp_assets_tests.bench [NAME ...]`.

One module runs in this process. Several run one after another, each in a fresh Python process, so
that none measures in a heap the others left behind (measured: the X12 parse 18% slower, pyx12 7%,
after the other modules had run in the same process). Within a module, ours and the peer still share
one process and take turns.
"""

from __future__ import annotations

import importlib
import pkgutil
import subprocess
import sys
import time

import qbo_sftp_assets_tests.bench as bench_package


def _run_here(name: str) -> None:
    module = importlib.import_module(f"qbo_sftp_assets_tests.bench.{name}")
    print(f"== {name.removeprefix('bench_')} ==", flush=True)
    started = time.perf_counter()
    module.run()
    print(f"   ({time.perf_counter() - started:.1f} s)\n", flush=True)


def main(names: list[str]) -> int:
    modules = sorted(m.name for m in pkgutil.iter_modules(bench_package.__path__) if m.name.startswith("bench_"))
    selected = [m for m in modules if not names or m.removeprefix("bench_") in names or m in names]
    short_names = [m.removeprefix("bench_") for m in modules]
    unknown = sorted(set(names) - set(modules) - set(short_names))
    if unknown:
        print(f"unknown benchmark {', '.join(unknown)}; choose from {', '.join(short_names)}")
        return 2
    if len(selected) == 1:
        _run_here(selected[0])
        return 0
    failed = []
    for name in selected:
        completed = subprocess.run([sys.executable, "-m", "qbo_sftp_assets_tests.bench", name], check=False)
        if completed.returncode != 0:
            failed.append(name)
    if failed:
        print(f"failed: {', '.join(failed)}")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
