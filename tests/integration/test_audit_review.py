"""The audit review pages and exports, driven through the Django test client (no broker needed)."""

import csv
import html
import io
import json
import re
from datetime import UTC, datetime

import pytest
from django.contrib.auth.models import User
from django.db import connection
from django.urls import reverse
from django.utils import timezone

from groups import audit
from groups.models import AuditEvent, Cluster, Operation

pytestmark = pytest.mark.django_db

EXPORT_COLUMNS = [
    "id",
    "time",
    "actor",
    "source_ip",
    "action",
    "cluster",
    "group",
    "topics",
    "reason",
    "outcome",
    "error",
    "operation_id",
    "hash",
]


@pytest.fixture
def auditor(client):
    client.force_login(User.objects.create_superuser("auditor", "auditor@example.com", "not-used-here"))
    return client


@pytest.fixture
def events(db) -> dict[str, AuditEvent]:
    return {
        "a": audit.record(
            "requested",
            actor="alice",
            cluster="prod",
            group_id="payments-eu",
            reason="Replay after the BUG-17 fix",
            outcome="pending",
        ),
        "b": audit.record(
            "succeeded", actor="worker", cluster="prod", group_id="payments-us", reason="replay", outcome="succeeded"
        ),
        "c": audit.record(
            "requested", actor="bob", cluster="staging", group_id="payments", reason="load test", outcome="pending"
        ),
        "d": audit.record("denied", actor="mallory", cluster="prod", group_id="old-payments-eu", outcome="denied"),
        "e": audit.record(
            "failed",
            actor="worker",
            cluster="staging",
            group_id="orders",
            reason="skip a poison record",
            outcome="failed",
            error="the group has active members",
        ),
    }


def _append(rows: list[dict]) -> list[AuditEvent]:
    """Events with these fields (time included) appended as a valid chain in one bulk insert,
    hashed exactly as `audit.record` hashes: fast enough for tens of thousands of rows."""
    last = AuditEvent.objects.order_by("-id").first()
    prev_hash = last.hash if last else audit.GENESIS
    now = timezone.now()
    built = []
    for row in rows:
        event = AuditEvent(**{"time": now, "actor": "alice", "action": "requested", **row}, prev_hash=prev_hash)
        event.topics = sorted({r["topic"] for r in event.plan})
        event.hash = prev_hash = audit._digest(audit._content(event))
        built.append(event)
    return AuditEvent.objects.bulk_create(built, batch_size=2000)


def _listed(response) -> list[int]:
    assert response.status_code == 200, response.content.decode()[:2000]
    return [int(pk) for pk in re.findall(r'data-event="(\d+)"', response.content.decode())]


def _ids(events: dict[str, AuditEvent], names: str) -> list[int]:
    return sorted((events[name].id for name in names), reverse=True)


def _csv(response) -> list[dict]:
    assert response.status_code == 200 and response.streaming
    return list(csv.DictReader(io.StringIO(b"".join(response.streaming_content).decode())))


def _json(response) -> list[dict]:
    assert response.status_code == 200 and response.streaming
    return json.loads(b"".join(response.streaming_content))


def test_it_requires_login(client, events):
    for name in ("audit_list", "audit_export_csv", "audit_export_json"):
        response = client.get(reverse(name))
        assert response.status_code == 302 and "login" in response.url
    assert client.get(reverse("audit_event", args=[events["a"].pk])).status_code == 302


def test_it_refuses_a_user_without_the_audit_right(client, events):
    client.force_login(User.objects.create_user("carol", password="not-used-here"))
    assert client.get(reverse("audit_list")).status_code == 403
    assert client.get(reverse("audit_export_json")).status_code == 403


def test_it_lists_every_event_newest_first_linking_each_to_its_page(auditor, events):
    response = auditor.get(reverse("audit_list"))
    assert _listed(response) == _ids(events, "abcde")
    assert f'href="{reverse("audit_event", args=[events["c"].pk])}"' in response.content.decode()


