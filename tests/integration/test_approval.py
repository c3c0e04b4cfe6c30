"""Four-eyes approval against the real broker: who may decide, expiry, rejection, drift, and a real worker
running what was approved."""

import html
import re
from datetime import timedelta
from io import StringIO

import pytest
from django.core.management import call_command
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from console.celery import app
from groups import tasks
from groups.kafka import TP, client_for
from groups.models import AuditEvent, Grant, Operation
from groups.operations import approvals, resets
from tests import kafkatools as kt

pytestmark = pytest.mark.integration

COMMITTED = {0: 30, 1: 38}


@pytest.fixture
def approval_cluster(cluster):
    cluster.require_approval = True
    cluster.save()
    return cluster


@pytest.fixture
def users(make_user):
    return {
        name: make_user(name, role)
        for name, role in [("operator", "Operator"), ("approver", "Approver"), ("viewer", "Viewer"), ("admin", "Admin")]
    }


@pytest.fixture
def as_user(users):
    def signed_in(name: str) -> Client:
        client = Client()
        client.force_login(users[name])
        return client

    return signed_in


@pytest.fixture
def lagging_group(kafka_bootstrap, unique):
    topic, group = unique("approval"), unique("approval-group")
    kt.create_topic(kafka_bootstrap, topic, 2)
    kt.produce(kafka_bootstrap, topic, {0: 50, 1: 40})
    kt.commit(kafka_bootstrap, group, {(topic, p): offset for p, offset in COMMITTED.items()})
    return topic, group


def _committed(cluster, group) -> dict:
    return client_for(cluster).committed_offsets([group])[group]


def _untouched(cluster, topic, group) -> bool:
    return _committed(cluster, group) == {TP(topic, p): offset for p, offset in COMMITTED.items()}


def _request(client: Client, group: str, strategy: str = "to-earliest", value: str = "") -> Operation:
    """Preview and confirm on the web, as the client's user; the operation it created."""
    previewed = client.post(
        reverse("reset_preview", args=["local", group]), {"strategy": strategy, "value": value, "scope_mode": "all"}
    )
    token = re.search(r'name="token" value="([^"]+)"', previewed.content.decode()).group(1)
    confirmed = client.post(
        reverse("reset_confirm", args=["local", group]), {"token": token, "reason": "replay after the fix"}
    )
    assert confirmed.status_code == 302
    return Operation.objects.get(pk=int(confirmed.url.rstrip("/").rsplit("/", 1)[1]))


def _decide(client: Client, decision: str, operation: Operation, comment: str = "checked the plan"):
    return client.post(reverse(f"{decision}_operation", args=[operation.pk]), {"comment": comment})


def _story(operation: Operation) -> list[tuple[str, str]]:
    return list(operation.events.order_by("id").values_list("action", "actor"))


def _page(client: Client, operation: Operation) -> str:
    response = client.get(reverse("operation_page", args=[operation.pk]))
    assert response.status_code == 200
    return response.content.decode()


def _row(body: str, topic: str, partition: int) -> str:
    match = re.search(rf'<tr data-tp="{re.escape(topic)}-{partition}"[^>]*>(.*?)</tr>', body, re.S)
    assert match, f"no row for {topic}-{partition}"
    return match.group(0)


def test_a_request_on_a_cluster_requiring_approval_waits_and_no_worker_is_asked_to_run_it(
    approval_cluster, lagging_group, as_user, django_capture_on_commit_callbacks
):
    topic, group = lagging_group
    operator = as_user("operator")
    with django_capture_on_commit_callbacks() as callbacks:
        operation = _request(operator, group)
    assert callbacks == []
    assert operation.status == "awaiting_approval"
    assert abs(operation.expires_at - (operation.created + timedelta(minutes=60))) < timedelta(seconds=5)
    assert list(operation.events.values_list("action", "actor", "outcome")) == [
        ("requested", "operator", "awaiting_approval")
    ]

    page = _page(operator, operation)
    expires = f"{operation.expires_at:%Y-%m-%d %H:%M:%S}"
    # Times are written in UTC for pages without JavaScript, marked up for times.js to show in the reader's zone.
    assert "Awaiting approval by another user with the Approver role, until <time datetime=" in page
    assert f'title="{expires} UTC" data-when="at">{expires} UTC</time>' in page
    assert (
        f"You requested operation #{operation.pk}, so another user with the Approver role must approve or reject it."
    ) in page
    assert 'id="cancel-form"' in page and 'id="decision-form"' not in page

    # What a worker would do if the task reached it anyway: its claim takes only pending operations.
    resets.run_operation(operation.pk)
    operation.refresh_from_db()
    assert operation.status == "awaiting_approval" and operation.started is None
    assert _untouched(approval_cluster, topic, group)


