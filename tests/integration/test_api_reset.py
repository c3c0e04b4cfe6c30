"""A reset done through the JSON API, against the real broker and worker: it plans what the reset page plans
and what Apache Kafka's own `kafka-consumer-groups --reset-offsets --dry-run` plans, the worker applies it,
undo puts the offsets back, and on a cluster that requires approval a second person must approve it."""

from __future__ import annotations

import re
import time

import pytest
from django.core import signing
from django.test import Client
from django.urls import reverse

from groups.models import ApiToken, AuditEvent, Operation
from groups.views import resets as reset_pages
from localkafka.broker import run_tool
from tests import kafkatools as kt

pytestmark = pytest.mark.integration

LOG_ENDS = {0: 20, 1: 10, 2: 40}
COMMITTED = {0: 12, 1: 7, 2: 35}
LOG_START_2 = 30  # records deleted below it, so a shift back on partition 2 is clamped there


@pytest.fixture
def lagging(kafka_bootstrap, unique):
    topic, group = unique("api-reset"), unique("api-reset-group")
    kt.create_topic(kafka_bootstrap, topic, len(LOG_ENDS))
    kt.produce(kafka_bootstrap, topic, LOG_ENDS)
    kt.delete_records(kafka_bootstrap, topic, 2, before=LOG_START_2)
    kt.commit(kafka_bootstrap, group, {(topic, p): offset for p, offset in COMMITTED.items()})
    return topic, group


def _api(user) -> Client:
    return Client(headers={"Authorization": f"Token {ApiToken.issue(user)}"})


def _post(client: Client, url: str, body: dict):
    return client.post(url, body, content_type="application/json")


def _plan(rows: list[dict]) -> dict[tuple[str, int], int]:
    return {(row["topic"], row["partition"]): row["after"] for row in rows}


def _tool_plan(bootstrap: str, group: str, *args: str) -> dict[tuple[str, int], int]:
    """What `kafka-consumer-groups --reset-offsets ... --dry-run` would commit, from its table."""
    result = run_tool("consumer-groups", ["--reset-offsets", "--group", group, *args, "--dry-run"], bootstrap)
    assert result.returncode == 0 and "Error" not in result.stdout, result.stdout + result.stderr
    header, plan = None, {}
    for fields in (line.split() for line in result.stdout.splitlines()):
        if fields and fields[0] == "GROUP":
            header = fields
        elif header and len(fields) == len(header):
            row = dict(zip(header, fields))
            plan[(row["TOPIC"], int(row["PARTITION"]))] = int(row["NEW-OFFSET"])
    return plan


def _page_plan(user, group: str, form: dict) -> dict[tuple[str, int], int]:
    """The plan the reset page previews, read from the confirmation token it signs."""
    browser = Client()
    browser.force_login(user)
    page = browser.post(reverse("reset_preview", args=["local", group]), form)
    assert page.status_code == 200, page.content.decode()
    token = re.search(r'name="token" value="([^"]+)"', page.content.decode()).group(1)
    return _plan(signing.loads(token, salt=reset_pages.TOKEN_SALT)["plan"])


def _finished(client: Client, operation_id: int, timeout: float = 60) -> dict:
    """The operation as the API shows it once the worker is done with it."""
    deadline = time.monotonic() + timeout
    while True:
        answer = client.get(f"/api/operations/{operation_id}/").json()
        if answer["status"] in ("succeeded", "failed", "cancelled") or time.monotonic() > deadline:
            return answer
        time.sleep(0.3)


def _request(client: Client, group: str, body: dict, reason: str) -> dict:
    preview = _post(client, f"/api/clusters/local/reset-preview/{group}/", body)
    assert preview.status_code == 200, preview.json()
    assert preview.json()["token"] and preview.json()["blocked_reason"] is None
    requested = _post(client, preview.json()["request_url"], {"token": preview.json()["token"], "reason": reason})
    assert requested.status_code == 201, requested.json()
    return requested.json()


