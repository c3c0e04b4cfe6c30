"""Alert rules managed in the console (scoped like grants, every change audited), the alerts page, and
what evaluation does with mutes, replays and deleted groups. Django test client only: no broker, no worker."""

import re
from datetime import timedelta

import pytest
from django.test import Client
from django.utils import timezone
from django.utils.html import escape

from groups import tasks
from groups.alerting import evaluate_round
from groups.models import (
    AlertDelivery,
    AlertEpisode,
    AlertRule,
    AlertState,
    AuditEvent,
    Cluster,
    Grant,
    Operation,
    Replay,
)
from tests.integration.alerting import group, rounds

pytestmark = pytest.mark.django_db

VALID = {
    "name": "payments stalled",
    "cluster": "",
    "group_pattern": "payments-*",
    "statuses": ["STALL", "ERR"],
    "lag_seconds_over": "",
    "total_lag_over": "",
    "retention_margin_under_minutes": "",
    "for_minutes": "5",
    # Resolved when the rule is saved: a name that resolves everywhere.
    "webhook_url": "https://localhost/kafka",
    "webhook_format": "json",
    "emails": "oncall@example.com, team@example.com",
    "renotify_minutes": "60",
    "enabled": "on",
}


@pytest.fixture
def prod(db):
    return Cluster.objects.create(name="prod", bootstrap_servers="127.0.0.1:1")


@pytest.fixture
def staging(db):
    return Cluster.objects.create(name="staging", bootstrap_servers="127.0.0.1:2")


def _signed_in(make_user, username, role=None, **grant) -> Client:
    client = Client()
    client.force_login(make_user(username, role, **grant))
    return client


def _field_error(response, field: str) -> str:
    match = re.search(
        rf'id="field-{field}".*?<div class="field-error" role="alert">(.*?)</div>', response.content.decode(), re.S
    )
    return match.group(1) if match else ""


def test_an_operator_creates_a_rule_and_the_creation_is_audited(make_user, prod):
    client = _signed_in(make_user, "olga", "Operator")
    form = client.get("/alerts/rules/new/")
    assert form.status_code == 200 and 'action="/alerts/rules/create/"' in form.content.decode()
    response = client.post("/alerts/rules/create/", {**VALID, "cluster": prod.pk})
    assert response.status_code == 302 and response["Location"] == "/alerts/rules/"
    rule = AlertRule.objects.get()
    assert (rule.cluster, rule.statuses, rule.for_minutes, rule.emails) == (
        prod,
        ["STALL", "ERR"],
        5,
        ["oncall@example.com", "team@example.com"],
    )
    event = AuditEvent.objects.get(action="alert_rule_created")
    assert (event.actor, event.cluster, event.group_id, event.outcome) == ("olga", "prod", "payments-*", "succeeded")
    assert event.reason.startswith(f"created rule #{rule.pk}: name: payments stalled; cluster: prod;")
    assert "statuses: STALL, ERR" in event.reason
    listed = client.get("/alerts/rules/").content.decode()
    assert f'data-rule="{rule.pk}"' in listed and "status is STALL or ERR" in listed
    edit = client.get(f"/alerts/rules/{rule.pk}/").content.decode()
    assert 'value="oncall@example.com, team@example.com"' in edit
    assert re.search(r'value="STALL"[^>]*checked', edit) and not re.search(r'value="OK"[^>]*checked', edit)


def test_a_rule_change_is_audited_field_by_field(make_user, prod):
    client = _signed_in(make_user, "olga", "Operator")
    client.post("/alerts/rules/create/", VALID)
    rule = AlertRule.objects.get()
    response = client.post(f"/alerts/rules/{rule.pk}/save/", {**VALID, "for_minutes": "10", "total_lag_over": "5000"})
    assert response.status_code == 302
    event = AuditEvent.objects.get(action="alert_rule_changed")
    assert event.reason == (
        f"changed rule #{rule.pk} (payments stalled): total lag over: none → 5000; for minutes: 5 → 10"
    )
    assert AlertRule.objects.get().total_lag_over == 5000