def test_the_requester_cannot_approve_their_own_request_even_with_the_right_to(
    approval_cluster, lagging_group, as_user
):
    topic, group = lagging_group
    admin = as_user("admin")
    operation = _request(admin, group)
    assert 'id="decision-form"' not in _page(admin, operation)
    for decision in ("approve", "reject"):
        response = _decide(admin, decision, operation)
        assert response.status_code == 403
        assert (
            f"You requested operation #{operation.pk}, so another user with the Approver role must approve "
            "or reject it."
        ) in html.unescape(response.content.decode())
    operation.refresh_from_db()
    assert operation.status == "awaiting_approval" and operation.decided_by is None
    assert [(action, actor) for action, actor in _story(operation)] == [
        ("requested", "admin"),
        ("denied", "admin"),
        ("denied", "admin"),
    ]
    denial = operation.events.filter(action="denied").first()
    assert (denial.group_id, denial.outcome) == (group, "denied") and "You requested" in denial.error
    resets.run_operation(operation.pk)
    assert _untouched(approval_cluster, topic, group)


def test_a_viewer_cannot_approve_or_reject_and_the_denial_is_recorded(approval_cluster, lagging_group, as_user):
    _, group = lagging_group
    operation = _request(as_user("operator"), group)
    viewer = as_user("viewer")
    assert "You may not approve operations on group" in html.unescape(_page(viewer, operation))
    for decision in ("approve", "reject"):
        response = _decide(viewer, decision, operation)
        assert response.status_code == 403
        assert "ask an admin for the Approver role on it" in html.unescape(response.content.decode())
    denials = AuditEvent.objects.filter(action="denied", actor="viewer")
    assert list(denials.values_list("cluster", "group_id")) == [("local", group)] * 2
    operation.refresh_from_db()
    assert operation.status == "awaiting_approval"


def test_an_approver_rejects_with_a_comment_and_nothing_is_written_to_kafka(
    approval_cluster, lagging_group, as_user, users, django_capture_on_commit_callbacks
):
    topic, group = lagging_group
    operation = _request(as_user("operator"), group)
    approver = as_user("approver")
    missing = _decide(approver, "reject", operation, comment="  ")
    assert missing.status_code == 400 and "Write a comment" in missing.content.decode()
    operation.refresh_from_db()
    assert operation.status == "awaiting_approval"

    with django_capture_on_commit_callbacks() as callbacks:
        assert _decide(approver, "reject", operation, comment="wrong group, use the v2 one").status_code == 302
    assert callbacks == []
    operation.refresh_from_db()
    assert (operation.status, operation.decision, operation.decided_by) == ("cancelled", "rejected", users["approver"])
    assert operation.decision_comment == "wrong group, use the v2 one"
    assert _story(operation) == [("requested", "operator"), ("rejected", "approver")]
    assert operation.events.get(action="rejected").reason == "wrong group, use the v2 one"
    page = _page(approver, operation)
    assert "Rejected by approver at" in page and "wrong group, use the v2 one" in page
    assert 'id="approval"' not in page

    late = _decide(approver, "approve", operation)
    assert late.status_code == 409
    assert (
        f"Operation #{operation.pk} is no longer awaiting approval: it is cancelled. approver rejected it at"
        in late.content.decode()
    )
    resets.run_operation(operation.pk)
    assert _untouched(approval_cluster, topic, group)


def test_an_unanswered_request_expires_on_the_sweep_and_cannot_be_approved_afterwards(
    approval_cluster, lagging_group, as_user
):
    topic, group = lagging_group
    operation = _request(as_user("operator"), group)
    other = _request(as_user("operator"), group)
    Operation.objects.filter(pk=operation.pk).update(expires_at=timezone.now() - timedelta(seconds=1))
    approver = as_user("approver")
    assert f'data-operation="{operation.pk}"' not in approver.get(reverse("approval_list")).content.decode()

    assert tasks.expire_approval_requests() == [operation.pk]
    assert tasks.expire_approval_requests() == []
    operation.refresh_from_db()
    assert (operation.status, operation.decision) == ("cancelled", "expired")
    assert "expired and nothing was changed" in operation.error
    assert _story(operation) == [("requested", "operator"), ("expired", "console")]
    other.refresh_from_db()
    assert other.status == "awaiting_approval"

    response = _decide(approver, "approve", operation)
    assert response.status_code == 409
    assert "is no longer awaiting approval: it is cancelled. No one approved or rejected this request" in (
        response.content.decode()
    )
    assert _story(operation) == [("requested", "operator"), ("expired", "console")]
    assert _untouched(approval_cluster, topic, group)


