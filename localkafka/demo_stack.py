"""The orchestrator behind `make demo`: Kafka, Redis, the database and demo users, then the demo
traffic, a Celery worker and the web server (gunicorn with DEBUG off, as in production), started
together and stopped together.

Whatever stops the demo (Ctrl-C, SIGTERM, a closed terminal, a reader of its output that went
away), it stops everything it started, and it never needs its output to do so: `make demo | tee`
loses tee to the same Ctrl-C.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from localkafka import DEFAULT_STATE_DIR, REPO_ROOT, LocalKafkaError, port_answers, port_is_free
from localkafka.broker import LocalKafka, ensure_jars
from localkafka.redis_server import ensure_redis, redis_status, stop_redis

# Python ignores SIGPIPE, so a write to a closed pipe raises instead; _report turns that into a stop.
STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)
PASSWORD_FILE = "demo-password"
SECRET_KEY_FILE = "demo-secret-key"
# gunicorn's processes: two, so the demo shows requests shared between processes as production does.
WEB_WORKERS = 2


@dataclass
class Child:
    label: str
    process: subprocess.Popen
    log_path: Path


class DemoStopped(Exception):
    """A stop signal arrived, or the demo's output is gone: unwind and stop what was started."""


class ChildExited(Exception):
    def __init__(self, child: Child, returncode: int) -> None:
        how = (
            f"was killed by {signal.Signals(-returncode).name}" if returncode < 0 else f"exited with code {returncode}"
        )
        super().__init__(f"{child.label} {how}")
        self.child = child


def _raise_stopped(signum: int, frame: object) -> None:
    raise DemoStopped


def _say(text: str, *, error: bool = False) -> bool:
    """Print a line and return True; return False, raising nothing, when the output is gone.

    A pipe whose reader exited raises BrokenPipeError, a closed terminal EIO. The dead stream is
    then pointed at /dev/null, so later prints and the interpreter's last flush stay quiet.
    """
    stream = sys.stderr if error else sys.stdout
    try:
        print(text, file=stream, flush=True)
        return True
    except OSError:
        # If even this fails, the stream stays dead and every later _say on it fails quietly too.
        with contextlib.suppress(OSError):
            devnull = os.open(os.devnull, os.O_WRONLY)
            os.dup2(devnull, stream.fileno())
            os.close(devnull)
        return False


def _report(text: str, *, error: bool = False) -> None:
    """_say while starting: with nobody left to read the demo, stop it, as SIGPIPE would."""
    if not _say(text, error=error):
        raise DemoStopped


def _kept_secret(path: Path, make: Callable[[], str]) -> str:
    """The secret kept in `path`, made with make() on first use; the file is readable by its owner only."""
    try:
        secret = path.read_text().strip()
    except FileNotFoundError:
        secret = ""
    if not secret:
        secret = make()
        path.parent.mkdir(parents=True, exist_ok=True)
        with open(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600), "w") as handle:
            handle.write(f"{secret}\n")
    # A file made before this rule, or copied in with the checkout's usual mode, is tightened too.
    path.chmod(0o600)
    return secret


def demo_password(state_dir: Path) -> str:
    """$DEMO_PASSWORD, else the password kept in state_dir, made on first use and readable by its owner only.

    Kept so that the logins a browser saved still work after the next `make demo`.
    """
    if os.environ.get("DEMO_PASSWORD"):
        return os.environ["DEMO_PASSWORD"]
    return _kept_secret(state_dir / PASSWORD_FILE, lambda: secrets.token_urlsafe(12))


def production_env(state_dir: Path) -> dict[str, str]:
    """The settings production runs with (DEBUG off, a real secret key kept in state_dir so sessions outlive a
    restart, collected static files), except two things. What needs https: the demo answers plain http on
    127.0.0.1, so cookies cannot be secure-only nor http be redirected. And the audit key: the README's
    command-line examples write to the demo's database with the default (placeholder) key, so the demo
    signs with it too, keeping one verifiable chain."""
    return {
        "DEBUG": "0",
        "SECRET_KEY": _kept_secret(state_dir / SECRET_KEY_FILE, lambda: secrets.token_urlsafe(50)),
        "ALLOW_PLACEHOLDER_AUDIT_KEY": "1",
        "STATIC_ROOT": str(state_dir / "demo" / "static"),
        "SECURE_COOKIES": "0",
        "SECURE_SSL_REDIRECT": "0",
        "SECURE_HSTS_SECONDS": "0",
    }


def _manage(*args: str, env: dict[str, str]) -> None:
    result = subprocess.run(
        [sys.executable, "manage.py", *args], cwd=REPO_ROOT, env=env, capture_output=True, text=True
    )
    if result.returncode != 0:
        output = (result.stdout + result.stderr).strip()
        raise LocalKafkaError(f"manage.py {args[0]} failed (exit code {result.returncode}):\n{output}")


def _start_child(label: str, argv: list[str], env: dict[str, str], log_dir: Path) -> Child:
    log_path = log_dir / f"{label.replace(' ', '-')}.log"
    with open(log_path, "wb") as log_file:
        # Its own process group: Ctrl-C reaches only us, and we stop children in order.
        process = subprocess.Popen(
            argv,
            cwd=REPO_ROOT,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=log_file,
            stderr=subprocess.STDOUT,
            process_group=0,
        )
    return Child(label, process, log_path)


def _check_children(children: list[Child]) -> None:
    for child in children:
        returncode = child.process.poll()
        if returncode is not None:
            raise ChildExited(child, returncode)