def test_deleting_a_rule_is_audited_and_takes_its_alerts_with_it(make_user, prod):
    client = _signed_in(make_user, "olga", "Operator")
    client.post("/alerts/rules/create/", VALID)
    rule = AlertRule.objects.get()
    # Fires after its 5 minutes, resolves after 2 minutes clear, then breaches again.
    start = timezone.now() - timedelta(minutes=10)
    rounds(prod, start, [[group("payments-eu", status="STALL")]] * 21 + [[group("payments-eu")]] * 9)
    evaluate_round(prod, [group("payments-eu", status="STALL")])
    assert client.get(f"/alerts/rules/{rule.pk}/delete/").status_code == 200
    assert client.post(f"/alerts/rules/{rule.pk}/delete/confirm/").status_code == 302
    assert not AlertRule.objects.exists() and not AlertState.objects.exists()
    # What happened stays on record, under the name the rule had.
    ended = AlertEpisode.objects.get()
    assert ended.rule is None and ended.rule_name == "payments stalled" and ended.notifications == 2
    resolved = re.search(r'<table id="resolved">(.*?)</table>', client.get("/alerts/").content.decode(), re.S)
    assert 'payments stalled <span class="muted">(rule deleted)</span>' in resolved.group(1)
    event = AuditEvent.objects.get(action="alert_rule_deleted")
    assert event.actor == "olga" and event.reason.startswith(f"deleted rule #{rule.pk}: name: payments stalled")


def test_a_user_without_the_alert_action_reads_the_rules_on_groups_they_view_but_cannot_manage_them(make_user, prod):
    rule = AlertRule.objects.create(
        name="r",
        group_pattern="*",
        statuses=["ERR"],
        emails=["a@example.com"],
        webhook_url="https://hooks.slack.com/services/T1/B2/secret-token",
    )
    orders = AlertRule.objects.create(name="orders", cluster=prod, group_pattern="orders-*", no_members=True)
    client = _signed_in(make_user, "vera", "Viewer")
    listed = client.get("/alerts/rules/")
    page = listed.content.decode()
    assert listed.status_code == 200 and f'<tr data-rule="{rule.pk}" data-read-only>' in page
    assert f'data-rule="{orders.pk}"' in page
    # Read-only: nothing to change, and no webhook secret (its path) to read.
    assert "/alerts/rules/new/" not in page and f"/alerts/rules/{rule.pk}/" not in page
    assert "https://hooks.slack.com/…" in page and "secret-token" not in page
    assert "You need the Operator role to manage alert rules." in page
    # A viewer of payments-* reads the rule on every group, not the one on orders-*.
    narrow = _signed_in(make_user, "pia", "Viewer", pattern="payments-*").get("/alerts/rules/").content.decode()
    assert f'data-rule="{rule.pk}"' in narrow and f'data-rule="{orders.pk}"' not in narrow
    for method, url in [
        ("get", "/alerts/rules/new/"),
        ("post", "/alerts/rules/create/"),
        ("get", f"/alerts/rules/{rule.pk}/"),
        ("post", f"/alerts/rules/{rule.pk}/save/"),
        ("post", f"/alerts/rules/{rule.pk}/delete/confirm/"),
    ]:
        response = getattr(client, method)(url, VALID if method == "post" else None)
        assert response.status_code == 403, url
        assert "ask an admin for the Operator role" in response.content.decode()
    assert sorted(AlertRule.objects.values_list("name", flat=True)) == ["orders", "r"]
    assert not AuditEvent.objects.filter(action__startswith="alert_rule").exists()
    assert AuditEvent.objects.filter(action="denied", actor="vera").count() == 5
    page = client.get("/alerts/").content.decode()
    assert 'id="rules-unavailable"' in page and "You need the Operator role to manage alert rules." in page
    assert 'id="rules-link"' in page