def test_approving_past_the_expiry_is_refused_even_before_the_sweep_ran(approval_cluster, lagging_group, as_user):
    topic, group = lagging_group
    operation = _request(as_user("operator"), group)
    Operation.objects.filter(pk=operation.pk).update(expires_at=timezone.now() - timedelta(seconds=1))
    response = _decide(as_user("approver"), "approve", operation)
    assert response.status_code == 409 and "expired and nothing was changed" in response.content.decode()
    operation.refresh_from_db()
    assert operation.status == "cancelled"
    assert _story(operation) == [("requested", "operator"), ("expired", "console")]
    assert _untouched(approval_cluster, topic, group)


def test_the_expiry_sweep_runs_every_minute():
    entry = app.conf.beat_schedule["expire-approval-requests"]
    assert entry == {"task": tasks.expire_approval_requests.name, "schedule": 60.0}


def test_only_the_requester_may_cancel_an_awaiting_request(approval_cluster, lagging_group, as_user, users):
    _, group = lagging_group
    operator = as_user("operator")
    operation = _request(operator, group)
    refused = as_user("approver").post(reverse("cancel_operation", args=[operation.pk]))
    assert refused.status_code == 403
    assert "Only operator, who requested operation" in refused.content.decode()
    assert operator.post(reverse("cancel_operation", args=[operation.pk])).status_code == 302
    operation.refresh_from_db()
    assert (operation.status, operation.decision, operation.decided_by) == ("cancelled", "cancelled", users["operator"])
    assert _story(operation) == [("requested", "operator"), ("denied", "approver"), ("cancelled", "operator")]
    assert "Cancelled by operator at" in _page(operator, operation)


def test_a_request_whose_offsets_moved_shows_the_drift_and_cannot_be_approved(
    approval_cluster, lagging_group, as_user, kafka_bootstrap
):
    topic, group = lagging_group
    operation = _request(as_user("operator"), group)
    kt.commit(kafka_bootstrap, group, {(topic, 0): 35, (topic, 1): 38})
    approver = as_user("approver")
    page = _page(approver, operation)
    moved = _row(page, topic, 0)
    assert 'class="moved"' in moved and "committed offset moved</strong>: 30 at request, 35 now" in moved
    assert 'class="moved"' not in _row(page, topic, 1) and "unchanged" in _row(page, topic, 1)
    assert 'id="approval-blocked"' in page and "moved on 1 partition since the request" in page
    assert '<button type="submit" class="primary" disabled>Approve</button>' in page

    response = _decide(approver, "approve", operation)
    assert response.status_code == 409
    assert "so a worker would refuse this plan. Reject it" in response.content.decode()
    operation.refresh_from_db()
    assert operation.status == "awaiting_approval"
    assert _decide(approver, "reject", operation, comment="offsets moved").status_code == 302
    assert _story(operation) == [("requested", "operator"), ("rejected", "approver")]


def test_a_request_whose_requester_lost_the_right_says_so_and_cannot_be_approved(
    approval_cluster, lagging_group, as_user, users
):
    topic, group = lagging_group
    operation = _request(as_user("operator"), group)
    Grant.objects.filter(user=users["operator"]).update(role="Viewer")
    approver = as_user("approver")
    lost = (
        f"Its requester no longer holds the right to this: operator may not reset offsets of group '{group}' on "
        "cluster 'local': ask an admin for the Operator role on it. A worker checks the requester's rights again "
        "before it runs, so approving would be refused. Reject it, or ask an admin to restore the requester's "
        "grant and approve it then."
    )
    page = html.unescape(_page(approver, operation))
    assert f'<div class="alert error" role="alert" id="approval-blocked">{lost}</div>' in page
    assert '<button type="submit" class="primary" disabled>Approve</button>' in page

    response = _decide(approver, "approve", operation)
    assert response.status_code == 409 and lost in html.unescape(response.content.decode())
    operation.refresh_from_db()
    assert operation.status == "awaiting_approval"
    listed = html.unescape(approver.get(reverse("approval_list")).content.decode())
    row = re.search(rf'<tr data-operation="{operation.pk}">.*?</tr>', listed, re.S).group(0)
    assert "Its requester no longer holds the right to this, so approving would be refused: reject it" in row
    assert _story(operation) == [("requested", "operator")], "telling the approver records nothing"


