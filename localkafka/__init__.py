"""A real single-node Apache Kafka (KRaft), a throwaway Redis and PostgreSQL for development and tests.

Kafka runs from Maven Central jars (see pom.xml), so no tarball download and no Docker; Redis and
PostgreSQL are Debian's. The servers are started detached and recorded in a state directory, so a later command (or another
test session) finds and reuses them. Entry points: `python -m localkafka jars|start|status|stop|tool`
and `python manage.py localkafka ...`.

This module holds what broker.py, redis_server.py and postgres.py share: the error type and the bookkeeping
of detached processes (Linux: liveness is read from /proc).
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import pathlib
import signal
import socket
import subprocess
import time
from collections.abc import Iterator

REPO_ROOT = pathlib.Path(__file__).resolve().parent.parent
DEFAULT_STATE_DIR = REPO_ROOT / ".localkafka"


class LocalKafkaError(RuntimeError):
    """A failure whose message is a complete, one-line explanation for the user."""


class PortTaken(Exception):
    """A server could not bind the free port picked for it: another process got there first."""


# Servers are meant to outlive us, but while we are alive we still own them as children: holding
# the Popen objects stops Python from warning about a "still running" subprocess when they are
# garbage collected, and lets a stop() from the same process reap the exited child.
_children: dict[int, subprocess.Popen] = {}


def spawn_detached(
    argv: list[str], log_path: pathlib.Path, cwd: pathlib.Path, run_as: tuple[int, int] | None = None
) -> subprocess.Popen:
    """Start argv in its own session (so Ctrl-C or the end of the caller does not reach it).

    run_as (uid, gid) switches to that user, without our supplementary groups, before the exec, so
    the pid is still the server's own; only root can do this.
    """
    identity = {"user": run_as[0], "group": run_as[1], "extra_groups": []} if run_as else {}
    with open(log_path, "wb") as log:
        proc = subprocess.Popen(
            argv,
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            cwd=cwd,
            start_new_session=True,
            **identity,
        )
    _children[proc.pid] = proc
    return proc


def write_private(path: pathlib.Path, text: str) -> None:
    """Write text to a file only its owner can read, never for a moment readable by others."""
    path.unlink(missing_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as handle:
        handle.write(text)


def free_ports(count: int) -> list[int]:
    """Ports the kernel just handed out; held open together so they are distinct. Another process
    can still take one before our server binds it, hence the callers' retry on a bind failure."""
    socks = [socket.socket() for _ in range(count)]
    try:
        for sock in socks:
            sock.bind(("127.0.0.1", 0))
        return [sock.getsockname()[1] for sock in socks]
    finally:
        for sock in socks:
            sock.close()


def port_is_free(port: int) -> bool:
    """True if a server could listen on 127.0.0.1:port now.

    SO_REUSEADDR as servers set it (the JVM and Django's runserver do), so the leftovers of a
    server that just stopped (sockets in TIME_WAIT) do not count; a listener does.
    """
    with socket.socket() as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def port_answers(port: int, timeout: float = 0.5) -> bool:
    try:
        socket.create_connection(("127.0.0.1", port), timeout=timeout).close()
        return True
    except OSError:
        return False


def read_pid(pid_file: pathlib.Path) -> int | None:
    try:
        return int(pid_file.read_text().strip())
    except (FileNotFoundError, ValueError):
        return None


def process_matches(pid: int, marker: str) -> bool:
    """True if pid is alive and its command line contains marker.

    A pid file can outlive its process and the pid be reused by something else; checking the
    command line keeps us from reusing or signalling a stranger. A zombie has an empty command
    line, so an exited-but-unreaped child counts as gone.
    """
    try:
        cmdline = pathlib.Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return False
    return marker.encode() in cmdline.replace(b"\0", b" ")


def terminate(pid: int, marker: str, timeout: float, first: signal.Signals = signal.SIGTERM) -> None:
    """Send first (SIGTERM unless the server wants another), wait up to timeout, then SIGKILL."""
    for sig, wait in ((first, timeout), (signal.SIGKILL, 10.0)):
        try:
            os.kill(pid, sig)
        except ProcessLookupError:
            break
        deadline = time.monotonic() + wait
        while process_matches(pid, marker) and time.monotonic() < deadline:
            time.sleep(0.1)
        if not process_matches(pid, marker):
            break
    child = _children.pop(pid, None)
    if child is not None:
        child.wait()


@contextlib.contextmanager
def state_lock(path: pathlib.Path) -> Iterator[None]:
    """Serialise start/stop on one state dir across processes (parallel test sessions, make)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)
