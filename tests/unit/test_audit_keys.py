"""The audit log's HMAC keys: read from the environment or a file, rotatable, never the placeholder in production."""

import os
import subprocess
import sys
from pathlib import Path

import pytest
from django.core.checks import run_checks
from django.core.exceptions import ImproperlyConfigured

from console import settings as console_settings

ROOT = Path(__file__).resolve().parents[2]
SECRET_A = "first-secret-" + "a" * 30
SECRET_B = "second-secret-" + "b" * 30


def test_keys_are_id_secret_entries_oldest_first_on_lines_or_spaces():
    keys = console_settings.audit_keys(f"2024-01:{SECRET_A}\n  2025.06_b:{SECRET_B}\n", "AUDIT_HMAC_KEY")
    assert keys == {"2024-01": SECRET_A, "2025.06_b": SECRET_B}
    assert list(keys)[-1] == "2025.06_b"  # the one new events use


@pytest.mark.parametrize(
    "text", [SECRET_A, f"2024:{'short'}", f"bad id:{SECRET_A}", f":{SECRET_A}", f"{'x' * 33}:{SECRET_A}"]
)
def test_a_malformed_entry_is_refused_without_quoting_the_secret(text):
    with pytest.raises(ImproperlyConfigured, match="entry 1 is not ID:SECRET") as refused:
        console_settings.audit_keys(text, "AUDIT_HMAC_KEY")
    assert SECRET_A not in str(refused.value) and "short" not in str(refused.value)


def test_a_key_id_listed_twice_is_refused():
    with pytest.raises(ImproperlyConfigured, match="'k' is listed twice"):
        console_settings.audit_keys(f"k:{SECRET_A} k:{SECRET_B}", "AUDIT_HMAC_KEY")


def test_keys_are_read_from_the_file_audit_hmac_key_file_names(monkeypatch, tmp_path):
    path = tmp_path / "audit-keys"
    path.write_text(f"old:{SECRET_A}\nnew:{SECRET_B}\n")
    monkeypatch.delenv("AUDIT_HMAC_KEY", raising=False)
    monkeypatch.setenv("AUDIT_HMAC_KEY_FILE", str(path))
    assert console_settings.env_audit_keys() == {"old": SECRET_A, "new": SECRET_B}
    monkeypatch.setenv("AUDIT_HMAC_KEY", f"env:{SECRET_A}")
    with pytest.raises(ImproperlyConfigured, match="not both"):
        console_settings.env_audit_keys()
    monkeypatch.delenv("AUDIT_HMAC_KEY")
    monkeypatch.setenv("AUDIT_HMAC_KEY_FILE", str(tmp_path / "missing"))
    with pytest.raises(ImproperlyConfigured, match="cannot be read: No such file or directory"):
        console_settings.env_audit_keys()


def _settings_with(**env: str) -> subprocess.CompletedProcess:
    base = {k: v for k, v in os.environ.items() if not k.startswith("AUDIT_HMAC_KEY")}
    return subprocess.run(
        [sys.executable, "-c", "from console import settings as s; print(list(s.AUDIT_HMAC_KEYS))"],
        capture_output=True,
        text=True,
        cwd=ROOT,
        env={**base, **env},
    )


def test_with_debug_off_the_placeholder_key_is_refused_and_a_real_one_accepted():
    production = {"DEBUG": "0", "SECRET_KEY": "a-real-secret-for-this-test"}
    refused = _settings_with(**production)
    assert refused.returncode != 0
    assert "Set AUDIT_HMAC_KEY (or AUDIT_HMAC_KEY_FILE): DEBUG is off" in refused.stderr
    accepted = _settings_with(**production, AUDIT_HMAC_KEY=f"2025:{SECRET_A}")
    assert (accepted.returncode, accepted.stdout.strip()) == (0, "['2025']")


def test_only_the_demos_own_switch_lets_debug_off_run_on_the_placeholder_key():
    demo = _settings_with(DEBUG="0", SECRET_KEY="a-real-secret-for-this-test", ALLOW_PLACEHOLDER_AUDIT_KEY="1")
    assert (demo.returncode, demo.stdout.strip()) == (0, "['dev']"), demo.stderr


def test_check_deploy_warns_while_the_placeholder_keys_the_log(settings):
    assert "groups.W001" in [m.id for m in run_checks(include_deployment_checks=True)]
    assert "groups.W001" not in [m.id for m in run_checks()]  # not a nag on every runserver
    settings.AUDIT_HMAC_KEYS = {"2025": SECRET_A}
    assert "groups.W001" not in [m.id for m in run_checks(include_deployment_checks=True)]