def test_a_rule_must_lie_within_the_user_s_alert_grants(make_user, prod, staging):
    client = _signed_in(make_user, "pete", "Operator", cluster=prod, pattern="payments-*")
    outside = client.post("/alerts/rules/create/", {**VALID, "cluster": prod.pk, "group_pattern": "orders-*"})
    assert outside.status_code == 400
    assert "may not manage alert rules for groups &#x27;orders-*&#x27; on cluster &#x27;prod&#x27;" in _field_error(
        outside, "group_pattern"
    )
    everywhere = client.post("/alerts/rules/create/", {**VALID, "cluster": ""})
    assert everywhere.status_code == 400 and "only on the clusters of your grants" in _field_error(
        everywhere, "cluster"
    )
    other_cluster = client.post("/alerts/rules/create/", {**VALID, "cluster": staging.pk})
    assert other_cluster.status_code == 400 and "Select a valid choice" in _field_error(other_cluster, "cluster")
    assert not AlertRule.objects.exists()

    inside = client.post("/alerts/rules/create/", {**VALID, "cluster": prod.pk, "group_pattern": "payments-eu-*"})
    assert inside.status_code == 302 and AlertRule.objects.get().group_pattern == "payments-eu-*"

    theirs = AlertRule.objects.create(
        name="orders", cluster=prod, group_pattern="orders-*", statuses=["ERR"], emails=["a@example.com"]
    )
    assert client.get(f"/alerts/rules/{theirs.pk}/").status_code == 403
    assert client.post(f"/alerts/rules/{theirs.pk}/delete/confirm/").status_code == 403
    assert f'data-rule="{theirs.pk}"' not in client.get("/alerts/rules/").content.decode()
    # Nor can a rule of theirs be moved out of their scope.
    mine = AlertRule.objects.get(name="payments stalled")
    moved = client.post(f"/alerts/rules/{mine.pk}/save/", {**VALID, "cluster": prod.pk, "group_pattern": "*"})
    assert moved.status_code == 400 and AlertRule.objects.get(pk=mine.pk).group_pattern == "payments-eu-*"


@pytest.mark.parametrize(
    ("changes", "field", "message"),
    [
        ({"statuses": [], "for_minutes": "0"}, None, "Choose at least one condition"),
        ({"lag_seconds_over": "ten"}, "lag_seconds_over", "Enter a whole number."),
        ({"total_lag_over": "-5"}, "total_lag_over", "greater than or equal to 0"),
        ({"for_minutes": "99999999999999999999"}, "for_minutes", "less than or equal to 10080"),
        ({"webhook_url": "", "emails": ""}, "webhook_url", "Give a webhook URL or at least one email address"),
        ({"webhook_url": "ftp://hooks.example.com/x"}, "webhook_url", "Use an http:// or https:// address."),
        ({"webhook_url": "http://169.254.169.254/latest/"}, "webhook_url", "A link-local address"),
        ({"webhook_url": "http://[fe80::1]/hook"}, "webhook_url", "A link-local address"),
        ({"webhook_url": "http://metadata.google.internal/x"}, "webhook_url", "A link-local address"),
        ({"webhook_url": "https://no-such-host.invalid/x"}, "webhook_url", "does not resolve"),
        ({"emails": "oncall@example.com, not-an-address"}, "emails", "Not an email address: not-an-address."),
        ({"group_pattern": "   "}, "group_pattern", "Name a group, or a pattern"),
        ({"group_pattern": "payments-[eu"}, "group_pattern", "opens a [ at character 10 that no ] closes"),
        ({"statuses": ["SLEEPY"]}, "statuses", "Select a valid choice"),
        ({"webhook_format": "xml"}, "webhook_format", "Select a valid choice"),
    ],
)
def test_bad_input_is_refused_with_the_reason_next_to_its_field(make_user, prod, changes, field, message):
    client = _signed_in(make_user, "olga", "Operator")
    response = client.post("/alerts/rules/create/", {**VALID, **changes})
    assert response.status_code == 400
    text = response.content.decode()
    if field is None:
        assert message in re.search(r'id="conditions">(.*?)</fieldset>', text, re.S).group(1)
    else:
        assert message in _field_error(response, field)
    assert not AlertRule.objects.exists() and not AuditEvent.objects.filter(action="alert_rule_created").exists()