@pytest.mark.parametrize(
    ("filters", "expected"),
    [
        ({"actor": "alice"}, "a"),
        ({"cluster": "staging"}, "ce"),
        ({"group": "payments-eu"}, "a"),
        ({"group": "payments-*"}, "ab"),
        ({"group": "*payments*"}, "abcd"),
        ({"group": "payments-??"}, "ab"),
        ({"action": "requested"}, "ac"),
        ({"outcome": "failed"}, "e"),
        ({"q": "bug-17"}, "a"),
        ({"cluster": "prod", "action": "requested"}, "a"),
        ({"actor": "nobody"}, ""),
    ],
)
def test_each_filter_narrows_the_list(auditor, events, filters, expected):
    assert _listed(auditor.get(reverse("audit_list"), filters)) == _ids(events, expected)


def test_a_group_pattern_takes_only_star_and_question_mark_as_wildcards(auditor, db):
    dotted, lookalike, bracketed = _append(
        [{"group_id": "orders.v2"}, {"group_id": "ordersXv2"}, {"group_id": "[orders]"}]
    )
    assert _listed(auditor.get(reverse("audit_list"), {"group": "orders.v*"})) == [dotted.id]
    assert _listed(auditor.get(reverse("audit_list"), {"group": "[orders]*"})) == [bracketed.id]
    assert _listed(auditor.get(reverse("audit_list"), {"group": "orders?v2"})) == [lookalike.id, dotted.id]


def test_a_date_range_includes_both_days_in_utc(auditor, db):
    first, second, third, fourth = _append(
        [
            {"time": datetime(2024, 3, 1, 23, 59, 59, tzinfo=UTC)},
            {"time": datetime(2024, 3, 2, 0, 0, tzinfo=UTC)},
            {"time": datetime(2024, 3, 3, 23, 59, 59, 999999, tzinfo=UTC)},
            {"time": datetime(2024, 3, 4, 0, 0, tzinfo=UTC)},
        ]
    )
    url = reverse("audit_list")
    assert _listed(auditor.get(url, {"from": "2024-03-02", "to": "2024-03-03"})) == [third.id, second.id]
    assert _listed(auditor.get(url, {"from": "2024-03-03"})) == [fourth.id, third.id]
    assert _listed(auditor.get(url, {"to": "2024-03-01"})) == [first.id]


@pytest.mark.parametrize(
    ("filters", "reason"),
    [
        ({"from": "2024-13-01"}, "'from' is no date on the calendar: '2024-13-01' (month must be in 1..12)."),
        ({"to": "yesterday"}, "'to' must be a date written YYYY-MM-DD, not 'yesterday'"),
        ({"from": "2024-03-05", "to": "2024-03-01"}, "'from' (2024-03-05) is after 'to' (2024-03-01)"),
        ({"page": "0"}, "page must be a whole number from 1 up"),
        ({"page": "²"}, "page must be a whole number from 1 up"),
        # Named with the valid values, in the list's words and as recorded.
        ({"action": "reset_executed"}, "action 'reset_executed' is not one the audit log records."),
        ({"action": "reset_executed"}, "Asked for something not granted (denied)"),
        ({"outcome": "done"}, "outcome 'done' is not one the audit log records."),
        ({"outcome": "done"}, "Awaiting approval (awaiting_approval)"),
    ],
)
def test_a_bad_filter_is_refused_with_the_reason(auditor, events, filters, reason):
    response = auditor.get(reverse("audit_list"), filters)
    assert response.status_code == 400
    body = html.unescape(response.content.decode())
    assert reason in body
    assert 'name="from"' in body, "the form stays on the page so the filter can be corrected"
    if "page" in filters:
        return  # exports have no pages
    for name in ("audit_export_csv", "audit_export_json"):
        refused = auditor.get(reverse(name), filters)
        assert refused.status_code == 400 and not refused.streaming, "never an empty file"
        assert reason in html.unescape(refused.content.decode())


