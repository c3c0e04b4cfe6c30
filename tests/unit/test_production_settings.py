"""Production settings: `manage.py check --deploy` finds nothing to warn about under the environment
docs/deploy.md lists, and the logs come out as one JSON object a line with the operation's id."""

from __future__ import annotations

import json
import logging
import os
import secrets
import subprocess
import sys
from pathlib import Path

from groups import logs

REPO = Path(__file__).resolve().parents[2]


def production_env(**overrides: str) -> dict[str, str]:
    """The environment docs/deploy.md tells a deployment to set, with fresh secrets."""
    env = {
        key: value
        for key, value in os.environ.items()
        if key not in {"DEBUG", "SECURE_COOKIES", "ALLOW_PLACEHOLDER_AUDIT_KEY"}
    }
    env.update(
        DJANGO_SETTINGS_MODULE="console.settings",
        DEBUG="0",
        SECRET_KEY=secrets.token_urlsafe(50),
        AUDIT_HMAC_KEY=f"2026-12:{secrets.token_urlsafe(48)}",
        ALLOWED_HOSTS="console.example.com",
        CSRF_TRUSTED_ORIGINS="https://console.example.com",
        SECURE_PROXY_SSL_HEADER_NAME="HTTP_X_FORWARDED_PROTO",
        DATABASE_URL="postgres://console:pw@db.example.com:5432/console",
        REDIS_URL="redis://redis.example.com:6379/0",
        LOG_FORMAT="json",
    )
    env.update(overrides)
    return env


def check_deploy(env: dict[str, str]) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "manage.py", "check", "--deploy", "--fail-level", "WARNING"],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_check_deploy_reports_no_issue_under_the_production_environment():
    result = check_deploy(production_env())
    assert result.returncode == 0, result.stdout + result.stderr
    assert "System check identified no issues" in result.stdout, result.stdout + result.stderr


def test_check_deploy_still_warns_when_production_turns_https_off():
    """The test above would pass with the checks silenced; this proves they still run."""
    result = check_deploy(production_env(SECURE_COOKIES="0", SECURE_HSTS_SECONDS="0"))
    assert result.returncode != 0
    assert "security.W004" in result.stderr and "security.W012" in result.stderr, result.stderr


def test_production_refuses_to_start_with_the_development_secret_key():
    env = production_env()
    del env["SECRET_KEY"]
    result = check_deploy(env)
    assert result.returncode != 0
    assert "Set SECRET_KEY" in result.stderr


def test_an_unknown_log_format_is_refused_naming_the_choices():
    result = check_deploy(production_env(LOG_FORMAT="xml"))
    assert result.returncode != 0
    assert "LOG_FORMAT must be 'text' or 'json'" in result.stderr


def _json_lines(records: list[logging.LogRecord]) -> list[dict]:
    formatter, stamp = logs.json_formatter(), logs.OperationFilter()
    return [json.loads(formatter.format(record)) for record in records if stamp.filter(record)]


def _record(message: str, *args) -> logging.LogRecord:
    return logging.LogRecord("groups.operations.lifecycle", logging.INFO, __file__, 1, message, args, None)


def test_each_line_logged_inside_an_operation_carries_its_id_and_none_outside():
    with logs.operation_context(42):
        inside = _record("operation %s claimed as run %s", 42, 1)
        stamp = logs.OperationFilter()
        stamp.filter(inside)
        with logs.operation_context(43):
            nested = _record("inner")
            stamp.filter(nested)
    outside = _record("between operations")
    stamp.filter(outside)

    assert (inside.operation_id, nested.operation_id, outside.operation_id) == (42, 43, None)


def test_a_json_line_is_one_object_with_time_level_logger_pid_operation_and_message():
    with logs.operation_context(7):
        record = _record("operation %s claimed as run %s", 7, 1)
        (line,) = _json_lines([record])

    assert line["operation_id"] == 7
    assert line["message"] == "operation 7 claimed as run 1"
    assert line["level"] == "INFO" and line["logger"] == "groups.operations.lifecycle"
    assert line["pid"] == os.getpid() and line["time"]
    assert "operation_label" not in line
    assert "\n" not in logs.json_formatter().format(record)


def test_a_logged_exception_stays_on_one_json_line():
    try:
        raise ValueError("broken\non two lines")
    except ValueError:
        record = logging.LogRecord("x", logging.ERROR, __file__, 1, "failed", (), sys.exc_info())
    logs.OperationFilter().filter(record)
    text = logs.json_formatter().format(record)

    assert "\n" not in text
    assert "ValueError: broken" in json.loads(text)["exc_info"]