def test_rule_pages_refuse_the_wrong_method_a_missing_rule_and_a_missing_csrf_token(make_user, prod):
    client = _signed_in(make_user, "olga", "Operator")
    assert client.get("/alerts/rules/create/").status_code == 405
    assert client.post("/alerts/rules/new/").status_code == 405
    missing = client.get("/alerts/rules/999/")
    assert missing.status_code == 404 and "Alert rule #999 does not exist." in missing.content.decode()
    strict = Client(enforce_csrf_checks=True)
    strict.force_login(make_user("csrf", "Operator"))
    assert strict.post("/alerts/rules/create/", VALID).status_code == 403
    assert not AlertRule.objects.exists()


def test_the_alerts_page_lists_only_visible_groups_with_links_to_the_group_and_its_chart(make_user, prod):
    AlertRule.objects.create(name="stalls", group_pattern="*", statuses=["STALL"], emails=["a@example.com"])
    start = timezone.now() - timedelta(hours=2)
    rounds(prod, start, [[group("payments-eu", status="STALL"), group("orders", status="STALL")]])
    client = _signed_in(make_user, "pat", "Viewer", cluster=prod, pattern="payments-*")
    page = client.get("/alerts/").content.decode()
    firing = re.search(r'<table id="firing">(.*?)</table>', page, re.S).group(1)
    assert 'href="/clusters/prod/groups/payments-eu/"' in firing
    assert 'href="/clusters/prod/groups/payments-eu/?range=6h"' in firing
    assert "orders" not in page
    assert 'id="alerts-link"' in page


def test_without_rules_the_alerts_page_says_nothing_can_fire_rather_than_that_nothing_is_firing(make_user, prod):
    page = _signed_in(make_user, "olga", "Operator").get("/alerts/").content.decode()
    assert "no alert rule exists yet" in page and 'href="/alerts/rules/"' in page
    assert "Nothing is firing." not in page
    AlertRule.objects.create(name="any", group_pattern="*", statuses=["ERR"], for_minutes=0)
    page = _signed_in(make_user, "vera", "Viewer").get("/alerts/").content.decode()
    assert "Nothing is firing." in page and "no alert rule exists yet" not in page


def _times(cells: str, column: str) -> list[str]:
    """The instants (datetime attributes) of one column's cells, top to bottom."""
    return re.findall(rf'<td class="nowrap {column}"><time datetime="([^"]+)"', cells)


def test_each_resolved_alert_stays_listed_after_it_fires_again(make_user, prod, settings):
    settings.ALERT_CLEAR_SECONDS = 0
    AlertRule.objects.create(name="stalls", group_pattern="*", statuses=["STALL"], emails=["a@example.com"])
    start = (timezone.now() - timedelta(minutes=5)).replace(microsecond=0)
    stalled, fine = [group("payments-eu", status="STALL")], [group("payments-eu")]
    rounds(prod, start, [stalled, fine, stalled, fine, stalled])
    page = _signed_in(make_user, "vic", "Viewer").get("/alerts/").content.decode()

    # Two episodes resolved, newest first, each with its own times; the third is firing now.
    resolved = re.search(r'<table id="resolved">(.*?)</table>', page, re.S).group(1)
    at = [
        (start + i * timedelta(seconds=15)).isoformat(timespec="milliseconds").replace("+00:00", "Z") for i in range(5)
    ]
    assert _times(resolved, "fired") == [at[2], at[0]] and _times(resolved, "resolved") == [at[3], at[1]]
    assert re.findall(r'<td class="num notifications">(\d+)</td>', resolved) == ["2", "2"]
    assert resolved.count('href="/clusters/prod/groups/payments-eu/"') == 2
    firing = re.search(r'<table id="firing">(.*?)</table>', page, re.S).group(1)
    assert f'<time datetime="{at[4]}"' in firing

    # Each notification names its own episode, and every new one counts from one again.
    deliveries = list(AlertDelivery.objects.order_by("pk"))
    assert [(d.event, d.payload["notification"]) for d in deliveries] == [
        ("firing", 1),
        ("resolved", 1),
        ("firing", 1),
        ("resolved", 1),
        ("firing", 1),
    ]
    first, second = AlertEpisode.objects.order_by("resolved_at")
    assert [d.episode_id for d in deliveries] == [first.pk, first.pk, second.pk, second.pk, None]
    assert f'href="#episode-{first.pk}"' in page and f'href="#alert-{AlertState.objects.get().pk}"' in page
    # The resolve's body says it resolved, with the figures it resolved with.
    assert deliveries[1].payload["event"] == "resolved" and deliveries[1].payload["status"] == "OK"


