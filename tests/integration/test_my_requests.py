"""My requests: every user follows their own operations from request to outcome, approvers the requests they
decided; and a refused page leads back where the user came from."""

import html
import re

import pytest
from django.test import Client
from django.urls import reverse

from groups.models import Operation
from groups.operations import resets
from tests import kafkatools as kt

pytestmark = pytest.mark.integration


@pytest.fixture
def lagging_group(kafka_bootstrap, unique):
    topic, group = unique("my-requests"), unique("my-requests-group")
    kt.create_topic(kafka_bootstrap, topic, 1)
    kt.produce(kafka_bootstrap, topic, {0: 30})
    kt.commit(kafka_bootstrap, group, {(topic, 0): 20})
    return topic, group


def _signed_in(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def _table(page: str, table_id: str) -> list[int]:
    """The operations a table of the page lists, in order; [] when the page has no such table."""
    match = re.search(rf'<table id="{table_id}">(.*?)</table>', page, re.S)
    return [int(pk) for pk in re.findall(r'data-operation="(\d+)"', match.group(1))] if match else []


def _row(page: str, operation: Operation) -> str:
    return re.search(rf'<tr data-operation="{operation.pk}">(.*?)</tr>', page, re.S).group(1)


def _plan(topic: str) -> list[dict]:
    return [
        {
            "topic": topic,
            "partition": 0,
            "before": 20,
            "after": 0,
            "log_start": 0,
            "log_end": 30,
            "clamped": None,
            "note": None,
        }
    ]


def _request(cluster, group, topic, user, kind=Operation.Kind.RESET, **fields) -> Operation:
    return Operation.objects.create(
        kind=kind,
        cluster=cluster,
        group_id=group,
        plan=_plan(topic),
        strategy="to-earliest",
        reason="test",
        requester=user,
        **fields,
    )


def test_an_operator_follows_a_request_from_awaiting_approval_to_done_and_the_approver_sees_their_decision(
    cluster, celery_worker, make_user, lagging_group
):
    topic, group = lagging_group
    cluster.require_approval = True
    cluster.save()
    operator, approver = make_user("operator", "Operator"), make_user("approver", "Approver")
    others = resets.request_operation(
        cluster=cluster,
        group_id=group,
        kind=Operation.Kind.RESET,
        plan=_plan(topic),
        reason="not theirs",
        actor="someone",
        requester=make_user("someone", "Operator"),
    )
    as_operator, as_approver = _signed_in(operator), _signed_in(approver)
    preview = as_operator.post(
        reverse("reset_preview", args=["local", group]), {"strategy": "to-earliest", "scope_mode": "all"}
    )
    token = re.search(r'name="token" value="([^"]+)"', preview.content.decode()).group(1)
    confirmed = as_operator.post(reverse("reset_confirm", args=["local", group]), {"token": token, "reason": "fix"})
    mine = Operation.objects.get(pk=int(confirmed.url.rstrip("/").rsplit("/", 1)[1]))

    page = as_operator.get(reverse("my_requests")).content.decode()
    assert 'id="my-requests-link"' in page
    assert _table(page, "awaiting") == [mine.pk] and others.pk not in re.findall(r"data-operation=\"(\d+)\"", page)
    assert 'id="no-working"' in page and 'id="no-done"' in page
    row = _row(page, mine)
    for url in (
        reverse("operation_page", args=[mine.pk]),
        reverse("group_page", args=["local", group]),
        reverse("group_list", args=["local"]),
    ):
        assert f'href="{url}"' in row
    assert "Reset to-earliest" in row and "all topics with committed offsets" in row and "Awaiting approval" in row

    approved = as_approver.post(reverse("approve_operation", args=[mine.pk]), {"comment": "checked"})
    assert approved.status_code == 302
    kt.wait_for(lambda: Operation.objects.get(pk=mine.pk).is_final, timeout=60, what="the approved reset to run")
    page = as_operator.get(reverse("my_requests")).content.decode()
    assert _table(page, "done") == [mine.pk] and _table(page, "awaiting") == []
    assert "Succeeded" in _row(page, mine) and "approved by approver" in _row(page, mine)

    decided = as_approver.get(reverse("my_requests")).content.decode()
    assert _table(decided, "decided") == [mine.pk]
    assert "operator" in _row(decided, mine) and 'id="no-awaiting"' in decided and 'id="no-done"' in decided


def test_each_status_has_its_section_and_a_viewer_sees_an_empty_page(db, cluster, make_user, unique):
    operator, viewer = make_user("operator", "Operator"), make_user("viewer", "Viewer")
    group, topic = unique("g"), unique("t")
    pending = _request(cluster, group, topic, operator)
    running = _request(cluster, group, topic, operator, status=Operation.Status.RUNNING)
    failed = _request(cluster, group, topic, operator, status=Operation.Status.FAILED)
    cancelled = _request(cluster, group, topic, operator, status=Operation.Status.CANCELLED)
    share = _request(cluster, group, topic, operator, kind=Operation.Kind.SHARE_RESET, status=Operation.Status.FAILED)
    page = _signed_in(operator).get(reverse("my_requests")).content.decode()
    assert _table(page, "working") == [running.pk, pending.pk]
    assert _table(page, "done") == [share.pk, cancelled.pk, failed.pk]
    # A share group's reset moves start offsets, and its group has its own page; a consumer group's is as it was.
    share_row, reset_row = _row(page, share), _row(page, failed)
    assert "Reset start offsets to-earliest" in share_row and "every share-partition with a start offset" in share_row
    assert "committed offsets" not in share_row
    assert f'href="{reverse("share_group_page", args=["local", group])}"' in share_row
    assert "Reset to-earliest" in reset_row and "all topics with committed offsets" in reset_row
    assert f'href="{reverse("group_page", args=["local", group])}"' in reset_row
    assert '<table id="decided">' not in page

    empty = _signed_in(viewer).get(reverse("my_requests"))
    assert empty.status_code == 200
    body = empty.content.decode()
    assert 'id="my-requests-link"' in body and "data-operation=" not in body
    assert "you have not asked for a change" in body


def test_done_requests_page_by_fifty_and_a_bad_page_is_a_400(db, cluster, make_user):
    operator = make_user("operator", "Operator")
    made = [_request(cluster, "g", "t", operator, status=Operation.Status.SUCCEEDED) for _ in range(51)]
    client = _signed_in(operator)
    first = client.get(reverse("my_requests")).content.decode()
    assert _table(first, "done") == [op.pk for op in reversed(made[1:])] and "Page 1 of 2" in first
    second = client.get(reverse("my_requests"), {"page": "2"}).content.decode()
    assert _table(second, "done") == [made[0].pk] and 'id="past-last-page"' not in second
    past = client.get(reverse("my_requests"), {"page": "7"}).content.decode()
    assert _table(past, "done") == [made[0].pk]
    assert "There is no page 7: 51 finished requests make 2 pages; this is page 2." in past
    bad = client.get(reverse("my_requests"), {"page": "0"})
    assert bad.status_code == 400 and "page must be a whole number" in bad.content.decode()


@pytest.mark.parametrize(
    ("referer", "back"),
    [
        ("http://testserver/clusters/local/groups/?q=pay", "http://testserver/clusters/local/groups/?q=pay"),
        ("https://testserver/clusters/local/groups/", "/"),  # another scheme is another origin
        ("http://evil.example/phish", "/"),
        ("javascript:alert(1)", "/"),
        ("", "/"),
    ],
)
def test_the_refusal_page_leads_back_where_the_user_came_from_on_this_site(db, cluster, make_user, referer, back):
    client = _signed_in(make_user("viewer", "Viewer"))
    headers = {"HTTP_REFERER": referer} if referer else {}
    refused = client.get(reverse("reset_form", args=["local", "payments"]), **headers)
    assert refused.status_code == 403
    link = re.search(r'<a id="back" href="([^"]*)">([^<]*)</a>', refused.content.decode())
    assert link.group(1).replace("&amp;", "&") == back
    assert ("came from" in link.group(2)) == (back != "/")


def test_the_refusal_page_does_not_lead_back_to_itself(db, cluster, make_user):
    client = _signed_in(make_user("viewer", "Viewer"))
    url = reverse("reset_form", args=["local", "payments"])
    refused = client.get(url, HTTP_REFERER=f"http://testserver{url}")
    assert f'<a id="back" href="{reverse("cluster_list")}">' in refused.content.decode()


def test_a_stale_form_is_refused_in_the_consoles_words_and_layout_and_changes_nothing(db, cluster, make_user, unique):
    operator = make_user("operator", "Operator")
    awaiting = _request(cluster, unique("g"), unique("t"), operator, status=Operation.Status.AWAITING_APPROVAL)
    client = Client(enforce_csrf_checks=True)
    client.force_login(operator)
    page = f"http://testserver{reverse('operation_page', args=[awaiting.pk])}"
    cancel = reverse("cancel_operation", args=[awaiting.pk])
    refused = client.post(cancel, HTTP_REFERER=page)
    assert refused.status_code == 403
    body = html.unescape(refused.content.decode())
    assert "The form was stale or your session expired, so nothing was changed. Reload the page and try again." in body
    assert f'<a id="back" href="{page}">← Back to the page you came from</a>' in body
    assert 'id="my-requests-link"' in body, "the console's own layout"
    awaiting.refresh_from_db()
    assert awaiting.status == Operation.Status.AWAITING_APPROVAL and not awaiting.events.exists()
    elsewhere = client.post(cancel, HTTP_REFERER="http://evil.example/")
    assert f'<a id="back" href="{reverse("cluster_list")}">' in elsewhere.content.decode()
    # A form posted to its own address came from that page: back is the page to reload.
    own = f"http://testserver{reverse('share_group_delete', args=['local', 'payments'])}"
    assert f'<a id="back" href="{own}">' in client.post(own, HTTP_REFERER=own).content.decode()
