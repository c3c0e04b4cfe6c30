"""A Redis for development and tests: the one REDIS_URL names if it answers, else a private
Debian `redis-server` without persistence, started detached and reused while it lives, and
started again on the same port when that port is still free."""

from __future__ import annotations

import os
import pathlib
import shutil
import time

import redis

from . import (
    DEFAULT_STATE_DIR,
    LocalKafkaError,
    PortTaken,
    free_ports,
    port_is_free,
    process_matches,
    read_pid,
    spawn_detached,
    state_lock,
    terminate,
)

_REDIS_CONF = """\
# Written by localkafka on every start; edits are lost.
bind 127.0.0.1
port {port}
# Test data is disposable: no RDB snapshots, no append-only file.
save ""
appendonly no
dir "{state_dir}"
daemonize no
"""


def _answers(url: str) -> bool:
    try:
        client = redis.Redis.from_url(url, socket_connect_timeout=1, socket_timeout=1)
    except ValueError:
        return False
    try:
        return bool(client.ping())
    except (redis.RedisError, OSError):
        return False
    finally:
        client.close()


def _paths(state_dir) -> tuple[pathlib.Path, pathlib.Path, pathlib.Path, pathlib.Path]:
    state = pathlib.Path(state_dir or DEFAULT_STATE_DIR).resolve()
    return state, state / "redis.conf", state / "redis.pid", state / "redis.log"


def _configured_port(conf: pathlib.Path) -> int | None:
    try:
        text = conf.read_text()
    except FileNotFoundError:
        return None
    for line in text.splitlines():
        if line.startswith("port "):
            return int(line.split()[1])
    return None


def _marker(port: int) -> str:
    # redis-server rewrites its command line to "/usr/bin/redis-server 127.0.0.1:PORT".
    return f"redis-server 127.0.0.1:{port}"


def _url(port: int) -> str:
    return f"redis://127.0.0.1:{port}/0"


def ensure_redis(url: str | None = None, state_dir=None) -> str:
    """Return a redis URL that answers PING.

    url (else $REDIS_URL) is returned as is if it answers. Otherwise the redis-server recorded in
    state_dir (default <repo>/.localkafka) is reused, or a new one is started on a free
    127.0.0.1 port (the port of its previous start if free, so a worker that knew it finds it
    again), detached, and redis://127.0.0.1:PORT/0 is returned once it answers.
    """
    wanted = url or os.environ.get("REDIS_URL")
    if wanted and _answers(wanted):
        return wanted
    state, conf, pid_file, log_file = _paths(state_dir)
    with state_lock(state / ".redis.lock"):
        running = _running_url(conf, pid_file)
        if running:
            return running
        _stop_locked(conf, pid_file)
        server = shutil.which("redis-server")
        if server is None:
            raise LocalKafkaError("redis-server not found: install it (apt-get install redis-server) or set REDIS_URL")
        # Unlike the broker's, a port taken meanwhile is no error: this Redis holds no data, and
        # the demo hands its new URL to everything it starts.
        previous = _configured_port(conf)
        port = previous if previous is not None and port_is_free(previous) else free_ports(1)[0]
        try:
            return _launch(server, port, state, conf, pid_file, log_file)
        except PortTaken:
            return _launch(server, free_ports(1)[0], state, conf, pid_file, log_file)


def _running_url(conf: pathlib.Path, pid_file: pathlib.Path) -> str | None:
    pid, port = read_pid(pid_file), _configured_port(conf)
    if pid is not None and port is not None and process_matches(pid, _marker(port)) and _answers(_url(port)):
        return _url(port)
    return None


def redis_status(state_dir=None) -> str | None:
    """The URL of the redis-server ensure_redis started in state_dir if it is running, else None."""
    _, conf, pid_file, _ = _paths(state_dir)
    return _running_url(conf, pid_file)


def _launch(
    server: str, port: int, state: pathlib.Path, conf: pathlib.Path, pid_file: pathlib.Path, log_file: pathlib.Path
) -> str:
    conf.write_text(_REDIS_CONF.format(port=port, state_dir=state))
    proc = spawn_detached([server, str(conf)], log_file, cwd=state)
    pid_file.write_text(f"{proc.pid}\n")
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            pid_file.unlink(missing_ok=True)
            log = log_file.read_text(errors="replace")
            if "Address already in use" in log:
                raise PortTaken
            last = log.strip().splitlines()[-1] if log.strip() else f"exit code {proc.returncode}"
            raise LocalKafkaError(f"redis-server exited while starting: {last} (log: {log_file})")
        if _answers(_url(port)):
            return _url(port)
        time.sleep(0.05)
    _stop_locked(conf, pid_file)
    raise LocalKafkaError(f"redis-server did not answer PING within 10 s (log: {log_file})")


def stop_redis(state_dir=None) -> None:
    """Stop the redis-server that ensure_redis started in state_dir, if it is running."""
    state, conf, pid_file, _ = _paths(state_dir)
    if not state.is_dir():
        return
    with state_lock(state / ".redis.lock"):
        _stop_locked(conf, pid_file)


def _stop_locked(conf: pathlib.Path, pid_file: pathlib.Path) -> None:
    pid, port = read_pid(pid_file), _configured_port(conf)
    if pid is not None and port is not None and process_matches(pid, _marker(port)):
        terminate(pid, _marker(port), timeout=10)
    pid_file.unlink(missing_ok=True)
