import os
import subprocess
import sys
from pathlib import Path

import pytest

from groups.models import Cluster, parse_cluster_setting


def test_cluster_setting_parses_names_and_bootstrap_lists():
    assert parse_cluster_setting("prod=a:9092,b:9092; staging=c:9092;") == [
        ("prod", "a:9092,b:9092"),
        ("staging", "c:9092"),
    ]


def test_cluster_setting_rejects_an_entry_without_a_name():
    with pytest.raises(ValueError, match="name=host:port"):
        parse_cluster_setting("a:9092")


def test_sasl_password_is_read_from_the_named_environment_variable(monkeypatch):
    monkeypatch.setenv("PROD_KAFKA_PASSWORD", "s3cret")
    cluster = Cluster(
        name="prod",
        bootstrap_servers="a:9092",
        security_protocol="SASL_SSL",
        sasl_mechanism="SCRAM-SHA-512",
        sasl_username="console",
        secret_ref="env:PROD_KAFKA_PASSWORD",
    )
    config = cluster.client_config()
    assert config["sasl.password"] == "s3cret" and config["sasl.mechanism"] == "SCRAM-SHA-512"


def test_sasl_password_from_a_file_is_stripped(tmp_path):
    secret = tmp_path / "pw"
    secret.write_text("filepw\n")
    cluster = Cluster(
        name="x",
        bootstrap_servers="a:9092",
        security_protocol="SASL_PLAINTEXT",
        sasl_mechanism="PLAIN",
        sasl_username="u",
        secret_ref=f"file:{secret}",
    )
    assert cluster.client_config()["sasl.password"] == "filepw"


def test_a_missing_secret_is_a_clear_error_not_an_empty_password(monkeypatch):
    monkeypatch.delenv("NOPE_PASSWORD", raising=False)
    cluster = Cluster(
        name="x",
        bootstrap_servers="a:9092",
        security_protocol="SASL_SSL",
        sasl_mechanism="PLAIN",
        sasl_username="u",
        secret_ref="env:NOPE_PASSWORD",
    )
    with pytest.raises(ValueError, match="NOPE_PASSWORD"):
        cluster.client_config()


def test_a_literal_password_in_the_secret_reference_is_refused():
    from django.core.exceptions import ValidationError

    cluster = Cluster(
        name="x",
        bootstrap_servers="a:9092",
        security_protocol="SASL_SSL",
        sasl_mechanism="PLAIN",
        sasl_username="u",
        secret_ref="hunter2",
    )
    with pytest.raises(ValidationError, match="never the password"):
        cluster.clean()


def test_with_debug_off_the_cookies_are_https_only_and_hidden_from_scripts():
    root = Path(__file__).resolve().parents[2]
    shown = [
        "SESSION_COOKIE_SECURE",
        "CSRF_COOKIE_SECURE",
        "SESSION_COOKIE_HTTPONLY",
        "CSRF_COOKIE_HTTPONLY",
        "SESSION_COOKIE_SAMESITE",
    ]
    code = f"from console import settings as s; print(*(getattr(s, n) for n in {shown!r}))"
    off = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        check=True,
        cwd=root,
        env={
            **os.environ,
            "DEBUG": "0",
            "SECRET_KEY": "a-real-secret-for-this-test",
            "AUDIT_HMAC_KEY": "test:an-audit-key-for-this-test-only-0123456789",
        },
    )
    assert off.stdout.split() == ["True", "True", "True", "True", "Lax"]
    on = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        check=True,
        cwd=root,
        env={**os.environ, "DEBUG": "1"},
    )
    assert on.stdout.split()[:2] == ["False", "False"]  # runserver over plain http still gets a session


def test_form_errors_name_their_fields_so_two_alike_read_apart():
    from groups.forms import ResetForm, error_text

    text = error_text(ResetForm({}))
    assert "Strategy: This field is required." in text and "Scope mode: This field is required." in text