def test_an_active_group_cannot_be_approved_until_its_consumers_stop(
    approval_cluster, lagging_group, as_user, kafka_bootstrap
):
    topic, group = lagging_group
    operation = _request(as_user("operator"), group)
    member = kt.Member(kafka_bootstrap, group, [topic], client_id="approval-live-app")
    try:
        member.wait_assigned()
        approver = as_user("approver")
        assert "a worker would refuse. Approve once its consumers are stopped" in _page(approver, operation)
        assert _decide(approver, "approve", operation).status_code == 409
    finally:
        member.stop()
    operation.refresh_from_db()
    assert operation.status == "awaiting_approval"


def test_a_request_the_strategy_would_now_plan_differently_is_approved_as_requested(
    approval_cluster, lagging_group, as_user, kafka_bootstrap, users, django_capture_on_commit_callbacks
):
    topic, group = lagging_group
    operation = _request(as_user("operator"), group, "to-latest")
    kt.produce(kafka_bootstrap, topic, {0: 5})
    approver = as_user("approver")
    page = _page(approver, operation)
    assert 'id="review-differs"' in page and "would differ on 1 partition" in page
    assert "planned now: 55 instead of 50" in _row(page, topic, 0)
    assert 'id="approval-blocked"' not in page
    url = reverse("operation_page", args=[operation.pk])
    oob = '<section id="approval" hx-swap-oob="true" hidden>'
    assert oob not in approver.get(url, HTTP_HX_REQUEST="true").content.decode()

    with django_capture_on_commit_callbacks() as callbacks:
        assert _decide(approver, "approve", operation).status_code == 302
    assert len(callbacks) == 1
    operation.refresh_from_db()
    assert (operation.status, operation.decided_by) == ("pending", users["approver"])
    assert [row["after"] for row in operation.plan] == [50, 40]
    # Another approver's open page drops its now useless decision form on its next poll.
    assert oob in as_user("admin").get(url, HTTP_HX_REQUEST="true").content.decode()


def test_an_approved_request_is_run_by_the_worker_and_the_audit_tells_the_whole_story(
    celery_worker, approval_cluster, lagging_group, as_user
):
    topic, group = lagging_group
    operation = _request(as_user("operator"), group, "shift-by", "-10")
    approver = as_user("approver")
    page = _page(approver, operation)
    assert 'id="review-current"' in page and 'id="decision-form"' in page
    assert "<strong>committed offset moved" not in page

    assert _decide(approver, "approve", operation, comment="looks right, go").status_code == 302

    def final():
        operation.refresh_from_db()
        return operation.is_final

    kt.wait_for(final, timeout=60, what="the worker to run the approved operation")
    assert operation.status == "succeeded", operation.error
    assert _committed(approval_cluster, group) == {TP(r["topic"], r["partition"]): r["after"] for r in operation.plan}
    assert _committed(approval_cluster, group) == {TP(topic, 0): 20, TP(topic, 1): 28}
    assert _story(operation) == [
        ("requested", "operator"),
        ("approved", "approver"),
        ("started", "worker"),
        ("succeeded", "worker"),
    ]
    assert operation.events.get(action="approved").reason == "looks right, go"
    assert "Approved by approver at" in _page(approver, operation)


def test_a_group_deletion_waits_for_approval_too(
    approval_cluster, lagging_group, as_user, users, django_capture_on_commit_callbacks
):
    topic, group = lagging_group
    admin = as_user("admin")
    form = admin.get(reverse("delete_group", args=["local", group])).content.decode()
    assert "Request deletion" in form
    with django_capture_on_commit_callbacks() as callbacks:
        response = admin.post(
            reverse("delete_group", args=["local", group]), {"reason": "retired", "confirm_group": group}
        )
    assert response.status_code == 302 and callbacks == []
    operation = Operation.objects.get(kind=Operation.Kind.DELETE_GROUP)
    assert operation.status == "awaiting_approval"
    approver = as_user("approver")
    assert "Approving deletes the group" in _page(approver, operation)
    with django_capture_on_commit_callbacks() as callbacks:
        assert _decide(approver, "approve", operation).status_code == 302
    assert len(callbacks) == 1
    operation.refresh_from_db()
    assert operation.status == "pending"
    assert _untouched(approval_cluster, topic, group)


