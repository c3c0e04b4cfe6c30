"""Two web processes and two Celery workers on one database and one Redis, as two machines would run
the console: many resets of one group requested at once through both web processes, each task also
delivered twice. Each operation is claimed exactly once, no two ever change the group at the same
time, the group ends where the last one put it, and the audit chain both wrote to verifies.

On PostgreSQL (the `--database=postgres` pass) this is a multi-machine deployment; on SQLite, one
machine's processes sharing a file, which `make demo` is.
"""

from __future__ import annotations

import io
import json
import re
from collections import Counter
from concurrent.futures import ThreadPoolExecutor

import pytest
from django.core.management import call_command

from groups.kafka import TP, client_for
from groups.models import AuditEvent, Operation
from tests import kafkatools as kt
from tests.conftest import Worker
from tests.databases import shared_database_url
from tests.web_server import HttpSession, WebServer, hidden_field, production_like_env

pytestmark = pytest.mark.integration

REQUESTS_PER_SERVER = 8
PASSWORD = "two-machines-password"


def _lines(log: str) -> list[dict]:
    return [json.loads(line) for line in log.splitlines() if line.startswith("{")]


def _task_ends(workers: list[Worker]) -> list[dict]:
    """Celery's own "Task ...run_operation[...] succeeded in" lines, from both workers' logs."""
    return [
        line
        for worker in workers
        for line in _lines(worker.log_path.read_text())
        if "groups.tasks.run_operation[" in line["message"] and "succeeded in" in line["message"]
    ]


@pytest.fixture
def two_machines(transactional_db, redis_url, mail_server, static_root, tmp_path, settings):
    """Two gunicorn masters (one web process each) and two Celery workers, on a Redis database of their
    own so the run's shared worker takes none of their tasks."""
    own_redis = redis_url.rsplit("/", 1)[0] + "/7"
    settings.AUDIT_CHECKPOINT_DIR = tmp_path / "checkpoints"
    env = production_like_env(shared_database_url(), own_redis, static_root)
    env["LOG_FORMAT"] = "json"
    started: list = []
    try:
        for name in ("a", "b"):
            started.append(WebServer(env, tmp_path / f"web-{name}.log", workers=1, threads=4))
        for name in ("a", "b"):
            started.append(
                Worker(own_redis, tmp_path / f"worker-{name}.log", mail_server.port, extra_env={"LOG_FORMAT": "json"})
            )
        yield started[:2], started[2:], own_redis
    finally:
        for process in reversed(started):
            process.stop()


