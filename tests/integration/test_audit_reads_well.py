"""The audit log reads as what people asked for: the action in words with its scope, sign-ins out of the way
until asked for, outcomes coloured, and the cluster, group, topics and operation linked."""

import csv
import html
import io
import json
import re
from pathlib import Path

import pytest
from django.conf import settings
from django.contrib.auth.models import User
from django.urls import reverse

from groups import audit
from groups.models import AuditEvent, Cluster, Operation, Replay

pytestmark = pytest.mark.django_db


@pytest.fixture
def auditor(client):
    client.force_login(User.objects.create_superuser("auditor", "auditor@example.com", "not-used-here"))
    return client


@pytest.fixture
def prod(db):
    return Cluster.objects.create(name="prod", bootstrap_servers="broker:9092")


def _plan(topic="orders"):
    return [
        {
            "topic": topic,
            "partition": 0,
            "before": 9,
            "after": 0,
            "log_start": 0,
            "log_end": 9,
            "clamped": None,
            "note": None,
        }
    ]


def _operation(prod, **fields) -> Operation:
    return Operation.objects.create(cluster=prod, reason="because", **{"kind": Operation.Kind.RESET, **fields})


def _action_cells(response) -> dict[int, str]:
    """Each listed event's action cell, as text."""
    assert response.status_code == 200, response.content.decode()[:2000]
    cells = re.findall(r'<tr data-event="(\d+)">.*?<td class="action"[^>]*>(.*?)</td>', response.content.decode(), re.S)
    return {int(pk): " ".join(html.unescape(re.sub(r"<[^>]+>", " ", cell)).split()) for pk, cell in cells}


def _row(response, event: AuditEvent) -> str:
    match = re.search(rf'<tr data-event="{event.pk}">(.*?)</tr>', response.content.decode(), re.S)
    assert match, f"event #{event.pk} is not listed"
    return match.group(1)


def test_each_row_says_who_did_what_to_which_request_and_its_scope(auditor, prod):
    reset = _operation(
        prod, group_id="payments", strategy="shift-by", strategy_value="-100", scope="orders:0,2", plan=_plan()
    )
    undo = _operation(prod, group_id="payments", strategy="undo", undo_of=reset, plan=_plan())
    deletion = _operation(prod, kind=Operation.Kind.DELETE_GROUP, group_id="old-payments")
    replay = _operation(
        prod,
        kind=Operation.Kind.REPLAY,
        group_id="",
        plan=[{"topic": "orders", "partition": 0, "start": 0, "end": 5, "count": 5, "note": ""}],
    )
    Replay.objects.create(
        operation=replay,
        copy_group="copy-1",
        topic="orders",
        target_topic="orders-retry",
        offsets={"0": [0, 5], "10": [3, 4]},
    )
    events = {
        "reset": audit.record("requested", actor="alice", operation=reset, outcome="pending"),
        "undo": audit.record("undo_requested", actor="alice", operation=undo, outcome="pending"),
        "deletion": audit.record("requested", actor="alice", operation=deletion, outcome="awaiting_approval"),
        "approve": audit.record("approved", actor="bob", operation=deletion, outcome="pending"),
        "reject": audit.record("rejected", actor="bob", operation=reset, outcome="cancelled"),
        "replay": audit.record("succeeded", actor="worker", operation=replay, outcome="succeeded"),
        "denied": audit.record(
            "denied",
            actor="mallory",
            cluster="prod",
            group_id="payments",
            outcome="denied",
            error="You may not reset offsets of group 'payments' on cluster 'prod'.",
        ),
        "sign-in": audit.record("login", actor="alice", outcome="succeeded"),
    }
    cells = _action_cells(auditor.get(reverse("audit_list"), {"signins": "1"}))
    assert cells[events["reset"].pk] == "requested Reset shift-by -100 orders:0,2"
    assert cells[events["undo"].pk] == f"requested Undo of #{reset.pk} the partitions #{reset.pk} changed"
    assert cells[events["deletion"].pk] == "requested Delete group the whole group"
    assert cells[events["approve"].pk] == "approved Delete group the whole group"
    assert cells[events["reject"].pk] == "rejected Reset shift-by -100 orders:0,2"
    assert cells[events["replay"].pk] == "finished Replay orders → orders-retry offsets 0:0-5, 10:3-4"
    assert cells[events["denied"].pk] == (
        "asked for something not granted You may not reset offsets of group 'payments' on cluster 'prod'."
    )
    assert cells[events["sign-in"].pk] == "signed in"
    event_page = html.unescape(auditor.get(reverse("audit_event", args=[events["reset"].pk])).content.decode())
    assert f"Audit event #{events['reset'].pk}: alice requested Reset shift-by -100</h1>" in event_page
    assert "orders:0,2" in event_page and "(recorded as <code>requested</code>)" in event_page