def test_the_action_and_outcome_filters_offer_the_lists_words_and_send_the_recorded_value(auditor, events):
    body = html.unescape(auditor.get(reverse("audit_list"), {"action": "denied"}).content.decode())
    assert '<option value="denied" selected>Asked for something not granted</option>' in body
    assert '<option value="undo_requested">Requested an undo</option>' in body
    assert '<option value="awaiting_approval">Awaiting approval</option>' in body
    # An action an older version recorded is no longer named in the code, but its events stay findable.
    (retired,) = _append([{"action": "offsets_reset"}])
    assert _listed(auditor.get(reverse("audit_list"), {"action": "offsets_reset"})) == [retired.id]
    assert '<option value="offsets_reset">Offsets reset</option>' in auditor.get(reverse("audit_list")).content.decode()


def test_an_htmx_refresh_renders_only_the_results(auditor, events):
    response = auditor.get(reverse("audit_list"), {"cluster": "staging"}, HTTP_HX_REQUEST="true")
    body = response.content.decode()
    assert _listed(response) == _ids(events, "ce")
    assert body.lstrip().startswith('<div id="results">') and "<form" not in body
    assert f"{reverse('audit_export_csv')}?cluster=staging" in body


def test_an_htmx_refresh_with_a_bad_date_swaps_in_the_reason(auditor, events):
    response = auditor.get(reverse("audit_list"), {"from": "soon"}, HTTP_HX_REQUEST="true")
    assert response.status_code == 200
    assert "'from' must be a date" in html.unescape(response.content.decode())


def test_the_filter_form_works_without_javascript(auditor, events):
    body = auditor.get(reverse("audit_list")).content.decode()
    form = re.search(r'<form class="filters audit-filters"[^>]*>', body).group(0)
    assert 'method="get"' in form and f'action="{reverse("audit_list")}"' in form
    assert f'hx-get="{reverse("audit_list")}"' in form and 'hx-target="#results"' in form


def test_the_list_pages_by_fifty_keeping_the_filters(auditor, db):
    made = _append([{"cluster": "prod"}] * 120 + [{"cluster": "staging"}])
    url = reverse("audit_list")
    first = auditor.get(url, {"cluster": "prod"})
    assert _listed(first) == [e.id for e in reversed(made[70:120])]
    assert "Page 1 of 3" in first.content.decode()
    assert 'href="?cluster=prod&amp;page=2"' in first.content.decode()
    last = auditor.get(url, {"cluster": "prod", "page": "3"})
    assert _listed(last) == [e.id for e in reversed(made[:20])] and 'id="past-last-page"' not in last.content.decode()
    # A page past the end shows the last one, and says so rather than pass it off as the page asked for.
    past = auditor.get(url, {"cluster": "prod", "page": "99999"})
    assert _listed(past) == _listed(last)
    assert "There is no page 99999: 120 events make 3 pages; this is page 3." in past.content.decode()
    none = auditor.get(url, {"cluster": "gone", "page": "2"}).content.decode()
    assert "There is no page 2: there are no events to list, so this is page 1." in none


def test_a_reason_with_markup_is_shown_as_text(auditor, db):
    event = audit.record(
        "requested",
        actor="<b>eve</b>",
        cluster="prod",
        group_id="orders",
        reason='<script>alert("owned")</script>',
        outcome="pending",
    )
    for url in (reverse("audit_list"), reverse("audit_event", args=[event.pk])):
        body = auditor.get(url).content.decode()
        assert "<script>alert" not in body and "<b>eve</b>" not in body
        assert "&lt;script&gt;alert(&quot;owned&quot;)&lt;/script&gt;" in body