def test_alerts_that_ended_are_pruned_after_the_retention_period_with_their_notifications(prod, settings):
    settings.ALERT_CLEAR_SECONDS, settings.ALERT_EPISODE_RETENTION_DAYS = 0, 30
    AlertRule.objects.create(name="stalls", group_pattern="*", statuses=["STALL"], emails=["a@example.com"])
    for start in (timezone.now() - timedelta(days=31), timezone.now() - timedelta(days=29)):
        rounds(prod, start, [[group("payments-eu", status="STALL")], [group("payments-eu")]])
    entry = settings.CELERY_BEAT_SCHEDULE["prune-alert-episodes"]
    assert entry["task"] == tasks.prune_alert_episodes.name
    assert tasks.prune_alert_episodes() == 1
    kept = AlertEpisode.objects.get()
    assert kept.resolved_at > timezone.now() - timedelta(days=30)
    assert set(AlertDelivery.objects.values_list("episode_id", flat=True)) == {kept.pk}


def test_a_replay_mutes_the_groups_reading_its_target_topic_only(make_user, prod):
    AlertRule.objects.create(name="lag", group_pattern="*", total_lag_over=100, emails=["a@example.com"])
    operation = Operation.objects.create(
        kind=Operation.Kind.REPLAY,
        cluster=prod,
        reason="re-run",
        requester=make_user("ann"),
        status=Operation.Status.RUNNING,
        started=timezone.now(),
    )
    Replay.objects.create(
        operation=operation, copy_group="console-replay-00112233aabbccdd", topic="orders", target_topic="orders-copy"
    )
    report = evaluate_round(
        prod,
        [
            group("copy-readers", lag=5000, topics=frozenset({"orders-copy"})),
            group("source-readers", lag=5000, topics=frozenset({"orders"})),
        ],
    )
    assert report.events == [(AlertRule.objects.get().pk, "source-readers", "firing")] and report.muted == 1
    held = AlertState.objects.get(group_id="copy-readers")
    assert held.phase == AlertState.Phase.PENDING and held.muted_by.kind == Operation.Kind.REPLAY
    # Caught up while muted: nobody was told, and the alerts page keeps what the replay held back.
    evaluate_round(prod, [group("copy-readers", topics=frozenset({"orders-copy"}))])
    ended = AlertEpisode.objects.get()
    assert (ended.group_id, ended.firing_since, ended.notifications) == ("copy-readers", None, 0)
    assert ended.muted and ended.muted_by == operation
    page = _signed_in(make_user, "vic", "Viewer").get("/alerts/").content.decode()
    assert f"replay into orders-copy by operation #{operation.pk} (ann)" in page and "nobody was told" in page
    assert ended.summary == "total lag of 5,000 messages is over 100"
    assert ended.resolution.startswith("cleared before it fired: total lag back to 0, at or under 90")
    assert escape(ended.resolution) in page


