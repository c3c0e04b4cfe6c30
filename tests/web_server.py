"""The console served as production serves it: gunicorn with DEBUG off, static files from whitenoise
after collectstatic, on the test run's database and Redis. The browser tests and the multi-process
proof drive it; `manage.py runserver` and pytest-django's live server are never what users get."""

from __future__ import annotations

import contextlib
import html
import http.cookiejar
import os
import re
import secrets
import signal
import subprocess
import sys
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path

from tests.kafkatools import wait_for

REPO = Path(__file__).resolve().parents[1]


def production_like_env(database_url: str, redis_url: str, static_root: Path) -> dict[str, str]:
    """Production's settings (DEBUG off, a fresh secret key) on plain http at 127.0.0.1, as `make demo` runs.

    The audit key is the development one, as in `make demo`: the test process and its Celery worker sign
    with it, and the chain they all write to must verify.
    """
    return {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "tests.server_settings",
        "DEBUG": "0",
        "SECRET_KEY": secrets.token_urlsafe(50),
        "ALLOW_PLACEHOLDER_AUDIT_KEY": "1",
        "DATABASE_URL": database_url,
        "REDIS_URL": redis_url,
        "STATIC_ROOT": str(static_root),
        "SECURE_COOKIES": "0",
        "SECURE_SSL_REDIRECT": "0",
        "SECURE_HSTS_SECONDS": "0",
        "KAFKA_REQUEST_TIMEOUT_MS": "10000",
        "PYTHONUNBUFFERED": "1",
    }


def collect_static(static_root: Path) -> None:
    """collectstatic as a deployment runs it: the content-hashed, compressed copies whitenoise serves."""
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "tests.server_settings",
        "DEBUG": "0",
        "SECRET_KEY": secrets.token_urlsafe(50),
        "ALLOW_PLACEHOLDER_AUDIT_KEY": "1",
        "STATIC_ROOT": str(static_root),
    }
    result = subprocess.run(
        [sys.executable, "manage.py", "collectstatic", "--noinput", "-v", "0"],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def _free_port() -> int:
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _answers(url: str) -> bool:
    """Any HTTP answer: a test's own URLs may have no /healthz, and their 404 is an answer too."""
    try:
        with urllib.request.urlopen(f"{url}/healthz", timeout=2):
            return True
    except urllib.error.HTTPError:
        return True
    except OSError:
        return False


class WebServer:
    """A gunicorn master and its worker processes; `url` is where it answers."""

    def __init__(self, env: dict[str, str], log_path: Path, *, workers: int = 2, threads: int = 4):
        self.port = _free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log_path = log_path
        with open(log_path, "ab") as log:
            self.proc = subprocess.Popen(
                [
                    sys.executable,
                    "-m",
                    "gunicorn",
                    "console.wsgi:application",
                    "--bind",
                    f"127.0.0.1:{self.port}",
                    "--workers",
                    str(workers),
                    "--threads",
                    str(threads),
                    # The application is imported once and forked, not once per process: the same code
                    # served, started in about half the time (measured: 7 s instead of 14 s on the shared test machine).
                    "--preload",
                    "--access-logfile",
                    "-",
                ],
                cwd=REPO,
                env=env,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        try:
            wait_for(lambda: self.proc.poll() is not None or _answers(self.url), timeout=60, what="gunicorn to answer")
            assert self.proc.poll() is None, self.log()
        except BaseException:
            self.stop()
            raise

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def stop(self) -> None:
        """SIGTERM (gunicorn's graceful stop), then SIGKILL the whole group if it lingers."""
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.proc.pid, signal.SIGTERM)
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.proc.wait(timeout=30)
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.proc.pid, signal.SIGKILL)
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.proc.wait(timeout=10)


class HttpSession:
    """One person's browser session, as plain HTTP: cookies are per host, not per port, so a session
    opened through one web process is the same session on the other."""

    def __init__(self) -> None:
        self.jar = http.cookiejar.CookieJar()
        self.opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(self.jar))

    def get(self, url: str) -> tuple[int, dict[str, str], str]:
        """The status, headers and body of a GET, error statuses included."""
        try:
            with self.opener.open(url, timeout=60) as response:
                return response.status, dict(response.headers), response.read().decode()
        except urllib.error.HTTPError as error:
            return error.code, dict(error.headers), error.read().decode()

    def sign_in(self, base_url: str, username: str, password: str) -> None:
        self.get(f"{base_url}/login/")
        landed, page = self.post(f"{base_url}/login/", {"username": username, "password": password, "next": "/"})
        assert landed == f"{base_url}/", page[:3000]

    def post(self, url: str, fields: dict[str, str]) -> tuple[str, str]:
        """POST a form with the CSRF token; (the URL it ended on after redirects, its body)."""
        token = next(cookie.value for cookie in self.jar if cookie.name == "csrftoken")
        data = urllib.parse.urlencode({**fields, "csrfmiddlewaretoken": token}).encode()
        with self.opener.open(urllib.request.Request(url, data=data), timeout=60) as response:
            return response.url, response.read().decode()


def hidden_field(page: str, name: str) -> str:
    found = re.search(rf'name="{name}" value="([^"]+)"', page)
    assert found, f"no {name} in the page:\n{page[:3000]}"
    return html.unescape(found[1])
