"""The JSON API's answers when things go wrong, and who may call it how: every failure is JSON with a code,
a token needs no CSRF token, a browser session does, a viewer may read but not act, and the schema and
its docs are served from this console (no CDN)."""

from __future__ import annotations

import re

import pytest
from django.test import Client

from groups import access
from groups.models import ApiToken, AuditEvent, Cluster, Operation
from groups.views.common import MAX_PAGE

pytestmark = [pytest.mark.integration, pytest.mark.django_db]


@pytest.fixture
def offline_cluster(db):
    """A registered cluster nobody listens for: the checks tested here refuse before Kafka is asked."""
    return Cluster.objects.create(name="offline", bootstrap_servers="127.0.0.1:9")


def _token_client(user) -> Client:
    return Client(headers={"Authorization": f"Token {ApiToken.issue(user)}"})


def _awaiting(cluster: Cluster, requester) -> Operation:
    return Operation.objects.create(
        kind=Operation.Kind.RESET,
        cluster=cluster,
        group_id="orders-app",
        plan=[],
        reason="catch up",
        requester=requester,
        status=Operation.Status.AWAITING_APPROVAL,
    )


@pytest.mark.parametrize("debug", [False, True], ids=["debug off", "debug on"])
def test_an_unknown_api_url_answers_json_404_even_with_debug_on(viewer_client, settings, debug):
    settings.DEBUG = debug
    response = viewer_client.get("/api/no-such-thing/")
    assert response.status_code == 404 and response["Content-Type"] == "application/json"
    assert response.json()["code"] == "NOT_FOUND"
    assert "<str:cluster>" not in response.content.decode()  # DEBUG's page would list every route


def test_a_missing_cluster_answers_json_404_naming_it(viewer_client):
    response = viewer_client.get("/api/clusters/nowhere/topics/")
    assert response.status_code == 404
    assert response.json() == {"error": "Cluster 'nowhere' is not registered in this console.", "code": "NOT_FOUND"}


def test_a_method_a_route_does_not_take_answers_json_405_with_allow(viewer_client):
    response = viewer_client.delete("/api/clusters/")
    assert response.status_code == 405 and response["Allow"] == "GET"
    assert response.json()["code"] == "METHOD_NOT_ALLOWED" and "use GET" in response.json()["error"]


def test_an_unexpected_failure_answers_json_500_without_a_traceback(viewer_client, offline_cluster, monkeypatch):
    def broken(*args, **kwargs):
        raise RuntimeError("secret internals")

    monkeypatch.setattr(access, "allowed", broken)
    response = viewer_client.get("/api/clusters/")
    assert response.status_code == 500
    assert response.json() == {"error": "The console failed unexpectedly; the error was logged.", "code": "INTERNAL"}


@pytest.mark.parametrize(
    ("url", "body", "said"),
    [
        ("reset-preview/orders-app/", {"value": "5"}, "strategy: Field required"),
        ("reset-preview/orders-app/", {"strategy": "bogus"}, "'bogus' is no strategy: choose one of to-earliest,"),
        # A misspelt scope ignored would preview (and reset) every partition: refused by name.
        ("reset-preview/orders-app/", {"strategy": "to-earliest", "scop": "orders:0"}, "unknown field 'scop'"),
        (
            "replay-preview/orders/",
            {"target_topic": "copy", "partitions": "0"},
            "partitions is given but partitions_mode is 'all', so it would be ignored: set partitions_mode to some",
        ),
        (
            "replay-preview/orders/",
            {"target_topic": "copy", "range_mode": "time", "offsets": "0:5"},
            "offsets is given but range_mode is 'time'",
        ),
    ],
)
def test_a_body_that_is_not_the_schema_answers_json_400_naming_the_field(make_user, offline_cluster, url, body, said):
    client = _token_client(make_user("op", "Admin"))
    response = client.post(f"/api/clusters/offline/{url}", body, content_type="application/json")
    assert response.status_code == 400
    assert response.json()["code"] == "BAD_REQUEST" and said in response.json()["error"], response.json()


def test_an_api_request_without_credentials_answers_json_401(client):
    response = client.get("/api/operations/")
    assert response.status_code == 401 and response.json()["code"] == "UNAUTHENTICATED"


