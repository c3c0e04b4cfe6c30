"""A throwaway PostgreSQL for development and tests, kept like redis_server.py keeps Redis.

Debian's `postgresql` binaries (the newest version under /usr/lib/postgresql) initdb a cluster into
<state>/postgres, which listens on a free 127.0.0.1 port and on a unix socket in that directory.
The server is started detached, recorded in the state directory and reused while it lives; its data
survives a stop (`make clean-state` removes it).

PostgreSQL refuses to run as root. Started by root (CI, containers), initdb and the server run as the
unprivileged `postgres` system user (which the Debian package creates; we create it when missing),
switched to in the child before the exec so the recorded pid is the server's. That user owns the
data directory and the state directory, and must be able to reach the state directory: pick one
under /tmp, not under /root.
"""

from __future__ import annotations

import os
import pathlib
import pwd
import secrets
import signal
import subprocess
import time
from urllib.parse import quote

import psycopg

from . import (
    DEFAULT_STATE_DIR,
    LocalKafkaError,
    PortTaken,
    free_ports,
    process_matches,
    read_pid,
    spawn_detached,
    state_lock,
    terminate,
)

BIN_ROOT = pathlib.Path("/usr/lib/postgresql")
SERVICE_USER = "postgres"
SUPERUSER = "console"
DATABASE = "console"

_CONF_NAME = "localkafka.conf"
_CONF = """\
# Written by localkafka on every start; edits are lost.
listen_addresses = '127.0.0.1'
port = {port}
unix_socket_directories = '{socket_dir}'
# Throwaway data: durability buys nothing here and costs the tests time.
fsync = off
synchronous_commit = off
full_page_writes = off
# Several engineers share the machine.
shared_buffers = 32MB
"""


def bin_dir() -> pathlib.Path:
    """The bin directory of the newest PostgreSQL Debian installed."""
    versions = [path.parent for path in BIN_ROOT.glob("*/bin/postgres") if path.parent.parent.name.isdigit()]
    if not versions:
        raise LocalKafkaError(
            f"PostgreSQL not found under {BIN_ROOT}: install it (apt-get install postgresql) or set DATABASE_URL"
        )
    return max(versions, key=lambda path: int(path.parent.name))


def _service_identity() -> tuple[int, int] | None:
    """(uid, gid) to run PostgreSQL as, or None to run it as ourselves (we are not root)."""
    if os.geteuid() != 0:
        return None
    try:
        entry = pwd.getpwnam(SERVICE_USER)
    except KeyError:
        created = subprocess.run(
            [
                "useradd",
                "--system",
                "--user-group",
                "--no-create-home",
                "--home-dir",
                "/nonexistent",
                "--shell",
                "/usr/sbin/nologin",
                SERVICE_USER,
            ],
            capture_output=True,
            text=True,
        )
        if created.returncode != 0:
            raise LocalKafkaError(
                f"could not create the system user {SERVICE_USER!r}: {created.stderr.strip()}"
            ) from None
        entry = pwd.getpwnam(SERVICE_USER)
    return entry.pw_uid, entry.pw_gid


def _as(identity: tuple[int, int] | None) -> dict:
    return {"user": identity[0], "group": identity[1], "extra_groups": []} if identity else {}


