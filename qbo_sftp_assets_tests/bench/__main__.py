"""Run every benchmark module in turn and print its figures; `python -m qbo_sftp_assets_tests.bench [NAME ...]`."""

from __future__ import annotations

import importlib
import pkgutil
import sys
import time

import qbo_sftp_assets_tests.bench as bench_package


def main(names: list[str]) -> int:
    modules = sorted(m.name for m in pkgutil.iter_modules(bench_package.__path__) if m.name.startswith("bench_"))
    selected = [m for m in modules if not names or m.removeprefix("bench_") in names or m in names]
    for name in selected:
        module = importlib.import_module(f"qbo_sftp_assets_tests.bench.{name}")
        print(f"== {name.removeprefix('bench_')} ==", flush=True)
        started = time.perf_counter()
        module.run()
        print(f"   ({time.perf_counter() - started:.1f} s)\n", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
