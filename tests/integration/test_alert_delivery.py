"""Alert notifications end to end: the engine driven with GroupFacts rounds, a real Celery worker on the
`notifications` queue, a real HTTP receiver and a real SMTP server. No Kafka broker is needed or started."""

import time
import uuid
from datetime import UTC, timedelta

import pytest
from django.utils import timezone

from groups.models import AlertDelivery, AlertRule, AlertState, Cluster, Operation
from tests.integration.alerting import Receiver, group, rounds
from tests.kafkatools import wait_for

DOCUMENTED_KEYS = {
    "version",
    "event",
    "alert_id",
    "rule",
    "cluster",
    "group",
    "status",
    "summary",
    "values",
    "firing_since",
    "resolved_at",
    "notification",
    "muted",
    "time",
    "links",
}


@pytest.fixture
def receiver():
    server = Receiver()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def prod(celery_worker, settings):
    settings.ALERT_CLEAR_SECONDS = 30
    settings.CONSOLE_URL = "https://console.example.com"
    return Cluster.objects.create(name="prod", bootstrap_servers="127.0.0.1:1")


def _rule(cluster, receiver, **conditions) -> AlertRule:
    return AlertRule.objects.create(
        name="payments", cluster=cluster, group_pattern="payments-*", webhook_url=receiver.url, **conditions
    )


def _all_delivered() -> bool:
    return not AlertDelivery.objects.filter(delivered_at__isnull=True).exists()


def _mails_to(mail_server, address: str) -> list:
    return [m for m in mail_server.messages if address in m["To"]]


def test_a_stalled_group_fires_exactly_one_notification_with_the_documented_body(prod, receiver, mail_server):
    address = f"oncall-{uuid.uuid4().hex[:8]}@example.com"
    rule = _rule(prod, receiver, statuses=["STALL"], emails=[address])
    start = timezone.now()
    stalled = group("payments-eu", status="STALL", lag=1200, lag_seconds=340.0, members=0)
    reports = rounds(prod, start, [[group("payments-eu")]] + [[stalled]] * 6)

    assert [r.events for r in reports if r.events] == [[(rule.pk, "payments-eu", "firing")]]
    wait_for(
        lambda: len(receiver.requests) >= 1 and _mails_to(mail_server, address),
        timeout=30,
        what="the webhook and the email",
    )
    wait_for(_all_delivered, what="both deliveries to be marked delivered")
    assert len(receiver.requests) == 1 and len(_mails_to(mail_server, address)) == 1

    request = receiver.requests[0]
    body = request["body"]
    state = AlertState.objects.get()
    assert request["content_type"] == "application/json" and set(body) == DOCUMENTED_KEYS
    assert body["version"] == 1 and body["event"] == "firing" and body["alert_id"] == state.pk
    assert body["rule"] == {"id": rule.pk, "name": "payments"}
    # The group is ERR (Burrow's rules); the STALL rule fired on the partition behind it.
    assert (body["cluster"], body["group"], body["status"]) == ("prod", "payments-eu", "ERR")
    assert body["summary"] == "status ERR with partition events:0 STALL, one of STALL"
    assert body["values"] == {
        "status": "ERR",
        "lag": 1200,
        "lag_seconds": 340.0,
        "retention_margin_s": None,
        "members": 0,
        "partitions": [{"topic": "events", "partition": 0, "status": "STALL", "reason": "as the test says"}],
    }
    assert body["firing_since"] == (start + timedelta(seconds=15)).isoformat().replace("+00:00", "Z")
    assert body["resolved_at"] is None and body["muted"] is None and body["notification"] == 1
    assert body["links"] == {
        "group": "https://console.example.com/clusters/prod/groups/payments-eu/",
        "chart": "https://console.example.com/clusters/prod/groups/payments-eu/?range=1h",
        "alerts": "https://console.example.com/alerts/",
    }

    mail = _mails_to(mail_server, address)[0]
    assert mail["Subject"] == "[FIRING] payments: prod / payments-eu"
    assert "status ERR with partition events:0 STALL, one of STALL" in mail.get_payload()