def test_an_old_operation_mutes_nothing_and_an_undo_says_it_is_an_undo(make_user, prod):
    AlertRule.objects.create(name="lag", group_pattern="*", total_lag_over=100, emails=["a@example.com"])
    now, ann = timezone.now(), make_user("ann")
    old = Operation.objects.create(
        kind=Operation.Kind.RESET,
        cluster=prod,
        group_id="a",
        reason="x",
        requester=ann,
        status=Operation.Status.SUCCEEDED,
        started=now - timedelta(minutes=30),
        finished=now - timedelta(minutes=16),
    )
    Operation.objects.create(
        kind=Operation.Kind.RESET,
        cluster=prod,
        group_id="b",
        reason="undo",
        requester=ann,
        undo_of=old,
        status=Operation.Status.SUCCEEDED,
        started=now,
        finished=now,
    )
    report = evaluate_round(prod, [group("a", lag=500), group("b", lag=500)], now)
    assert [group_id for _, group_id, _ in report.events] == ["a"]
    page = _signed_in(make_user, "vic", "Viewer").get("/alerts/").content.decode()
    assert f"undo of operation #{old.pk} by operation #" in page


def test_replay_checkpoint_groups_and_other_clusters_never_match(prod, staging):
    AlertRule.objects.create(name="everything", group_pattern="*", statuses=["STALL"], emails=["a@example.com"])
    AlertRule.objects.create(
        name="staging only", cluster=staging, group_pattern="*", statuses=["OK"], emails=["a@example.com"]
    )
    report = evaluate_round(
        prod,
        [
            group("console-replay-0123456789abcdef", status="STALL"),
            group("flagged", status="STALL", is_replay_checkpoint=True),
            group("fine"),
        ],
    )
    assert report.rules == 1  # the staging rule is not even read
    assert report.events == [] and list(AlertState.objects.values_list("group_id", flat=True)) == []


def test_a_deleted_group_resolves_its_alert(prod, settings):
    settings.ALERT_CLEAR_SECONDS = 15
    AlertRule.objects.create(name="no members", group_pattern="*", no_members=True, emails=["a@example.com"])
    reports = rounds(prod, timezone.now(), [[group("gone-soon", members=0)], [], []])
    assert [r.events[0][2] for r in reports if r.events] == ["firing", "resolved"]
    said = AlertState.objects.get().summary
    assert said.startswith("resolved: the group no longer exists, clear since ")
    assert said.endswith(" UTC; it fired on: the group has no members")
    # The alert kept on record says both: why it fired, and how it ended.
    ended = AlertEpisode.objects.get()
    assert ended.summary == "the group has no members"
    assert ended.resolution.startswith("the group no longer exists, clear since ")


def test_a_round_on_a_broad_rule_writes_nothing_for_healthy_groups(prod, django_assert_max_num_queries):
    AlertRule.objects.create(
        name="everything", group_pattern="*", statuses=["STALL", "ERR"], total_lag_over=10_000, emails=["a@example.com"]
    )
    healthy = [group(f"group-{i}", lag=i) for i in range(2000)]
    with django_assert_max_num_queries(8):
        evaluate_round(prod, healthy)
    assert not AlertState.objects.exists()


def test_a_grant_on_every_cluster_may_manage_a_rule_on_every_cluster(make_user, prod):
    user = make_user("root-ish")
    Grant.objects.create(user=user, actions=["view", "alert"], cluster=None, group_pattern="*")
    client = Client()
    client.force_login(user)
    assert client.post("/alerts/rules/create/", VALID).status_code == 302
    assert AlertRule.objects.get().cluster is None


