"""Run the integration tests on SQLite (with the browser tests) and on PostgreSQL at the same time.

Each pass is its own pytest session with its own broker, Redis, Celery worker and temporary
directory. The SQLite pass prints as it goes; the PostgreSQL pass writes to a file, printed once
both have ended so the two never interleave. Exits non-zero if either pass failed, and says which.
"""

from __future__ import annotations

import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PASSES = {
    "SQLite": ["tests/integration", "tests/browser"],
    "PostgreSQL": ["tests/integration", "--database=postgres"],
}


def pytest_command(args: list[str], basetemp: Path) -> list[str]:
    # Each session gets its own basetemp: pytest prunes old numbered temporary directories, and a
    # second session starting must not prune the first one's.
    return [sys.executable, "-m", "pytest", *args, "-p", "no:cacheprovider", f"--basetemp={basetemp}"]


def main() -> int:
    started = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="console-tests-") as tmp:
        work = Path(tmp)
        log_path = work / "postgres.log"
        with log_path.open("wb") as log:
            postgres = subprocess.Popen(
                pytest_command(PASSES["PostgreSQL"], work / "postgres"), cwd=ROOT, stdout=log, stderr=subprocess.STDOUT
            )
            try:
                sqlite_status = subprocess.call(pytest_command(PASSES["SQLite"], work / "sqlite"), cwd=ROOT)
                postgres_status = postgres.wait()
            except KeyboardInterrupt:
                postgres.terminate()
                postgres.wait()
                raise
        print("\n===== integration tests on PostgreSQL (run beside the SQLite pass) =====", flush=True)
        sys.stdout.write(log_path.read_text(errors="replace"))
    failed = [name for name, status in (("SQLite", sqlite_status), ("PostgreSQL", postgres_status)) if status]
    took = time.monotonic() - started
    if failed:
        print(f"\nIntegration tests failed on {' and '.join(failed)} ({took:.0f} s).", flush=True)
        return 1
    print(f"\nIntegration tests passed on SQLite and PostgreSQL ({took:.0f} s).", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