def test_the_approvals_page_lists_what_the_user_may_approve_and_never_their_own(
    approval_cluster, as_user, make_user, unique, users
):
    payments, other = unique("payments"), unique("other")
    scoped = make_user("scoped", "Approver", pattern="payments-*")

    def awaiting(group, requester):
        # A plan that changes something: one that changes nothing cannot be requested.
        plan = [
            {
                "topic": "t",
                "partition": 0,
                "before": 5,
                "after": 0,
                "log_start": 0,
                "log_end": 9,
                "clamped": None,
                "note": None,
            }
        ]
        return resets.request_operation(
            cluster=approval_cluster,
            group_id=group,
            kind=Operation.Kind.RESET,
            plan=plan,
            reason="test",
            actor=requester.username,
            requester=requester,
        )

    theirs, elsewhere, own = (
        awaiting(payments, users["operator"]),
        awaiting(other, users["operator"]),
        awaiting(payments, scoped),
    )
    client = Client()
    client.force_login(scoped)
    page = client.get(reverse("approval_list"))
    assert page.status_code == 200
    listed = [operation.pk for operation in page.context["operations"]]
    assert listed == [theirs.pk]
    body = page.content.decode()
    assert 'id="approvals-link"' in body and f'href="{reverse("operation_page", args=[theirs.pk])}"' in body
    assert {elsewhere.pk, own.pk}.isdisjoint(listed)
    assert [op.pk for op in approvals.awaiting_for(users["approver"])] == [theirs.pk, elsewhere.pk, own.pk]
    # A request that also deletes a streams application's internal topics says so in the list, not only below.
    assert "internal topic" not in body
    Operation.objects.filter(pk=theirs.pk).update(
        internal_topics=[{"topic": f"{payments}-store-changelog", "partitions": 1}]
    )
    assert "and deletes 1 internal topic of the application" in client.get(reverse("approval_list")).content.decode()

    operator = as_user("operator")
    assert operator.get(reverse("approval_list")).status_code == 403
    assert 'id="approvals-link"' not in operator.get(reverse("cluster_list")).content.decode()


def test_the_cli_records_an_awaiting_request_and_runs_nothing(approval_cluster, lagging_group, users):
    topic, group = lagging_group
    out = StringIO()
    call_command(
        "reset_offsets",
        "--cluster",
        "local",
        "--group",
        group,
        "--as",
        "operator",
        "--all-topics",
        "--to-earliest",
        "--execute",
        "--reason",
        "from the shell",
        stdout=out,
    )
    operation = Operation.objects.get()
    assert operation.status == "awaiting_approval" and operation.requested_via == "cli"
    assert f"Operation #{operation.pk} is awaiting approval" in out.getvalue()
    assert _story(operation) == [("requested", "operator")]
    assert _untouched(approval_cluster, topic, group)


def test_an_undo_awaits_approval_and_is_checked_against_the_offsets_it_puts_back(
    approval_cluster, lagging_group, as_user, users, django_capture_on_commit_callbacks
):
    topic, group = lagging_group
    done = Operation.objects.create(
        kind=Operation.Kind.RESET,
        cluster=approval_cluster,
        group_id=group,
        reason="earlier",
        status=Operation.Status.SUCCEEDED,
        strategy="to-earliest",
        requester=users["operator"],
        plan=[
            {
                "topic": topic,
                "partition": p,
                "before": before,
                "after": COMMITTED[p],
                "log_start": 0,
                "log_end": 50,
                "clamped": None,
                "note": None,
            }
            for p, before in {0: 25, 1: 33}.items()
        ],
    )
    operator = as_user("operator")
    previewed = operator.get(reverse("reset_form", args=["local", group]), {"undo": done.pk}).content.decode()
    assert "Request approval" in previewed
    token = re.search(r'name="token" value="([^"]+)"', previewed).group(1)
    assert (
        operator.post(
            reverse("reset_confirm", args=["local", group]), {"token": token, "reason": "put it back"}
        ).status_code
        == 302
    )
    undo = Operation.objects.get(undo_of=done)
    assert undo.status == "awaiting_approval"
    assert list(undo.events.values_list("action", flat=True)) == ["undo_requested"]

    approver = as_user("approver")
    page = _page(approver, undo)
    assert 'id="review-current"' in page
    assert '<td class="num after-now">25</td>' in _row(page, topic, 0)
    with django_capture_on_commit_callbacks() as callbacks:
        assert _decide(approver, "approve", undo).status_code == 302
    assert len(callbacks) == 1
    undo.refresh_from_db()
    assert undo.status == "pending"