class LocalPostgres:
    """A PostgreSQL whose files (data, config, password, log, pid) live in one state dir."""

    def __init__(self, state_dir: pathlib.Path | str | None = None):
        self.state_dir = pathlib.Path(state_dir or DEFAULT_STATE_DIR).resolve()
        self.data_dir = self.state_dir / "postgres"
        self.conf = self.data_dir / _CONF_NAME
        self.password_file = self.state_dir / "postgres.password"
        self.log_file = self.state_dir / "postgres.log"
        self.pid_file = self.state_dir / "postgres.pid"
        self.url: str | None = None

    @property
    def _marker(self) -> str:
        # The postmaster keeps its command line; the trailing space stops a match on <data_dir>-other.
        return f"-D {self.data_dir} "

    def _configured_port(self) -> int | None:
        try:
            text = self.conf.read_text()
        except FileNotFoundError:
            return None
        for line in text.splitlines():
            if line.startswith("port = "):
                return int(line.split("=")[1])
        return None

    def _url(self, port: int, database: str = DATABASE) -> str:
        password = self.password_file.read_text().strip()
        return f"postgres://{SUPERUSER}:{quote(password, safe='')}@127.0.0.1:{port}/{database}"

    def _answers(self, port: int, database: str = DATABASE) -> bool:
        try:
            with psycopg.connect(self._url(port, database), connect_timeout=2) as connection:
                connection.execute("SELECT 1")
            return True
        except (psycopg.Error, OSError):
            return False

    def status(self) -> str | None:
        """The DATABASE_URL if the server of this state dir is running and answering, else None."""
        pid, port = read_pid(self.pid_file), self._configured_port()
        alive = pid is not None and port is not None and process_matches(pid, self._marker)
        self.url = self._url(port) if alive and self._answers(port) else None
        return self.url

    def start(self, timeout: float = 60) -> str:
        """Reuse the running server of this state dir, or start it (initdb first if there is no cluster yet).

        Returns postgres://console:PASSWORD@127.0.0.1:PORT/console once the `console` database answers;
        the `console` role is a superuser, so tests can create their own databases.
        """
        with state_lock(self.state_dir / ".postgres.lock"):
            if self.status():
                return self.url
            self._stop_locked(timeout=10)
            binaries = bin_dir()
            identity = _service_identity()
            if identity:
                os.chown(self.state_dir, *identity)
            if not (self.data_dir / "PG_VERSION").exists():
                self._initdb(binaries, identity)
            elif not self.password_file.exists():
                raise LocalKafkaError(
                    f"{self.password_file} is missing, so the cluster in {self.data_dir} cannot be "
                    "signed in to: remove that directory (make clean-state) to start afresh"
                )
            deadline = time.monotonic() + timeout
            try:
                return self._launch(binaries, identity, deadline)
            except PortTaken:
                return self._launch(binaries, identity, deadline)

    def _initdb(self, binaries: pathlib.Path, identity: tuple[int, int] | None) -> None:
        if identity and subprocess.run(["test", "-w", str(self.state_dir)], **_as(identity)).returncode != 0:
            raise LocalKafkaError(
                f"the {SERVICE_USER} user cannot reach {self.state_dir} (a parent directory is closed to it): "
                "choose a state directory it can reach, e.g. --dir /tmp/console-postgres"
            )
        self.data_dir.mkdir(mode=0o700, exist_ok=True)
        password = secrets.token_urlsafe(24)
        self.password_file.touch(mode=0o600)
        self.password_file.write_text(password + "\n")
        # initdb reads the password from a file; it must not be inside the (empty) data directory.
        password_for_initdb = self.state_dir / ".postgres-initdb-password"
        password_for_initdb.touch(mode=0o600)
        password_for_initdb.write_text(password + "\n")
        if identity:
            os.chown(self.data_dir, *identity)
            os.chown(password_for_initdb, *identity)
        try:
            # C collation with UTF-8: byte-order sorting, the same on every machine.
            result = subprocess.run(
                [
                    str(binaries / "initdb"),
                    "--pgdata",
                    str(self.data_dir),
                    "--username",
                    SUPERUSER,
                    "--pwfile",
                    str(password_for_initdb),
                    "--auth",
                    "scram-sha-256",
                    "--encoding",
                    "UTF8",
                    "--no-locale",
                    "--no-sync",
                    "--no-instructions",
                ],
                capture_output=True,
                text=True,
                cwd=self.state_dir,
                **_as(identity),
            )
        finally:
            password_for_initdb.unlink(missing_ok=True)
        if result.returncode != 0:
            lines = (result.stderr or result.stdout).strip().splitlines()
            raise LocalKafkaError(f"initdb failed: {lines[-1] if lines else f'exit code {result.returncode}'}")
        with open(self.data_dir / "postgresql.conf", "a") as conf:
            conf.write(f"\ninclude '{_CONF_NAME}'\n")

    def _launch(self, binaries: pathlib.Path, identity: tuple[int, int] | None, deadline: float) -> str:
        (port,) = free_ports(1)
        self.conf.write_text(_CONF.format(port=port, socket_dir=self.data_dir))
        proc = spawn_detached(
            [str(binaries / "postgres"), "-D", str(self.data_dir)], self.log_file, cwd=self.state_dir, run_as=identity
        )
        # Written at once, so an interrupted start still leaves a server that stop() can find.
        self.pid_file.write_text(f"{proc.pid}\n")
        while time.monotonic() < deadline:
            if proc.poll() is not None:
                self.pid_file.unlink(missing_ok=True)
                log = self.log_file.read_text(errors="replace")
                if "Address already in use" in log:
                    raise PortTaken
                last = log.strip().splitlines()[-1] if log.strip() else f"exit code {proc.returncode}"
                raise LocalKafkaError(f"PostgreSQL exited while starting: {last} (log: {self.log_file})")
            if self._answers(port, "postgres"):
                self._create_database(port)
                self.url = self._url(port)
                return self.url
            time.sleep(0.1)
        self._stop_locked(timeout=10)
        raise LocalKafkaError(f"PostgreSQL did not accept connections in time; stopped it (log: {self.log_file})")

    def _create_database(self, port: int) -> None:
        with psycopg.connect(self._url(port, "postgres"), autocommit=True) as connection:
            if not connection.execute("SELECT 1 FROM pg_database WHERE datname = %s", [DATABASE]).fetchone():
                connection.execute(f'CREATE DATABASE "{DATABASE}"')

    def stop(self, timeout: float = 30) -> None:
        """Stop the server of this state dir (fast shutdown: open sessions are ended), keeping its data."""
        if not self.state_dir.is_dir():
            return
        with state_lock(self.state_dir / ".postgres.lock"):
            self._stop_locked(timeout)

    def _stop_locked(self, timeout: float) -> None:
        pid = read_pid(self.pid_file)
        if pid is not None and process_matches(pid, self._marker):
            # SIGTERM would wait for every client (a test's pooled connection) to leave; SIGINT ends them.
            terminate(pid, self._marker, timeout, first=signal.SIGINT)
        self.pid_file.unlink(missing_ok=True)
        self.url = None
