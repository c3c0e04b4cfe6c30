"""localkafka's throwaway PostgreSQL against Debian's real binaries: started from the command line,
reused while it lives, stopped for good. The test owns its state dir (under /tmp: run as root, the
server runs as the `postgres` user, which cannot enter pytest's root-only temporary directories)."""

from __future__ import annotations

import os
import pathlib
import pwd
import shutil
import subprocess
import sys
import tempfile

import psycopg
import pytest

from localkafka import process_matches, read_pid

pytestmark = pytest.mark.integration

REPO = pathlib.Path(__file__).resolve().parents[2]


def _cli(*args: str) -> subprocess.CompletedProcess[str]:
    # A separate process, so the server has to outlive the command that started it.
    return subprocess.run(
        [sys.executable, "-m", "localkafka", "postgres", *args], cwd=REPO, capture_output=True, text=True, timeout=120
    )


@pytest.fixture
def state_dir():
    state = pathlib.Path(tempfile.mkdtemp(prefix="console-test-localpg-"))
    try:
        yield state
    finally:
        _cli("stop", "--dir", str(state))
        shutil.rmtree(state, ignore_errors=True)


def test_start_prints_a_database_url_reuses_the_server_and_stop_ends_it(state_dir):
    started = _cli("start", "--dir", str(state_dir))
    assert started.returncode == 0, started.stderr
    assert started.stdout.startswith("DATABASE_URL=postgres://console:") and len(started.stdout.splitlines()) == 1
    url = started.stdout.strip().removeprefix("DATABASE_URL=")
    with psycopg.connect(url) as connection:
        assert connection.execute(
            "SELECT current_user, current_database(), pg_encoding_to_char(encoding) "
            "FROM pg_database WHERE datname = current_database()"
        ).fetchone() == ("console", "console", "UTF8")
    pid = read_pid(state_dir / "postgres.pid")
    data_dir = state_dir / "postgres"
    if os.geteuid() == 0:
        assert pwd.getpwuid(data_dir.stat().st_uid).pw_name == "postgres"
        assert (
            pwd.getpwuid(int(pathlib.Path(f"/proc/{pid}/status").read_text().split("Uid:")[1].split()[0])).pw_name
            == "postgres"
        )

    again = _cli("start", "--dir", str(state_dir))
    assert (again.returncode, again.stdout) == (0, started.stdout)
    assert read_pid(state_dir / "postgres.pid") == pid
    assert _cli("status", "--dir", str(state_dir)).stdout == started.stdout

    assert _cli("stop", "--dir", str(state_dir)).returncode == 0
    assert not process_matches(pid, f"-D {data_dir} ")
    stopped = _cli("status", "--dir", str(state_dir))
    assert stopped.returncode == 1
    assert stopped.stderr == f"localkafka: the PostgreSQL of {state_dir} is not running\n"