def test_catching_up_resolves_the_alert_exactly_once(prod, receiver):
    _rule(prod, receiver, total_lag_over=1000)
    start = timezone.now()
    behind, caught_up = group("payments-us", lag=50_000), group("payments-us", lag=0)
    # Fires at once; clear from round 4 on, resolved 30 s (two rounds) later; then stays quiet.
    rounds(prod, start, [[behind]] * 4 + [[caught_up]] * 10)
    wait_for(lambda: len(receiver.requests) >= 2, what="the firing and the resolved notification")
    wait_for(_all_delivered, what="both deliveries")
    assert [b["event"] for b in receiver.bodies()] == ["firing", "resolved"]
    resolved = receiver.bodies("resolved")[0]
    assert resolved["resolved_at"] == (start + 6 * timedelta(seconds=15)).isoformat().replace("+00:00", "Z")
    # It says how it cleared, with the value it resolved at, and why it had fired; not the breach alone.
    clear_since = (start + 4 * timedelta(seconds=15)).astimezone(UTC).strftime("%H:%M:%S")
    assert resolved["values"]["lag"] == 0 and resolved["summary"] == (
        "resolved: total lag back to 0, at or under 900 (the rule's 1,000 less 10% hysteresis), clear since "
        f"{clear_since} UTC; it fired on: total lag of 50,000 messages is over 1,000"
    )
    assert AlertState.objects.get().phase == AlertState.Phase.RESOLVED


def test_a_lag_oscillating_around_the_threshold_does_not_flap(prod, receiver):
    _rule(prod, receiver, lag_seconds_over=60)
    sequence = [[group("payments-apac", lag_seconds=61.0 if i % 2 == 0 else 58.0)] for i in range(40)]
    reports = rounds(prod, timezone.now(), sequence)
    assert sum(len(r.events) for r in reports) == 1
    wait_for(lambda: receiver.requests and _all_delivered(), what="the one notification")
    assert [b["event"] for b in receiver.bodies()] == ["firing"]


def test_a_console_reset_within_the_window_mutes_and_the_alert_page_says_why(prod, receiver, client, make_user):
    alice = make_user("alice", "Operator")
    _rule(prod, receiver, statuses=["REWIND", "ERR"], total_lag_over=1000)
    now = timezone.now()
    reset = Operation.objects.create(
        kind=Operation.Kind.RESET,
        cluster=prod,
        group_id="payments-eu",
        reason="replay the day",
        requester=alice,
        status=Operation.Status.SUCCEEDED,
        started=now - timedelta(minutes=3),
        finished=now - timedelta(minutes=2),
    )
    report = rounds(prod, now, [[group("payments-eu", status="ERR", lag=90_000)]] * 3)
    assert all(r.events == [] for r in report) and AlertDelivery.objects.count() == 0

    client.force_login(alice)
    page = client.get("/alerts/").content.decode()
    assert f"offset reset by operation #{reset.pk} (alice)" in page
    assert f'href="/operations/{reset.pk}/"' in page
    assert "Muted until" in page and 'id="held"' in page and 'id="no-firing"' in page

    # Once the window has passed, a condition still holding fires (and says nothing of a mute any more).
    later = now + timedelta(minutes=14)
    rounds(prod, later, [[group("payments-eu", status="ERR", lag=90_000)]])
    wait_for(lambda: receiver.requests, what="the notification after the mute")
    assert receiver.bodies()[0]["event"] == "firing" and receiver.bodies()[0]["muted"] is None


def test_a_receiver_that_fails_is_retried_with_backoff_and_the_failure_shows_on_the_page(
    prod, receiver, client, make_user
):
    receiver.status = 500
    _rule(prod, receiver, no_members=True)
    rounds(prod, timezone.now(), [[group("payments-eu", members=0)]])
    delivery = AlertDelivery.objects.get()
    wait_for(lambda: AlertDelivery.objects.get().attempts >= 3, timeout=30, what="three attempts")

    client.force_login(make_user("viewer", "Viewer"))
    page = client.get("/alerts/").content.decode()
    assert f'data-delivery="{delivery.pk}" class="retrying"' in page
    assert "the receiver answered HTTP 500 Internal Server Error: receiver is down for the test" in page

    receiver.status = 200
    wait_for(lambda: AlertDelivery.objects.get().delivered_at is not None, timeout=30, what="the delivery")
    delivered = AlertDelivery.objects.get()
    assert delivered.attempts == len(receiver.requests) >= 4
    times = [r["at"] for r in receiver.requests]
    # Base 1 s in the test worker, doubled each time: the gaps grow.
    assert times[1] - times[0] >= 0.9 and times[2] - times[1] >= 1.9
    assert all(b == receiver.bodies()[0] for b in receiver.bodies())
    assert 'id="no-failing"' in client.get("/alerts/").content.decode()


