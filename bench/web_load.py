"""Serve the console with gunicorn on 127.0.0.1 and drive a bounded load of concurrent GETs at it.

Two drivers. `drive_wrk` runs wrk (Debian's package, which `make install` installs), a compiled
client: on a two-core machine a load generator written in Python takes a large share of the CPU
the server is measured on, and its threads' wait for the GIL shows up as latency. `drive` is the
Python one, kept for what wrk does not do: checking each answer's body, and small warm-up or
one-client runs. Its load stops by itself: each client makes at most `requests_per_client`
requests and starts none after `budget_s`.
"""

from __future__ import annotations

import contextlib
import http.client
import json
import math
import os
import shutil
import socket
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
HOST = "127.0.0.1"


@dataclass
class LoadResult:
    path: str
    clients: int
    wall_s: float
    latencies_s: list[float] = field(default_factory=list)  # requests answered 200 with the expected body
    errors: Counter = field(default_factory=Counter)  # what went wrong -> how often

    def percentile(self, q: float) -> float | None:
        """Nearest-rank percentile of the good requests' latencies, in seconds."""
        if not self.latencies_s:
            return None
        ordered = sorted(self.latencies_s)
        return ordered[max(0, math.ceil(q / 100 * len(ordered)) - 1)]

    def summary(self) -> dict:
        done = len(self.latencies_s)
        return {
            "path": self.path,
            "clients": self.clients,
            "requests_ok": done,
            "errors": dict(self.errors),
            "wall_s": self.wall_s,
            "p50_s": self.percentile(50),
            "p95_s": self.percentile(95),
            "max_s": max(self.latencies_s, default=None),
            "requests_per_s": done / self.wall_s if self.wall_s else None,
        }


@dataclass(frozen=True)
class WrkResult:
    """What wrk measured: its percentiles (it keeps every latency in a histogram), counts and errors."""

    path: str
    clients: int
    wall_s: float
    requests: int
    errors: dict[str, int]
    p50_s: float
    p95_s: float
    p99_s: float
    max_s: float

    def summary(self) -> dict:
        good = self.requests - self.errors.get("not_200", 0)
        return {
            "path": self.path,
            "clients": self.clients,
            "requests_ok": good,
            "errors": {kind: n for kind, n in self.errors.items() if n},
            "wall_s": self.wall_s,
            "p50_s": self.p50_s,
            "p95_s": self.p95_s,
            "p99_s": self.p99_s,
            "max_s": self.max_s,
            "requests_per_s": good / self.wall_s if self.wall_s else None,
            "driver": "wrk",
        }


WRK_SCRIPT = Path(__file__).with_name("wrk_report.lua")


def drive_wrk(port: int, path: str, headers: dict[str, str], *, clients: int, seconds: float) -> WrkResult:
    """`clients` connections GETting `path` back to back for `seconds`, from wrk's two threads.

    Answers other than 200 are errors ("not_200"); wrk reads no body: callers check one with `drive`
    before and after.
    """
    wrk = shutil.which("wrk")
    if wrk is None:
        raise RuntimeError("wrk is not installed: `make install` installs it (Debian package wrk).")
    argv = [wrk, "-t", str(min(2, clients)), "-c", str(clients), "-d", f"{seconds:g}s", "--timeout", "60s"]
    for name, value in headers.items():
        argv += ["-H", f"{name}: {value}"]
    argv += ["-s", str(WRK_SCRIPT), f"http://{HOST}:{port}{path}"]
    done = subprocess.run(argv, capture_output=True, text=True, check=False)
    line = next((x for x in done.stdout.splitlines() if x.startswith("WRK-JSON ")), None)
    if done.returncode != 0 or line is None:
        raise RuntimeError(f"wrk failed ({done.returncode}): {done.stderr[-2000:] or done.stdout[-2000:]}")
    figures = json.loads(line.removeprefix("WRK-JSON "))
    return WrkResult(
        path=path,
        clients=clients,
        wall_s=figures["duration_us"] / 1e6,
        requests=figures["requests"],
        errors={kind: figures[kind] for kind in ("connect", "read", "write", "status", "timeout", "not_200")},
        p50_s=figures["p50_us"] / 1e6,
        p95_s=figures["p95_us"] / 1e6,
        p99_s=figures["p99_us"] / 1e6,
        max_s=figures["max_us"] / 1e6,
    )