def test_an_api_reset_plans_what_the_page_and_the_kafka_tool_plan_and_the_worker_applies_it(
    celery_worker, cluster, lagging, make_user, kafka_bootstrap
):
    topic, group = lagging
    operator = make_user("api-operator", "Operator")
    client = _api(operator)

    preview = _post(
        client,
        f"/api/clusters/local/reset-preview/{group}/",
        {"strategy": "shift-by", "value": "-8", "scope": f"{topic}:0,2"},
    ).json()
    api_plan = _plan(preview["plan"])
    assert api_plan == {(topic, 0): 4, (topic, 2): LOG_START_2}
    assert api_plan == _page_plan(
        operator, group, {"strategy": "shift-by", "value": "-8", "scope_mode": "topics", "scope": f"{topic}:0,2"}
    )
    assert api_plan == _tool_plan(kafka_bootstrap, group, "--topic", f"{topic}:0,2", "--shift-by", "-8")
    # As on the page: the record each partition reads first after the reset, its offset the planned one.
    first = preview["first_records"]
    assert (first["error"], first["refused"]) == ("", "")
    assert [(r["topic"], r["partition"], r["state"], r["record_offset"]) for r in first["rows"]] == [
        (topic, 0, "record", 4),
        (topic, 2, "record", LOG_START_2),
    ]
    assert [(r["key"], r["value"]) for r in first["rows"]] == [("k4", "v4"), ("k30", "v30")]  # as produced
    assert all(r["timestamp_ms"] > 0 for r in first["rows"])

    requested = _post(
        client, preview["request_url"], {"token": preview["token"], "reason": "re-read after the bad deploy"}
    )
    assert requested.status_code == 201
    operation = requested.json()
    assert operation["requested_via"] == "api" and operation["requester"] == "api-operator"
    assert _finished(client, operation["id"])["status"] == "succeeded"
    assert kt.committed(kafka_bootstrap, group, topic) == {0: 4, 1: COMMITTED[1], 2: LOG_START_2}
    assert AuditEvent.objects.filter(
        operation_id=operation["id"], action="requested", actor="api-operator", reason="re-read after the bad deploy"
    ).exists()

    undo = _post(client, f"/api/operations/{operation['id']}/undo-preview/", {}).json()
    assert _plan(undo["plan"]) == {(topic, 0): COMMITTED[0], (topic, 2): COMMITTED[2]}
    undone = _post(client, undo["request_url"], {"token": undo["token"], "reason": "put it back"}).json()
    assert undone["undo_of"] == operation["id"]
    assert _finished(client, undone["id"])["status"] == "succeeded"
    assert kt.committed(kafka_bootstrap, group, topic) == COMMITTED
    again = _post(client, f"/api/operations/{operation['id']}/undo-preview/", {})
    assert again.status_code == 400 and again.json()["code"] == "CANNOT_UNDO"


def test_a_token_that_was_altered_or_is_for_another_group_requests_nothing(cluster, lagging, make_user):
    topic, group = lagging
    client = _api(make_user("api-operator", "Operator"))
    preview = _post(client, f"/api/clusters/local/reset-preview/{group}/", {"strategy": "to-earliest"}).json()
    for url, token in [
        (preview["request_url"], preview["token"][:-2] + "xx"),
        (f"/api/clusters/local/reset-request/{group}-other/", preview["token"]),
    ]:
        refused = _post(client, url, {"token": token, "reason": "try"})
        assert refused.status_code == 400 and refused.json()["code"] == "PREVIEW_EXPIRED"
    missing_reason = _post(client, preview["request_url"], {"token": preview["token"], "reason": " "})
    assert missing_reason.status_code == 400 and "reason" in missing_reason.json()["error"].lower()
    assert not Operation.objects.filter(group_id=group).exists()


