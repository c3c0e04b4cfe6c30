"""Schemathesis drives the live server from the API's generated OpenAPI schema: generated requests to every
route (a real broker, a few groups and a snapshot behind them, an Admin's token) never get a 5xx, and every
answer, its status and its content type are the ones the schema documents."""

from __future__ import annotations

import re
import subprocess
import sys
import time
from pathlib import Path

import pytest
from django.core.management import call_command
from django.test import Client

from groups.models import ApiToken, Cluster
from tests import kafkatools as kt

pytestmark = pytest.mark.integration

CHECKS = "not_a_server_error,response_schema_conformance,status_code_conformance,content_type_conformance"
# Examples per route: enough to reach each route's failures and answers, few enough to stay near a minute.
MAX_EXAMPLES = 6
TIME_LIMIT_S = 90
# Requests name the seeded cluster, so they reach the snapshot and Kafka rather than stopping at its 404.
CONFIG = """
[parameters]
"path.cluster" = "local"
"""


@pytest.fixture
def seeded(transactional_db, use_test_redis, kafka_bootstrap, unique, make_user):
    """Cluster "local" with a few lagging groups and a collected snapshot, and an Admin's API token."""
    cluster = Cluster.objects.create(name="local", bootstrap_servers=kafka_bootstrap)
    topic = unique("schema")
    kt.create_topic(kafka_bootstrap, topic, 2)
    kt.produce(kafka_bootstrap, topic, {0: 30, 1: 20})
    for n in range(3):
        kt.commit(kafka_bootstrap, unique(f"schema-group-{n}"), {(topic, 0): 10 + n, (topic, 1): 5})
    call_command("collect_lag", "--cluster", cluster.name)
    return ApiToken.issue(make_user("schema-admin", "Admin"))


def test_generated_requests_get_no_server_error_and_answers_conform_to_the_schema(live_server, seeded, tmp_path):
    config = tmp_path / "schemathesis.toml"
    config.write_text(CONFIG)
    command = [
        str(Path(sys.executable).parent / "st"),
        "--config-file",
        str(config),
        "run",
        f"{live_server.url}/api/schema/",
        "--url",
        live_server.url,
        "--header",
        f"Authorization: Token {seeded}",
        "--checks",
        CHECKS,
        "--max-examples",
        str(MAX_EXAMPLES),
        "--phases",
        "examples,fuzzing",
        "--generation-with-security-parameters",
        "false",
        "--seed",
        "11",
        # Each run stands alone: no example store left in the checkout.
        "--generation-database",
        "none",
        "--request-timeout",
        "20",
        "--no-color",
    ]
    started = time.monotonic()
    # In tmp_path: schemathesis keeps a crash cache under its working directory.
    result = subprocess.run(command, capture_output=True, text=True, timeout=TIME_LIMIT_S * 2, cwd=tmp_path)
    took = time.monotonic() - started
    assert result.returncode == 0, result.stdout[-8000:] + result.stderr[-2000:]
    schema = Client(headers={"Authorization": f"Token {seeded}"}).get("/api/schema/").json()
    routes = sum(len(methods) for methods in schema["paths"].values())
    assert re.search(rf"Tested: {routes}\b", result.stdout), result.stdout[-3000:]
    assert took < TIME_LIMIT_S, f"schemathesis took {took:.0f} s; lower MAX_EXAMPLES"
