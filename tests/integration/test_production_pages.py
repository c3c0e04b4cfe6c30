"""What production shows, served as production serves it (gunicorn, DEBUG off, whitenoise): the
console's own 404, 403 and 500 pages, never Django's debug pages nor a list of its routes; the
probes; static files under content-hashed names."""

from __future__ import annotations

import json
import re
from datetime import timedelta

import pytest
from django.utils import timezone

from groups import readiness
from groups.models import Cluster, Collection, Snapshot
from tests.databases import shared_database_url
from tests.web_server import HttpSession, WebServer, production_like_env

pytestmark = pytest.mark.integration

DEBUG_PAGE_MARKS = ("URLconf", "Traceback", "DEBUG = True", "Django tried these URL patterns", "clusters/<str:cluster>")


@pytest.fixture(scope="module")
def server(django_db_setup, redis_url, static_root, tmp_path_factory):
    state = tmp_path_factory.mktemp("production-pages")
    env = production_like_env(shared_database_url(), redis_url, static_root)
    env["TEST_ROOT_URLCONF"] = "tests.error_urls"
    web = WebServer(env, state / "web.log", workers=1, threads=2)
    try:
        yield web
    finally:
        web.stop()


def _assert_no_debug_page(body: str) -> None:
    for mark in DEBUG_PAGE_MARKS:
        assert mark not in body, f"{mark!r} in the page:\n{body[:3000]}"


def test_an_unknown_address_is_the_consoles_404_page_and_lists_no_routes(server, transactional_db):
    status, _, body = HttpSession().get(f"{server.url}/no/such/page/")

    assert status == 404
    assert "<h1>Not found</h1>" in body and "Back to the clusters" in body
    _assert_no_debug_page(body)


def test_a_missing_cluster_is_a_404_that_says_what_was_not_found(server, transactional_db, make_user):
    make_user("vera", "Viewer", password="vera-password-1")
    session = HttpSession()
    session.sign_in(server.url, "vera", "vera-password-1")

    status, _, body = session.get(f"{server.url}/clusters/nowhere/groups/")

    assert status == 404
    assert "<h1>Not found</h1>" in body and "nowhere" in body
    _assert_no_debug_page(body)


def test_a_page_the_role_does_not_allow_is_the_consoles_403_page_naming_the_missing_right(
    server, transactional_db, make_user
):
    Cluster.objects.create(name="local", bootstrap_servers="127.0.0.1:1")
    make_user("vic", "Viewer", password="vic-password-12")
    session = HttpSession()
    session.sign_in(server.url, "vic", "vic-password-12")

    status, _, body = session.get(f"{server.url}/clusters/local/reset/orders-app/")

    assert status == 403
    assert "<h1>Not allowed</h1>" in body and 'id="denied"' in body
    _assert_no_debug_page(body)


def test_an_unexpected_error_is_the_consoles_500_page_without_the_error(server, transactional_db):
    status, _, body = HttpSession().get(f"{server.url}/test-only/fail/")

    assert status == 500
    assert "The console hit an unexpected error" in body and "Nothing was changed" in body
    assert "hunter2" not in body and "UnexpectedFailure" not in body
    _assert_no_debug_page(body)
    # The operators get it in the log instead.
    assert "UnexpectedFailure" in server.log()


def test_static_files_come_from_whitenoise_under_hashed_names_cached_for_good(server, transactional_db):
    session = HttpSession()
    _, _, login = session.get(f"{server.url}/login/")
    stylesheet = re.search(r'href="(/static/groups/console\.[0-9a-f]{12}\.css)"', login)
    assert stylesheet, login[:2000]

    status, headers, body = session.get(f"{server.url}{stylesheet[1]}")

    assert status == 200 and ":root" in body
    assert "immutable" in headers["Cache-Control"]


def test_healthz_answers_without_a_sign_in(server, transactional_db):
    status, headers, body = HttpSession().get(f"{server.url}/healthz")

    assert status == 200 and json.loads(body) == {"alive": True}
    assert "no-cache" in headers["Cache-Control"]


def _snapshot(cluster: Cluster, age: timedelta) -> None:
    snapshot = Snapshot.objects.create(
        cluster=cluster,
        taken_at=timezone.now() - age,
        read_seconds=0.1,
        group_count=0,
        topic_count=0,
        partition_count=0,
    )
    Collection.objects.update_or_create(cluster=cluster, defaults={"snapshot": snapshot})


def test_readyz_is_ready_while_database_and_redis_answer_counts_stale_snapshots_and_names_none(
    server, transactional_db
):
    """A stale snapshot is counted, not a reason to leave rotation: the pages still serve it, marked stale."""
    session = HttpSession()
    secret_name = Cluster.objects.create(name="payments-prod-eu", bootstrap_servers="10.9.8.7:9092")

    status, _, body = session.get(f"{server.url}/readyz")
    assert status == 200, body
    assert json.loads(body) == {
        "ready": True,
        "database": True,
        "redis": True,
        "clusters": 1,
        "clusters_stale": 1,
        "oldest_snapshot_age_seconds": None,
    }

    _snapshot(secret_name, timedelta(seconds=5))
    status, _, body = session.get(f"{server.url}/readyz")
    assert status == 200 and json.loads(body)["clusters_stale"] == 0, body

    # A round failed since: the pages call the snapshot stale with the round's reason, and so does /readyz.
    Collection.objects.filter(cluster=secret_name).update(stale_reason="Kafka at 10.9.8.7:9092 did not answer.")
    status, _, body = session.get(f"{server.url}/readyz")
    assert status == 200 and json.loads(body)["clusters_stale"] == 1, body

    _snapshot(secret_name, timedelta(minutes=10))
    Collection.objects.filter(cluster=secret_name).update(stale_reason="")
    status, _, body = session.get(f"{server.url}/readyz")
    assert status == 200
    assert json.loads(body)["clusters_stale"] == 1 and json.loads(body)["oldest_snapshot_age_seconds"] >= 600
    for revealing in ("payments", "10.9.8.7", "9092"):
        assert revealing not in body


def test_a_cluster_collected_less_often_is_stale_only_after_three_of_its_periods(db):
    slow = Cluster.objects.create(name="archive", bootstrap_servers="127.0.0.1:1", collect_every_seconds=600)
    _snapshot(slow, timedelta(minutes=10))  # one period old: not stale
    ready = readiness.check()
    assert (ready.clusters, ready.clusters_stale) == (1, 0)
    _snapshot(slow, timedelta(minutes=31))  # three periods missed
    assert readiness.check().clusters_stale == 1


def test_readiness_reports_redis_down_when_it_does_not_answer(db, settings):
    from localkafka import free_ports

    (closed,) = free_ports(1)
    settings.REDIS_URL = f"redis://127.0.0.1:{closed}/0"

    state = readiness.check()

    assert state.database is True and state.redis is False and state.ready is False