def test_a_preview_confirmed_twice_requests_once(cluster, lagging, make_user, django_capture_on_commit_callbacks):
    _, group = lagging
    client = _api(make_user("api-operator", "Operator"))
    preview = _post(client, f"/api/clusters/local/reset-preview/{group}/", {"strategy": "to-earliest"}).json()
    with django_capture_on_commit_callbacks():  # queued, not run: the second request must not depend on it
        first = _post(client, preview["request_url"], {"token": preview["token"], "reason": "re-read"})
        again = _post(client, preview["request_url"], {"token": preview["token"], "reason": "re-read"})
    assert first.status_code == 201
    operation = first.json()["id"]
    assert again.status_code == 409 and again.json()["error"] == (
        f"This preview was already requested as operation #{operation}: nothing more was requested. "
        "Open that operation, or preview again to ask for another change."
    )
    assert list(Operation.objects.filter(group_id=group).values_list("pk", flat=True)) == [operation]
    # A new preview of the same plan is another request.
    fresh = _post(client, f"/api/clusters/local/reset-preview/{group}/", {"strategy": "to-earliest"}).json()
    with django_capture_on_commit_callbacks():
        assert _post(client, fresh["request_url"], {"token": fresh["token"], "reason": "re-read"}).status_code == 201


def test_an_api_request_on_an_approval_cluster_needs_another_approver(
    celery_worker, cluster, lagging, make_user, kafka_bootstrap
):
    topic, group = lagging
    cluster.require_approval = True
    cluster.save()
    operator = _api(make_user("api-operator", "Operator"))
    approver = _api(make_user("api-approver", "Approver"))
    viewer = _api(make_user("api-viewer", "Viewer"))

    operation = _request(operator, group, {"strategy": "to-earliest"}, "start over")
    assert operation["status"] == "awaiting_approval"

    own = _post(operator, f"/api/operations/{operation['id']}/approve/", {"comment": "looks fine"})
    assert own.status_code == 403 and own.json()["code"] == "FORBIDDEN"
    assert viewer.get("/api/approvals/").status_code == 403
    assert operation["id"] in [o["id"] for o in approver.get("/api/approvals/").json()["operations"]]
    assert _post(approver, f"/api/operations/{operation['id']}/reject/", {}).json()["code"] == "BAD_REQUEST"

    approved = _post(approver, f"/api/operations/{operation['id']}/approve/", {"comment": "checked the plan"})
    assert approved.status_code == 200 and approved.json()["decided_by"] == "api-approver"
    assert _finished(approver, operation["id"])["status"] == "succeeded"
    assert kt.committed(kafka_bootstrap, group, topic) == {0: 0, 1: 0, 2: LOG_START_2}
    story = list(AuditEvent.objects.filter(operation_id=operation["id"]).order_by("id").values_list("action", "actor"))
    assert story[:2] == [("requested", "api-operator"), ("approved", "api-approver")]
    assert AuditEvent.objects.filter(action="denied", actor="api-operator", group_id=group).exists()
    again = _post(approver, f"/api/operations/{operation['id']}/approve/", {"comment": "twice"})
    assert again.status_code == 409 and again.json()["code"] == "CONFLICT"


def test_an_offset_or_a_shift_may_be_a_json_integer_as_well_as_text(cluster, lagging, make_user):
    topic, group = lagging
    client = _api(make_user("api-operator", "Operator"))
    url = f"/api/clusters/local/reset-preview/{group}/"
    for number, text in ((5, "5"), (-8, "-8")):
        strategy = "to-offset" if number > 0 else "shift-by"
        as_number = _post(client, url, {"strategy": strategy, "value": number, "scope": f"{topic}:0"})
        assert as_number.status_code == 200, as_number.json()
        as_text = _post(client, url, {"strategy": strategy, "value": text, "scope": f"{topic}:0"}).json()
        assert _plan(as_number.json()["plan"]) == _plan(as_text["plan"]) == {(topic, 0): 5 if number > 0 else 4}
    refused = _post(client, url, {"strategy": "to-offset", "value": True, "scope": f"{topic}:0"})
    assert refused.status_code == 400 and "value" in refused.json()["error"]