def test_the_event_page_shows_every_field_the_plan_and_the_operation(auditor, db):
    cluster = Cluster.objects.create(name="prod", bootstrap_servers="broker:9092")
    plan = [
        {
            "topic": "payments",
            "partition": 0,
            "before": 120,
            "after": 40,
            "log_start": 30,
            "log_end": 500,
            "clamped": "",
            "note": "",
        },
        {
            "topic": "payments",
            "partition": 1,
            "before": None,
            "after": 30,
            "log_start": 30,
            "log_end": 80,
            "clamped": "to log start",
            "note": "no committed offset",
        },
    ]
    operation = Operation.objects.create(
        kind=Operation.Kind.RESET, cluster=cluster, group_id="payments-eu", plan=plan, reason="replay after the fix"
    )
    event = audit.record("requested", actor="alice", operation=operation, source_ip="10.1.2.3", outcome="pending")
    audit.record("failed", actor="worker", operation=operation, outcome="failed", error="active members")

    body = auditor.get(reverse("audit_event", args=[event.pk])).content.decode()
    for text in (
        "alice",
        "10.1.2.3",
        "requested",
        "pending",
        "prod",
        "payments-eu",
        "replay after the fix",
        event.hash,
        event.prev_hash,
        "matches the content",
        "to log start",
        "no committed offset",
    ):
        assert text in body, text
    assert f'href="{reverse("operation_page", args=[operation.pk])}"' in body
    rows = re.findall(
        r'<tr data-tp="(payments-\d)">.*?class="num before">([^<]*)<.*?class="num after">([^<]*)<', body, re.S
    )
    assert rows == [("payments-0", "120", "40"), ("payments-1", "—", "30")]
    assert f'href="{reverse("audit_event", args=[event.pk + 1])}"' in body


def test_the_event_page_flags_an_event_altered_behind_the_apps_back(auditor, events):
    with connection.cursor() as cursor:
        cursor.execute(
            f"UPDATE {AuditEvent._meta.db_table} SET reason = %s WHERE id = %s", ["nothing to see", events["b"].id]
        )
    body = auditor.get(reverse("audit_event", args=[events["b"].pk])).content.decode()
    assert 'id="hash-mismatch"' in body


def test_an_unknown_event_is_not_found(auditor, db):
    response = auditor.get(reverse("audit_event", args=[999_999]))
    assert response.status_code == 404
    assert "Audit event #999999 does not exist." in response.content.decode()


@pytest.mark.parametrize(
    "filters",
    [
        {},
        {"cluster": "prod"},
        {"group": "payments-*", "outcome": "pending"},
        {"q": "REPLAY"},
        {"actor": "nobody"},
    ],
)
def test_exports_hold_exactly_the_filtered_events(auditor, events, filters):
    listed = _listed(auditor.get(reverse("audit_list"), filters))
    assert [int(row["id"]) for row in _csv(auditor.get(reverse("audit_export_csv"), filters))] == listed
    assert [row["id"] for row in _json(auditor.get(reverse("audit_export_json"), filters))] == listed