def test_only_an_operation_that_may_have_written_mutes_and_a_failed_one_is_not_called_a_reset_by(make_user, prod):
    AlertRule.objects.create(name="lag", group_pattern="*", total_lag_over=100, emails=["a@example.com"])
    now, ann = timezone.now(), make_user("ann")

    def reset(group_id: str, **fields) -> Operation:
        return Operation.objects.create(
            kind=Operation.Kind.RESET, cluster=prod, group_id=group_id, reason="x", requester=ann, started=now, **fields
        )

    # Refused by the worker: the group had become active, so nothing was written.
    refused = reset(
        "refused",
        status=Operation.Status.FAILED,
        finished=now,
        error="The group is active: 1 member. Nothing was written. Stop its members, then preview again.",
    )
    # Wrote, but the read-back found another client's commit: its per-partition results say what it wrote.
    wrote = reset(
        "wrote",
        status=Operation.Status.FAILED,
        finished=now,
        outcome=[{"topic": "t", "partition": 0, "committed": 5, "verified": False}],
        error="Read-back after the commit does not match the plan for t:0",
    )
    # Running when the first round saw it, then refused: the mute it set is withdrawn by the next round.
    running = reset("running", status=Operation.Status.RUNNING)
    lagging = [group(name, lag=500) for name in ("refused", "wrote", "running")]
    report = evaluate_round(prod, lagging, now)
    assert [group_id for _, group_id, _ in report.events] == ["refused"]
    Operation.objects.filter(pk=running.pk).update(status=Operation.Status.FAILED, finished=now, error=refused.error)
    report = evaluate_round(prod, lagging, now + timedelta(seconds=15))
    assert [group_id for _, group_id, _ in report.events] == ["running"]
    assert AlertState.objects.get(group_id="running").muted_until is None
    page = _signed_in(make_user, "vic", "Viewer").get("/alerts/").content.decode()
    assert f"offset reset that failed after writing, operation #{wrote.pk} (ann)" in page
    assert f"by operation #{refused.pk}" not in page and f"operation #{running.pk}" not in page
    assert f"offset reset by operation #{wrote.pk}" not in page


def test_a_collection_gap_is_not_counted_as_clear(prod, settings):
    settings.ALERT_CLEAR_SECONDS = 120
    AlertRule.objects.create(name="lag", group_pattern="*", total_lag_over=100, emails=["a@example.com"])
    start = timezone.now() - timedelta(minutes=10)
    rounds(prod, start, [[group("g", lag=500)], [group("g")], [group("g")]])
    # No round succeeded for 6 minutes (over twice the cluster's 15 s period): the clear timer starts again.
    after_gap = start + timedelta(minutes=6, seconds=30)
    report = evaluate_round(prod, [group("g")], after_gap, previous_round=start + 2 * timedelta(seconds=15))
    state = AlertState.objects.get()
    assert report.events == [] and state.phase == AlertState.Phase.FIRING and state.clear_since == after_gap
    assert state.summary.startswith("total lag back to 0, at or under 90 (the rule's 100 less 10% hysteresis)")
    # Rounds every 15 s again: it resolves once it stayed clear for 120 s after the gap.
    later = [after_gap + i * timedelta(seconds=15) for i in range(1, 9)]
    events = [evaluate_round(prod, [group("g")], t, previous_round=t - timedelta(seconds=15)).events for t in later]
    assert [bool(e) for e in events] == [False] * 7 + [True]


def test_disabling_a_rule_resolves_its_firing_alert_and_tells_the_receivers(prod, settings):
    """Unticking Enabled closes what the rule had open: its receivers are not left with a firing alert for ever."""
    settings.ALERT_CLEAR_SECONDS = 30
    rule = AlertRule.objects.create(name="lag", group_pattern="*", total_lag_over=100, emails=["a@example.com"])
    start = timezone.now() - timedelta(minutes=5)
    rounds(prod, start, [[group("g", lag=500)]])
    assert AlertState.objects.get().phase == AlertState.Phase.FIRING
    AlertRule.objects.filter(pk=rule.pk).update(enabled=False)
    # Still breaching, but the rule is off: it clears at once and resolves once clear for ALERT_CLEAR_SECONDS.
    times = [start + i * timedelta(seconds=15) for i in range(1, 5)]
    events = [evaluate_round(prod, [group("g", lag=500)], t).events for t in times]
    assert events[:2] == [[], []] and events[2] == [(rule.pk, "g", "resolved")]
    state = AlertState.objects.get()
    assert state.phase == AlertState.Phase.RESOLVED and "the rule was disabled" in state.summary
    episode = AlertEpisode.objects.get()
    assert episode.resolved_at == times[2] and "the rule was disabled" in episode.resolution
    assert AlertDelivery.objects.filter(payload__event="resolved").exists()
    # Nothing more: a resolved alert of a disabled rule is left alone.
    assert evaluate_round(prod, [group("g", lag=500)], times[3] + timedelta(seconds=15)).events == []
