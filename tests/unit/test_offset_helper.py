"""The committed-offsets helper process: a crash in it never ends the console's process.

The helpers here are real processes that die the way librdkafka makes them die (SIGSEGV) or hang;
what is checked is the console side: it survives, retries once, then reports.
"""

from __future__ import annotations

import signal
import sys
import time

import pytest

from groups.kafka.offsets_helper import HelperDied, OffsetFetcher

# Reads one request, then behaves as told by argv[1] ("crash", "hang", or a file: crash while it is
# absent, creating it, and answer once it exists).
HELPER = r"""
import os, pickle, signal, struct, sys, time
mode = sys.argv[1]
header = os.read(0, 4)
body = b""
size = struct.unpack("!I", header)[0]
while len(body) < size:
    body += os.read(0, size - len(body))
config, group_ids, timeout = pickle.loads(body)
if mode == "hang":
    time.sleep(60)
if mode == "crash" or not os.path.exists(mode):
    if mode != "crash":
        open(mode, "w").close()
    os.kill(os.getpid(), signal.SIGSEGV)
data = pickle.dumps({g: ("ok", [("t", 0, 42, None)]) for g in group_ids})
os.write(1, struct.pack("!I", len(data)) + data)
"""


def fetcher(tmp_path, mode: str) -> OffsetFetcher:
    script = tmp_path / "helper.py"
    script.write_text(HELPER)
    return OffsetFetcher({"bootstrap.servers": "x"}, [sys.executable, str(script), mode])


def test_a_helper_that_crashes_once_is_replaced_and_the_request_answered(tmp_path):
    f = fetcher(tmp_path, str(tmp_path / "crashed-once"))
    answer = f.fetch(["g"], timeout=5)
    assert answer == {"g": ("ok", [("t", 0, 42, None)])}
    assert f.crashes == 1
    f.close()


def test_a_helper_that_keeps_crashing_is_reported_after_one_retry(tmp_path):
    f = fetcher(tmp_path, "crash")
    with pytest.raises(HelperDied) as died:
        f.fetch(["g"], timeout=5)
    assert died.value.crashed and died.value.returncode == -signal.SIGSEGV
    assert f.crashes == 2
    assert f._process is None  # nothing left behind
    # The next request starts afresh (and meets the same fate), rather than reusing a dead pipe.
    with pytest.raises(HelperDied):
        f.fetch(["g"], timeout=5)
    assert f.crashes == 4


def test_a_helper_that_fails_without_crashing_is_not_blamed_on_the_coordinator(tmp_path):
    script = tmp_path / "broken.py"
    script.write_text("import sys; sys.stdin.buffer.read(4); sys.exit(3)\n")
    f = OffsetFetcher({"bootstrap.servers": "x"}, [sys.executable, str(script)])
    with pytest.raises(HelperDied) as died:
        f.fetch(["g"], timeout=5)
    assert not died.value.crashed and died.value.returncode == 3


def test_a_helper_that_hangs_is_killed_after_the_deadline(tmp_path):
    f = fetcher(tmp_path, "hang")
    f.grace_seconds = 1.0
    started = time.monotonic()
    with pytest.raises(TimeoutError):
        f.fetch(["g"], timeout=0)
    assert time.monotonic() - started < 10
    assert f._process is None


class Protocol(str):
    """A str subclass from a module the helper cannot import, like a model's choices."""


def test_the_real_helper_ends_when_the_console_closes_it(tmp_path):
    f = OffsetFetcher(
        {
            "bootstrap.servers": "127.0.0.1:9",
            "security.protocol": Protocol("PLAINTEXT"),
            "socket.connection.setup.timeout.ms": 1000,
            "log.connection.close": False,
        }
    )
    # An unreachable cluster: the helper answers with a timeout per group instead of hanging.
    answer = f.fetch(["g"], timeout=2)
    assert answer["g"][0] in {"error", "timeout"}
    process = f._process
    f.close()
    assert process.returncode == 0