def test_exports_write_every_column_and_the_json_the_plan(auditor, db):
    cluster = Cluster.objects.create(name="prod", bootstrap_servers="broker:9092")
    plan = [
        {
            "topic": "payments",
            "partition": 0,
            "before": 120,
            "after": 40,
            "log_start": 30,
            "log_end": 500,
            "clamped": "",
            "note": "",
        },
        {
            "topic": "audit",
            "partition": 2,
            "before": 7,
            "after": 9,
            "log_start": 0,
            "log_end": 9,
            "clamped": "",
            "note": "",
        },
    ]
    operation = Operation.objects.create(
        kind=Operation.Kind.RESET,
        cluster=cluster,
        group_id="payments-eu",
        plan=plan,
        reason='comma, "quotes"\nand a new line',
    )
    event = audit.record("requested", actor="alice", operation=operation, source_ip="10.1.2.3", outcome="pending")
    expected = {
        "id": event.id,
        "time": event.time.astimezone(UTC).isoformat(),
        "actor": "alice",
        "source_ip": "10.1.2.3",
        "action": "requested",
        "cluster": "prod",
        "group": "payments-eu",
        "reason": 'comma, "quotes"\nand a new line',
        "outcome": "pending",
        "error": "",
        "operation_id": operation.id,
        "hash": event.hash,
    }

    response = auditor.get(reverse("audit_export_csv"))
    assert response["Content-Type"].startswith("text/csv")
    assert 'attachment; filename="audit-' in response["Content-Disposition"]
    [row] = _csv(response)
    assert list(row) == EXPORT_COLUMNS
    assert row == {**{k: str(v) for k, v in expected.items()}, "topics": "audit;payments"}
    [item] = _json(auditor.get(reverse("audit_export_json")))
    assert item == {**expected, "topics": ["audit", "payments"], "plan": plan}
    assert item["time"].endswith("+00:00")


def test_twenty_thousand_events_export_as_a_stream_and_completely(auditor, db):
    made = _append([{"group_id": f"group-{n % 50}", "reason": f"event {n}"} for n in range(20_000)])
    expected = [e.id for e in reversed(made)]

    response = auditor.get(reverse("audit_export_json"))
    chunks = list(response.streaming_content)
    assert response.streaming and len(chunks) > 5
    assert [row["id"] for row in json.loads(b"".join(chunks))] == expected

    response = auditor.get(reverse("audit_export_csv"), {"group": "group-7"})
    assert response.streaming
    assert [int(row["id"]) for row in _csv(response)] == [pk for pk in expected if (pk - made[0].id) % 50 == 7]


def test_the_last_representable_day_is_a_valid_upper_bound(auditor, events):
    for name in ("audit_list", "audit_export_csv", "audit_export_json"):
        response = auditor.get(reverse(name), {"to": "9999-12-31"})
        assert response.status_code == 200, name
    assert _listed(auditor.get(reverse("audit_list"), {"to": "9999-12-31"})) == _ids(events, "abcde")


def _auditor_with(client, username, **grant):
    from groups.models import Grant

    user = User.objects.create_user(username)
    Grant.objects.create(user=user, role="Approver", **grant)
    client.force_login(user)
    return client


def test_an_auditor_granted_one_cluster_sees_only_that_clusters_events(client, events):
    staging = Cluster.objects.create(name="staging", bootstrap_servers="127.0.0.1:1")
    auditor = _auditor_with(client, "staging-auditor", cluster=staging, group_pattern="*")
    assert _listed(auditor.get(reverse("audit_list"))) == _ids(events, "ce")
    exported = {int(row["id"]) for row in _csv(auditor.get(reverse("audit_export_csv")))}
    assert exported == set(_ids(events, "ce"))
    assert {row["id"] for row in _json(auditor.get(reverse("audit_export_json")))} == set(_ids(events, "ce"))
    assert auditor.get(reverse("audit_event", args=[events["a"].id])).status_code == 404
    assert auditor.get(reverse("audit_event", args=[events["c"].id])).status_code == 200


def test_an_auditor_granted_a_group_pattern_sees_only_those_groups(client, events):
    auditor = _auditor_with(client, "payments-auditor", cluster=None, group_pattern="payments-*")
    assert _listed(auditor.get(reverse("audit_list"))) == _ids(events, "ab")
    logins = audit.record("login", actor="alice")
    assert logins.id not in _listed(auditor.get(reverse("audit_list")))


def test_an_auditor_of_every_cluster_and_group_sees_the_whole_log_logins_included(client, events):
    auditor = _auditor_with(client, "global-auditor", cluster=None, group_pattern="*")
    login = audit.record("login", actor="alice")
    assert _listed(auditor.get(reverse("audit_list"), {"signins": "1"})) == [login.id, *_ids(events, "abcde")]