@dataclass(frozen=True)
class Served:
    port: int
    pid: int  # gunicorn's master

    def cpu_seconds(self) -> float:
        """CPU time (user and system) of the master and its workers so far: per request, what serving it
        cost, which the machine's other work cannot inflate the way it inflates latencies."""
        ticks = 0
        for stat in Path("/proc").glob("[0-9]*/stat"):
            try:
                fields = stat.read_text().rsplit(")", 1)[1].split()
            except OSError:  # a process that ended meanwhile
                continue
            pid, ppid = int(stat.parent.name), int(fields[1])
            if self.pid in (pid, ppid):
                ticks += int(fields[11]) + int(fields[12])
        return ticks / os.sysconf("SC_CLK_TCK")


@contextlib.contextmanager
def served_console(env: dict[str, str], *, workers: int, threads: int, log_path: Path) -> Iterator[Served]:
    """gunicorn serving console.wsgi with `env` (the run's database and settings)."""
    port = _free_port()
    argv = [
        sys.executable,
        "-m",
        "gunicorn",
        "console.wsgi:application",
        "--bind",
        f"{HOST}:{port}",
        "--workers",
        str(workers),
        "--threads",
        str(threads),
        # Today's pages can take longer than gunicorn's 30 s default under load: measure them, don't kill them.
        "--timeout",
        "900",
        "--log-level",
        "warning",
    ]
    with open(log_path, "ab") as log:
        proc = subprocess.Popen(argv, cwd=ROOT, env=env, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 60
        while not _answers(port):
            if proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(
                    f"gunicorn did not start serving the console (log: {log_path}):\n"
                    + log_path.read_text(errors="replace")[-2000:]
                )
            time.sleep(0.2)
        yield Served(port, proc.pid)
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def drive(
    port: int,
    path: str,
    headers: dict[str, str],
    *,
    check: Callable[[bytes], bool],
    clients: int = 20,
    requests_per_client: int = 25,
    budget_s: float = 60,
    timeout_s: float = 900,
) -> LoadResult:
    """`clients` threads each GET `path` in a loop until done or out of budget; latencies as each client sees them.

    A request counts as good when it answers 200 and `check(body)` holds; anything else is an error by kind.
    """
    result = LoadResult(path, clients, 0.0)
    lock = threading.Lock()
    start = threading.Barrier(clients + 1)
    deadline = [0.0]

    def client() -> None:
        start.wait()
        for _ in range(requests_per_client):
            if time.monotonic() >= deadline[0]:
                return
            t0 = time.perf_counter()
            error = _get(port, path, headers, check, timeout_s)
            latency = time.perf_counter() - t0
            with lock:
                if error is None:
                    result.latencies_s.append(latency)
                else:
                    result.errors[error] += 1

    threads = [threading.Thread(target=client, daemon=True) for _ in range(clients)]
    for thread in threads:
        thread.start()
    deadline[0] = time.monotonic() + budget_s
    t0 = time.perf_counter()
    start.wait()
    for thread in threads:
        thread.join()
    result.wall_s = time.perf_counter() - t0
    return result


def _get(port: int, path: str, headers: dict[str, str], check: Callable[[bytes], bool], timeout_s: float) -> str | None:
    connection = http.client.HTTPConnection(HOST, port, timeout=timeout_s)
    try:
        connection.request("GET", path, headers=headers)
        response = connection.getresponse()
        body = response.read()
    except TimeoutError:
        return "timeout"
    except OSError as error:
        return f"connection: {type(error).__name__}"
    finally:
        connection.close()
    if response.status != 200:
        return f"HTTP {response.status}"
    try:
        return None if check(body) else "unexpected body"
    except ValueError:  # e.g. JSON expected, something else came
        return "unexpected body"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind((HOST, 0))
        return sock.getsockname()[1]


def _answers(port: int) -> bool:
    try:
        socket.create_connection((HOST, port), timeout=0.5).close()
        return True
    except OSError:
        return False


def default_workers() -> int:
    """gunicorn's own advice: two workers per core, plus one."""
    return 2 * (os.cpu_count() or 1) + 1