def test_a_viewer_gets_403_json_on_acting_and_the_refusal_is_audited(make_user, offline_cluster):
    client = _token_client(make_user("watcher", "Viewer"))
    response = client.post(
        "/api/clusters/offline/reset-preview/orders-app/",
        {"strategy": "to-earliest"},
        content_type="application/json",
    )
    assert response.status_code == 403
    assert response.json() == {
        "error": access.refusal("reset", offline_cluster, "orders-app"),
        "code": "FORBIDDEN",
    }
    denied = AuditEvent.objects.filter(action="denied", actor="watcher").latest("id")
    assert denied.cluster == "offline" and denied.group_id == "orders-app"


def test_a_session_post_without_csrf_is_refused_and_one_with_it_or_a_token_is_accepted(make_user, offline_cluster):
    operator = make_user("op", "Operator")
    browser = Client(enforce_csrf_checks=True)
    browser.force_login(operator)
    first, second = _awaiting(offline_cluster, operator), _awaiting(offline_cluster, operator)

    refused = browser.post(f"/api/operations/{first.pk}/cancel/")
    assert refused.status_code == 403 and refused.json()["code"] == "CSRF_FAILED"
    first.refresh_from_db()
    assert first.status == Operation.Status.AWAITING_APPROVAL

    # The docs page carries the session's CSRF token (the cookie is HttpOnly) for "Try it out".
    docs = browser.get("/api/docs/").content.decode()
    csrf_token = re.search(r'data-csrf-token="([^"]+)"', docs).group(1)
    with_csrf = browser.post(f"/api/operations/{first.pk}/cancel/", headers={"X-CSRFToken": csrf_token})
    assert with_csrf.status_code == 200 and with_csrf.json()["status"] == Operation.Status.CANCELLED

    by_token = Client(enforce_csrf_checks=True, headers={"Authorization": f"Token {ApiToken.issue(operator)}"})
    accepted = by_token.post(f"/api/operations/{second.pk}/cancel/")
    assert accepted.status_code == 200 and accepted.json()["status"] == Operation.Status.CANCELLED
    assert AuditEvent.objects.filter(operation=second, actor="op").exists()


def test_the_schema_is_openapi_3_with_every_route_and_the_docs_load_nothing_from_elsewhere(viewer_client):
    schema = viewer_client.get("/api/schema/").json()
    assert schema["openapi"].startswith("3.")
    assert {
        "/api/clusters/{cluster}/groups/",
        "/api/clusters/{cluster}/reset-preview/{group}/",
        "/api/clusters/{cluster}/reset-request/{group}/",
        "/api/operations/{pk}/approve/",
        "/api/audit/export.json",
    } <= set(schema["paths"])
    docs = viewer_client.get("/api/docs/").content.decode()
    sources = re.findall(r'(?:src|href)="([^"]+)"', docs)
    assert sources and all(source.startswith("/static/") for source in sources), sources
    assert any("swagger-ui-bundle.js" in source for source in sources)


@pytest.mark.parametrize("url", ["/api/operations/", "/api/audit/"])
def test_a_page_number_past_any_list_answers_json_400_naming_the_range(make_user, url):
    client = _token_client(make_user("auditor", "Admin"))
    for page in ("99999999999999999999999", str(MAX_PAGE + 1), "9" * 5000):
        response = client.get(url, {"page": page})
        assert response.status_code == 400, response.content[:300]
        assert response.json()["code"] == "BAD_REQUEST"
        assert f"page must be a whole number from 1 to {MAX_PAGE}" in response.json()["error"]
    assert client.get(url, {"page": MAX_PAGE}).status_code == 200


@pytest.mark.parametrize("url", ["/audit/", "/my/requests/"])
def test_a_page_number_past_any_list_is_the_last_page_on_the_pages(client, make_user, url):
    client.force_login(make_user("auditor", "Admin"))
    for page in ("99999999999999999999999", "9" * 5000):
        response = client.get(url, {"page": page})
        assert response.status_code == 200 and response.context["page"].number == 1


def test_operations_filter_by_the_status_they_report_and_refuse_a_filter_they_do_not_know(make_user, offline_cluster):
    client = _token_client(make_user("auditor", "Admin"))
    done = Operation.objects.create(
        kind=Operation.Kind.RESET, cluster=offline_cluster, group_id="orders-app", plan=[], status="succeeded"
    )
    _awaiting(offline_cluster, make_user("op", "Operator"))
    for name in ("status", "state"):
        listed = client.get("/api/operations/", {name: "succeeded"}).json()["operations"]
        assert [(o["id"], o["status"]) for o in listed] == [(done.pk, "succeeded")], name
    refused = client.get("/api/operations/", {"stauts": "succeeded"})
    assert refused.status_code == 400 and "unknown field 'stauts'" in refused.json()["error"]
