"""What notifications say, and which rule patterns lie within a grant's pattern."""

from datetime import UTC, datetime, timedelta

import pytest

from groups.access import pattern_within
from groups.alerting.payloads import alert_body, chart_range, email_message, slack_body

NOW = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)


def body(**changes) -> dict:
    arguments = {
        "event": "firing",
        "alert_id": 7,
        "rule_id": 3,
        "rule_name": "payments stalled",
        "cluster": "prod",
        "group": "payments",
        "summary": "status STALL is one of STALL",
        "values": {
            "status": "STALL",
            "lag": 1200,
            "lag_seconds": 95.0,
            "retention_margin_s": None,
            "members": 0,
            "partitions": [{"topic": "orders", "partition": 2, "status": "STALL", "reason": "stuck"}],
        },
        "firing_since": NOW,
        "resolved_at": None,
        "notification": 1,
        "mute": None,
        "time": NOW,
        "group_url": "http://console/clusters/prod/groups/payments/",
        "chart_url": "http://console/clusters/prod/groups/payments/?range=1h",
        "alerts_url": "http://console/alerts/",
    }
    return alert_body(**{**arguments, **changes})


@pytest.mark.parametrize(
    ("age", "expected"),
    [
        (timedelta(0), "1h"),
        (timedelta(minutes=59), "1h"),
        (timedelta(hours=2), "6h"),
        (timedelta(hours=7), "24h"),
        (timedelta(days=3), "7d"),
        (timedelta(days=20), "30d"),
        (timedelta(days=90), "30d"),
    ],
)
def test_the_chart_link_uses_the_shortest_range_that_shows_the_whole_alert(age, expected):
    assert chart_range(NOW - age, NOW) == expected


def test_the_webhook_body_carries_the_documented_fields():
    sent = body()
    assert sent == {
        "version": 1,
        "event": "firing",
        "alert_id": 7,
        "rule": {"id": 3, "name": "payments stalled"},
        "cluster": "prod",
        "group": "payments",
        "status": "STALL",
        "summary": "status STALL is one of STALL",
        "values": sent["values"],
        "firing_since": "2026-12-01T09:00:00Z",
        "resolved_at": None,
        "notification": 1,
        "muted": None,
        "time": "2026-12-01T09:00:00Z",
        "links": {
            "group": "http://console/clusters/prod/groups/payments/",
            "chart": "http://console/clusters/prod/groups/payments/?range=1h",
            "alerts": "http://console/alerts/",
        },
    }


def test_the_slack_body_is_one_text_with_the_headline_the_cause_and_the_links():
    text = slack_body(body())["text"]
    assert text.startswith("*[FIRING] payments stalled: prod / payments*\nstatus STALL is one of STALL\n")
    assert "orders:2 STALL stuck" in text
    assert "<http://console/clusters/prod/groups/payments/?range=1h|Chart>" in text


def test_the_email_says_resolved_and_why_it_fired_and_names_the_mute():
    mute = {"operation_id": 42, "until": "2026-12-01T09:15:00Z", "text": "offset reset by operation #42 (alice)"}
    subject, text = email_message(body(event="resolved", resolved_at=NOW + timedelta(minutes=5), mute=mute))
    assert subject == "[RESOLVED] payments stalled: prod / payments"
    assert "Resolved. It fired because: status STALL is one of STALL" in text
    assert "Muted until 2026-12-01T09:15:00Z: offset reset by operation #42 (alice)." in text
    assert "resolved at 2026-12-01T09:05:00Z" in text


@pytest.mark.parametrize(
    ("pattern", "outer", "within"),
    [
        ("anything-*", "*", True),
        ("payments-*", "payments-*", True),
        ("payments-eu-*", "payments-*", True),
        ("payments-eu", "payments-*", True),
        ("payments?", "payments-*", False),
        ("pay*", "payments-*", False),
        ("orders-*", "payments-*", False),
        ("*", "payments-*", False),
        ("payments-eu", "payments-eu", True),
        ("payments-us", "payments-eu", False),
        ("a-x", "?-x", True),
        ("a-*", "?-*", False),  # true, but not a prefix pattern: refused rather than guessed
    ],
)
def test_a_rule_pattern_must_lie_within_the_grant_pattern(pattern, outer, within):
    assert pattern_within(pattern, outer) is within