def test_resets_through_two_web_processes_run_once_each_one_at_a_time_on_two_workers(
    two_machines, make_user, kafka_bootstrap, unique
):
    webs, workers, own_redis = two_machines
    from groups.models import Cluster

    cluster = Cluster.objects.create(name="local", bootstrap_servers=kafka_bootstrap)
    make_user("ops", "Operator", password=PASSWORD)
    topic, group = unique("two-machines"), unique("two-machines-group")
    kt.create_topic(kafka_bootstrap, topic, 2)
    kt.produce(kafka_bootstrap, topic, {0: 50, 1: 40})
    kt.commit(kafka_bootstrap, group, {(topic, 0): 30, (topic, 1): 20})

    # Signed in through one web process; previewed through both, once per request (a preview confirms once).
    session = HttpSession()
    session.sign_in(webs[0].url, "ops", PASSWORD)
    jobs = [(webs[n % 2], n) for n in range(2 * REQUESTS_PER_SERVER)]
    tokens = {}
    for web, number in jobs:
        strategy = ("to-earliest", "to-latest")[number % 2]
        _, preview = session.post(
            f"{web.url}/clusters/local/reset-preview/{group}/", {"strategy": strategy, "value": "", "scope_mode": "all"}
        )
        tokens[number] = (strategy, hidden_field(preview, "token"))

    def confirm(job: tuple[WebServer, int]) -> int:
        web, number = job
        strategy, token = tokens[number]
        landed, _ = session.post(
            f"{web.url}/clusters/local/reset-confirm/{group}/",
            {"token": token, "reason": f"request {number} through {web.url} ({strategy})"},
        )
        found = re.search(r"/operations/(\d+)/$", landed)
        assert found, landed
        return int(found[1])

    with ThreadPoolExecutor(max_workers=len(jobs)) as pool:
        operation_ids = list(pool.map(confirm, jobs))
    assert len(set(operation_ids)) == len(jobs)

    # A redelivered task: the same operation handed to the workers a second time, racing the first.
    from console.celery import app

    # On a connection of its own: the app's pooled one, opened by earlier tests, leads to the run's Redis,
    # whose shared worker would take the duplicates instead of these two workers.
    with app.connection_for_write(own_redis) as connection:
        for operation_id in operation_ids:
            app.send_task("groups.tasks.run_operation", args=[operation_id], connection=connection)

    # A run moves its row to the final status, then writes the audit event: wait for both.
    def all_recorded() -> bool:
        finished = AuditEvent.objects.filter(operation_id__in=operation_ids, action__in=["succeeded", "failed"])
        return finished.count() >= len(operation_ids)

    kt.wait_for(all_recorded, timeout=300, what="every operation to finish")
    # And every task, the duplicates too, to have ended.
    kt.wait_for(lambda: len(_task_ends(workers)) >= 2 * len(operation_ids), timeout=300, what="every task to end")
    operations = {op.pk: op for op in Operation.objects.filter(pk__in=operation_ids)}

    # Claimed exactly once each: one start and one finish in the audit log, one claim in the workers' logs.
    events = Counter(AuditEvent.objects.filter(operation_id__in=operation_ids).values_list("operation_id", "action"))
    for operation_id in operation_ids:
        assert events[(operation_id, "requested")] == 1
        assert events[(operation_id, "started")] == 1
        final = operations[operation_id]
        assert events[(operation_id, final.status)] == 1, (final.status, final.error, events)
    worker_lines = [_lines(worker.log_path.read_text()) for worker in workers]
    claims = Counter(
        line["operation_id"] for lines in worker_lines for line in lines if line["message"].endswith("claimed as run 1")
    )
    assert claims == Counter(operation_ids)
    assert all(any(line["message"].endswith("claimed as run 1") for line in lines) for lines in worker_lines), (
        "one of the two workers ran nothing"
    )
    # Every line about an operation carries its id: the lifecycle's, and Celery's own about the task's end.
    about_one = [line for lines in worker_lines for line in lines if line["message"].startswith("operation ")]
    assert all(line["operation_id"] == int(line["message"].split()[1]) for line in about_one)
    task_ends = _task_ends(workers)
    assert Counter(line["operation_id"] for line in task_ends) == Counter(operation_ids * 2)

    # One at a time: the spans between "holds the lock" and "releases the lock", from both workers, never
    # overlap. Every plan was made from the same offsets, so the first to hold the lock moves the group
    # and every later one finds it moved: without the lock two could read the old offsets and both write.
    spans: dict[int, list] = {}
    for lines in worker_lines:
        for line in lines:
            if line["message"].endswith(("holds the lock of its group", "releases the lock of its group")):
                spans.setdefault(line["operation_id"], []).append(line["time"])
    held = sorted(spans.values())
    assert held and all(len(span) == 2 for span in held), spans
    for earlier, later in zip(held, held[1:], strict=False):
        assert earlier[1] <= later[0], f"two operations changed the group at once: {earlier} and {later}"
    (winner,) = [op for op in operations.values() if op.status == "succeeded"]
    assert winner.pk in spans
    for op in operations.values():
        if op.pk in spans and op is not winner:
            assert "changed since the preview" in op.error, op.error
        elif op is not winner:
            assert "is running on this group right now" in op.error, op.error

    # The group is where the one that ran put it.
    expected = {TP(row["topic"], row["partition"]): row["after"] for row in winner.plan}
    assert client_for(cluster).committed_offsets([group])[group] == expected

    # Both web processes took requests and both workers ran operations; the chain they wrote to verifies.
    for web in webs:
        assert web.log().count("POST /clusters/local/reset-confirm/") == REQUESTS_PER_SERVER
    out = io.StringIO()
    call_command("verify_audit", stdout=out, stderr=io.StringIO())
    assert "intact" in out.getvalue(), out.getvalue()