def test_sign_ins_are_left_out_until_one_click_shows_them(auditor, prod):
    change = audit.record("requested", actor="alice", cluster="prod", group_id="payments", outcome="pending")
    sign_ins = [
        audit.record("login", actor="alice", outcome="succeeded"),
        audit.record("login_failed", actor="alice", outcome="failed", error="wrong password"),
        audit.record("logout", actor="alice", outcome="succeeded"),
    ]
    audit.record("login", actor="bob", outcome="succeeded")
    listed = auditor.get(reverse("audit_list"), {"actor": "alice"})
    body = html.unescape(listed.content.decode())
    assert list(_action_cells(listed)) == [change.pk]
    assert "3 sign-ins, failed sign-ins and sign-outs not listed." in body
    show = re.search(r'id="show-sign-ins" href="([^"]+)"', listed.content.decode()).group(1)
    assert html.unescape(show) == "?actor=alice&signins=1"
    assert '<input type="checkbox" name="signins" value="1" id="signins">' in body

    shown = auditor.get(reverse("audit_list") + html.unescape(show))
    assert list(_action_cells(shown)) == [e.pk for e in reversed(sign_ins)] + [change.pk]
    assert 'id="signins" checked' in shown.content.decode() and 'id="hide-sign-ins"' in shown.content.decode()
    assert 'id="sign-ins"' not in auditor.get(reverse("audit_list"), {"actor": "carol"}).content.decode(), (
        "with no sign-in left out, nothing is said about them"
    )
    # Asking for an action that is a sign-in shows it, whatever the box says.
    assert list(_action_cells(auditor.get(reverse("audit_list"), {"action": "login_failed"}))) == [sign_ins[1].pk]

    def exported(query):
        response = auditor.get(reverse("audit_export_csv"), query)
        return [int(row["id"]) for row in csv.DictReader(io.StringIO(b"".join(response.streaming_content).decode()))]

    assert exported({"actor": "alice"}) == [change.pk], "an export holds what the list shows"
    assert exported({"actor": "alice", "signins": "1"}) == [e.pk for e in reversed(sign_ins)] + [change.pk]


def test_the_csv_export_never_hands_a_spreadsheet_a_formula_and_the_json_export_keeps_the_text(auditor, prod):
    formula = '=HYPERLINK("http://evil.example/","click")'
    event = audit.record(
        "requested", actor="alice", cluster="prod", group_id="@sum(1)", reason=formula, outcome="pending"
    )
    response = auditor.get(reverse("audit_export_csv"), {"actor": "alice"})
    (row,) = csv.DictReader(io.StringIO(b"".join(response.streaming_content).decode()))
    assert (row["id"], row["reason"], row["group"]) == (str(event.pk), "'" + formula, "'@sum(1)")
    exported = json.loads(b"".join(auditor.get(reverse("audit_export_json"), {"actor": "alice"}).streaming_content))
    assert [(e["reason"], e["group"]) for e in exported] == [(formula, "@sum(1)")]


def test_outcomes_are_coloured(auditor, prod):
    events = {
        outcome: audit.record("requested", actor="alice", cluster="prod", outcome=outcome)
        for outcome in ("succeeded", "failed", "denied", "awaiting_approval", "refused")
    }
    listed = auditor.get(reverse("audit_list"))
    for outcome, event in events.items():
        assert f'<span class="badge status-{outcome} outcome">' in _row(listed, event)
    assert "Awaiting approval</span>" in _row(listed, events["awaiting_approval"])
    assert "Locked out</span>" in _row(listed, events["refused"]), "a sign-in refused unchecked: not 'Refused'"
    stylesheet = (Path(settings.BASE_DIR) / "groups/static/groups/console.css").read_text()
    for outcome in events:
        assert re.search(rf"\.status-{outcome}\b[^{{]*\{{[^}}]*background", stylesheet), outcome


def test_the_cluster_group_topics_and_operation_are_linked(auditor, prod):
    reset = _operation(prod, group_id="payments/eu", strategy="to-earliest", plan=_plan("orders"))
    linked = audit.record("requested", actor="alice", operation=reset, outcome="pending")
    unknown = audit.record("requested", actor="alice", cluster="gone", group_id="payments", outcome="pending")
    pattern = audit.record(
        "alert_rule_created", actor="alice", cluster="prod", group_id="payments-*", outcome="succeeded"
    )
    listed = auditor.get(reverse("audit_list"))
    row = _row(listed, linked)
    for url in (
        reverse("group_list", args=["prod"]),
        reverse("group_page", args=["prod", "payments/eu"]),
        reverse("topic_page", args=["prod", "orders"]),
        reverse("operation_page", args=[reset.pk]),
    ):
        assert f'href="{url}"' in row, url
    # A cluster the console does not know (any more) has no pages to link to.
    assert reverse("group_list", args=["gone"]) not in _row(listed, unknown)
    assert reverse("group_page", args=["gone", "payments"]) not in _row(listed, unknown)
    assert reverse("group_page", args=["prod", "payments-*"]) not in _row(listed, pattern)
    event_page = auditor.get(reverse("audit_event", args=[linked.pk])).content.decode()
    assert f'id="event-cluster" href="{reverse("group_list", args=["prod"])}"' in event_page
    assert f'id="event-group" href="{reverse("group_page", args=["prod", "payments/eu"])}"' in event_page
    assert f'href="{reverse("topic_page", args=["prod", "orders"])}"' in event_page


def test_the_text_search_finds_a_word_in_the_reason_or_in_the_error(auditor, prod):
    said = audit.record("requested", actor="alice", cluster="prod", reason="replay after the bug", outcome="pending")
    failed = audit.record(
        "failed", actor="worker", cluster="prod", error="t-0 was 31 at preview, now 33", outcome="failed"
    )
    audit.record("requested", actor="bob", cluster="prod", reason="routine", outcome="pending")
    assert list(_action_cells(auditor.get(reverse("audit_list"), {"q": "BUG"}))) == [said.pk]
    assert list(_action_cells(auditor.get(reverse("audit_list"), {"q": "now 33"}))) == [failed.pk]
