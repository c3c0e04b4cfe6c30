"""Run the integration tests on SQLite and on PostgreSQL, the browser tests and the unit tests, at the same time.

Each pass is its own pytest session with its own broker, Redis, Celery worker and temporary
directory; much of a pass is spent waiting on them (rounds, rebalances, retries), so the passes
share two cores well. Each integration pass runs in two pytest-xdist processes, whole modules to
each (each process starts its own broker, Redis, worker and, on PostgreSQL, server, as a session
does), and --balance-passes moves a few engine-neutral modules from the SQLite pass to the
PostgreSQL one (tests/conftest.py). The first pass prints as it goes; the others write to files,
printed once all have ended so the passes never interleave. Exits non-zero if any pass failed, and
says which.
"""

from __future__ import annotations

import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PASSES = {
    "integration on SQLite": ["tests/integration", "-n", "2", "--dist", "loadfile", "--balance-passes"],
    "integration on PostgreSQL": [
        "tests/integration",
        "--database=postgres",
        "-n",
        "2",
        "--dist",
        "loadfile",
        "--balance-passes",
    ],
    "browser (Chromium) on SQLite": ["tests/browser"],
    "unit": ["tests/unit"],
}


def pytest_command(args: list[str], basetemp: Path) -> list[str]:
    # Each session gets its own basetemp: pytest prunes old numbered temporary directories, and a
    # session starting must not prune another's.
    return [sys.executable, "-m", "pytest", *args, "-p", "no:cacheprovider", "--durations=15", f"--basetemp={basetemp}"]


def main() -> int:
    started = time.monotonic()
    (first, first_args), *others = PASSES.items()
    statuses: dict[str, int] = {}
    with tempfile.TemporaryDirectory(prefix="console-tests-") as tmp:
        work = Path(tmp)
        running = []
        for number, (name, args) in enumerate(others):
            log_path = work / f"pass-{number}.log"
            with log_path.open("wb") as log:
                process = subprocess.Popen(
                    pytest_command(args, work / f"pass-{number}"), cwd=ROOT, stdout=log, stderr=subprocess.STDOUT
                )
            running.append((name, process, log_path))
        try:
            statuses[first] = subprocess.call(pytest_command(first_args, work / "first"), cwd=ROOT)
            for name, process, _ in running:
                statuses[name] = process.wait()
        except KeyboardInterrupt:
            for _, process, _ in running:
                process.terminate()
                process.wait()
            raise
        for name, _, log_path in running:
            print(f"\n===== {name} (run beside the {first} pass) =====", flush=True)
            sys.stdout.write(log_path.read_text(errors="replace"))
    failed = [name for name, status in statuses.items() if status]
    took = time.monotonic() - started
    if failed:
        print(f"\nTests failed: {'; '.join(failed)} ({took:.0f} s).", flush=True)
        return 1
    print(f"\nAll passes passed: {'; '.join(statuses)} ({took:.0f} s).", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
