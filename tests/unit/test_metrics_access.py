"""Who may scrape `/metrics`: the token, the allowed addresses, and what a refused scraper is told."""

import os
import subprocess
import sys
from pathlib import Path

import pytest
from django.test import RequestFactory

from groups.metrics.allowed import refusal

TOKEN = "s3cret-scrape-token-0123456789"


def _request(address: str = "192.0.2.10", authorization: str | None = None):
    headers = {"HTTP_AUTHORIZATION": authorization} if authorization is not None else {}
    return RequestFactory().get("/metrics", REMOTE_ADDR=address, **headers)


@pytest.fixture
def token_only(settings):
    settings.METRICS_TOKEN, settings.METRICS_ALLOWED_IPS = TOKEN, []


def test_with_neither_a_token_nor_addresses_configured_every_scrape_is_refused(settings):
    settings.METRICS_TOKEN, settings.METRICS_ALLOWED_IPS = "", []
    reason = refusal(_request("127.0.0.1", f"Bearer {TOKEN}"))
    assert reason.startswith("Metrics are off") and "METRICS_TOKEN" in reason and "\n" not in reason


def test_the_configured_bearer_token_is_let_in(token_only):
    assert refusal(_request(authorization=f"Bearer {TOKEN}")) == ""
    assert refusal(_request(authorization=f"bearer  {TOKEN} ")) == ""


def test_a_missing_or_wrong_token_is_refused_with_what_to_send(token_only):
    assert "Authorization: Bearer" in refusal(_request())
    assert "not METRICS_TOKEN" in refusal(_request(authorization=f"Bearer {TOKEN}x"))
    assert "not METRICS_TOKEN" in refusal(_request(authorization=f"Token {TOKEN}"))
    assert refusal(_request(authorization=f"Bearer {TOKEN[:-1]}")) != ""


def test_an_address_in_the_allowed_networks_is_let_in_without_a_token(settings):
    settings.METRICS_TOKEN, settings.METRICS_ALLOWED_IPS = "", ["10.1.0.0/16", "2001:db8::/32", "127.0.0.1"]
    assert refusal(_request("10.1.200.3")) == ""
    assert refusal(_request("2001:db8::7")) == ""
    assert refusal(_request("127.0.0.1")) == ""
    assert refusal(_request("::ffff:10.1.0.9")) == ""  # an IPv4 client of a dual-stack server
    assert refusal(_request("10.2.0.1")) == "10.2.0.1 is not in METRICS_ALLOWED_IPS: scrape from an address it lists."
    assert refusal(_request("")) != ""


def test_with_both_configured_either_lets_a_scrape_in(settings):
    settings.METRICS_TOKEN, settings.METRICS_ALLOWED_IPS = TOKEN, ["10.1.0.0/16"]
    assert refusal(_request("10.1.0.1")) == ""
    assert refusal(_request("192.0.2.1", f"Bearer {TOKEN}")) == ""
    reason = refusal(_request("192.0.2.1"))
    assert "Authorization: Bearer" in reason and "192.0.2.1 is not" in reason


def _settings_with(**env: str) -> subprocess.CompletedProcess:
    root = Path(__file__).resolve().parents[2]
    return subprocess.run(
        [sys.executable, "-c", "import console.settings"],
        capture_output=True,
        text=True,
        cwd=root,
        env={**os.environ, **env},
        check=False,
    )


def test_the_console_refuses_to_start_with_a_short_token_or_a_malformed_address():
    short = _settings_with(METRICS_TOKEN="abc")
    assert short.returncode != 0 and "METRICS_TOKEN is shorter than 16 characters" in short.stderr
    bad = _settings_with(METRICS_ALLOWED_IPS="10.0.0.0/8, 10.0.0.300")
    assert bad.returncode != 0 and "METRICS_ALLOWED_IPS: '10.0.0.300' is neither" in bad.stderr
    assert _settings_with(METRICS_TOKEN=TOKEN, METRICS_ALLOWED_IPS="10.0.0.5/24,::1").returncode == 0