def _wait_for_web(port: int, children: list[Child], timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while not port_answers(port):
        _check_children(children)
        if time.monotonic() > deadline:
            raise LocalKafkaError(f"the web server did not answer on port {port} within {timeout:.0f} s")
        time.sleep(0.2)


def _stop_children(children: list[Child], timeout: float = 20.0) -> None:
    for child in children:
        if child.process.poll() is None:
            child.process.terminate()
    deadline = time.monotonic() + timeout
    for child in children:
        try:
            child.process.wait(max(0.1, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            _say(f"{child.label} did not stop within {timeout:.0f} s; killing it")
            child.process.kill()
            child.process.wait()
        # A worker stopped while it starts or stops can leave a pool or beat process behind, which
        # would hold Redis connections; they are in the child's own process group.
        with contextlib.suppress(ProcessLookupError):
            os.killpg(child.process.pid, signal.SIGKILL)


def _tail(path: Path, lines: int = 20) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return ""


def _banner(port: int, password: str, bootstrap: str, redis_url: str, log_dir: Path) -> str:
    rule = "=" * 72
    return "\n".join(
        [
            rule,
            "  Kafka consumer-group console demo is running",
            "",
            f"  Open      http://127.0.0.1:{port}/",
            f"  Log in    admin / {password}   (all demo users share this password:",
            "            viewer, operator, approver and admin, one per role)",
            f"  Kafka     {bootstrap}  (cluster 'local', demo topics and groups keep moving)",
            f"  Redis     {redis_url}",
            f"  Logs      {log_dir}/",
            "",
            "  Stop with Ctrl-C: the web server, worker and traffic stop, and so do the",
            "  broker and Redis if this command started them. The next run finds the",
            "  same port, topics, groups and password.",
            rule,
        ]
    )


def run_demo(port: int, state_dir: Path = DEFAULT_STATE_DIR) -> int:
    """Bring up everything the demo needs, print how to log in, and tear it all down when stopped."""
    if not port_is_free(port):
        _say(f"Port {port} is already in use: stop what runs there, or pick another with --port.", error=True)
        return 1
    kafka = LocalKafka(state_dir)
    started_kafka = started_redis = False
    children: list[Child] = []
    exit_code = 0
    began = time.monotonic()
    try:
        for sig in STOP_SIGNALS:
            signal.signal(sig, _raise_stopped)
        ensure_jars()
        started_kafka = kafka.status() is None
        _report("Starting Kafka..." if started_kafka else "Reusing the running Kafka...")
        bootstrap = kafka.start()
        # Decided before the start, so a stop that lands inside it still stops the new server.
        started_redis = redis_status(state_dir) is None
        redis_url = ensure_redis(state_dir=state_dir)
        # False when $REDIS_URL answered and the state dir's Redis was never needed.
        started_redis = started_redis and redis_status(state_dir) == redis_url
        password = demo_password(state_dir)
        env = {
            **os.environ,
            "REDIS_URL": redis_url,
            "CONSOLE_CLUSTERS": f"local={bootstrap}",
            "PYTHONUNBUFFERED": "1",
            **production_env(state_dir),
        }
        _report("Preparing the database and the demo login...")
        _manage("migrate", "--noinput", env=env)
        _manage("collectstatic", "--noinput", env=env)
        _manage("seed_demo", "--bootstrap", bootstrap, env={**env, "DEMO_PASSWORD": password})
        log_dir = kafka.state_dir / "demo"
        log_dir.mkdir(parents=True, exist_ok=True)
        children.append(
            _start_child(
                "demo traffic",
                [sys.executable, "-m", "localkafka.demo", "traffic", "--bootstrap", bootstrap],
                env,
                log_dir,
            )
        )
        children.append(
            _start_child(
                "celery worker",
                [
                    sys.executable,
                    "-m",
                    "celery",
                    "-A",
                    "console",
                    "worker",
                    "--beat",
                    "--concurrency",
                    "2",
                    "-l",
                    "warning",
                    "-Q",
                    "operations,collection,notifications",
                    "--schedule",
                    str(log_dir / "celerybeat-schedule"),
                ],
                env,
                log_dir,
            )
        )
        children.append(
            _start_child(
                "web server",
                [
                    sys.executable,
                    "-m",
                    "gunicorn",
                    "console.wsgi:application",
                    "--bind",
                    f"127.0.0.1:{port}",
                    "--workers",
                    str(WEB_WORKERS),
                    "--access-logfile",
                    "-",
                ],
                env,
                log_dir,
            )
        )
        _wait_for_web(port, children)
        _report(_banner(port, password, bootstrap, redis_url, log_dir))
        _report(f"(ready in {time.monotonic() - began:.1f} s)")
        while True:
            _check_children(children)
            time.sleep(0.5)
    except DemoStopped:
        _say("\nStopping the demo...")
    except ChildExited as exc:
        exit_code = 1
        _say(
            f"\nThe {exc}; stopping the demo. Last lines of {exc.child.log_path}:\n{_tail(exc.child.log_path)}",
            error=True,
        )
    except LocalKafkaError as exc:
        exit_code = 1
        _say(f"\n{exc}", error=True)
    finally:
        # A second Ctrl-C must not abandon half-stopped servers; every step below is bounded,
        # and none of them writes anything that could fail.
        for sig in STOP_SIGNALS:
            signal.signal(sig, signal.SIG_IGN)
        _stop_children(list(reversed(children)))
        if started_kafka:
            _say("Stopping Kafka...")
            kafka.stop()
        if started_redis:
            _say("Stopping Redis...")
            stop_redis(state_dir)
    _say("Demo stopped.")
    return exit_code