def test_a_receiver_that_never_recovers_is_given_up_and_the_page_says_so(prod, receiver, client, make_user, settings):
    receiver.status = 503
    AlertRule.objects.create(
        name="orders", cluster=prod, group_pattern="orders", webhook_url=receiver.url, statuses=["STOP"]
    )
    rounds(prod, timezone.now(), [[group("orders", status="STOP")]])
    # ALERT_DELIVERY_ATTEMPTS is 6 in the worker: 1+2+4+8+16 s of backoff.
    wait_for(lambda: AlertDelivery.objects.get().gave_up_at is not None, timeout=60, what="the worker to give up")
    assert AlertDelivery.objects.get().attempts == len(receiver.requests) == 6
    client.force_login(make_user("viewer", "Viewer"))
    page = client.get("/alerts/").content.decode()
    assert 'class="gave-up"' in page and "HTTP 503" in page


def test_a_slack_format_webhook_gets_one_text(prod, receiver):
    _rule(prod, receiver, statuses=["STALL"], webhook_format=AlertRule.WebhookFormat.SLACK)
    rounds(prod, timezone.now(), [[group("payments-eu", status="STALL")]])
    wait_for(lambda: receiver.requests, what="the Slack notification")
    body = receiver.requests[0]["body"]
    assert list(body) == ["text"] and body["text"].startswith("*[FIRING] payments: prod / payments-eu*")


def test_an_unreachable_queue_never_holds_up_evaluation_and_the_sweep_sends_later(prod, receiver, use_test_redis):
    from console.celery import app
    from groups.tasks import send_due_alert_deliveries

    _rule(prod, receiver, statuses=["ERR"])
    app.conf.broker_url = "redis://127.0.0.1:1/0"  # nothing listens there
    try:
        started = time.monotonic()
        report = rounds(prod, timezone.now(), [[group("payments-eu", status="ERR")]])[0]
        took = time.monotonic() - started
    finally:
        app.conf.broker_url = use_test_redis
    assert report.events and took < 1, took
    assert AlertDelivery.objects.get().delivered_at is None and receiver.requests == []

    assert send_due_alert_deliveries() == report.deliveries  # what beat runs every minute
    wait_for(lambda: receiver.requests, what="the swept notification")
    wait_for(_all_delivered, what="the delivery to be marked delivered")
    assert len(receiver.requests) == 1


@pytest.mark.django_db
def test_a_resolved_notification_waits_for_its_firing_one_to_the_same_receiver(receiver):
    """No worker: the test makes the attempts itself, in the order two busy workers might."""
    from groups.alerting import delivery

    cluster = Cluster.objects.create(name="prod", bootstrap_servers="127.0.0.1:1")
    now = timezone.now()
    rule = _rule(cluster, receiver, total_lag_over=1000)
    state = AlertState.objects.create(rule=rule, cluster=cluster, group_id="payments-us", phase="resolved", updated=now)

    def notification(event: str) -> AlertDelivery:
        return AlertDelivery.objects.create(
            state=state,
            event=event,
            channel="webhook",
            target=receiver.url,
            webhook_format="json",
            payload={"event": event},
            created=now,
            next_attempt=now,
        )

    firing, resolved = notification("firing"), notification("resolved")
    delivery.deliver(resolved.pk)  # its worker got to it first: it waits, and that is no attempt
    resolved.refresh_from_db()
    assert receiver.requests == [] and resolved.attempts == 0 and resolved.delivered_at is None
    delivery.deliver(firing.pk)
    delivery.deliver(resolved.pk)
    assert [b["event"] for b in receiver.bodies()] == ["firing", "resolved"]
