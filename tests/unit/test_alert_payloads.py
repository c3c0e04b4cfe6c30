"""What notifications say, which rule patterns lie within a grant's pattern, and which webhook destinations
the console refuses to post to."""

import socket
from datetime import UTC, datetime, timedelta

import pytest

from groups.access import pattern_within
from groups.alerting.delivery import DeliveryFailed, post_webhook
from groups.alerting.destinations import DestinationError, link_local_refusal
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
    assert "Status STALL, total lag 1,200, lag in time 1m 35s, members 0." in text
    untold = {**body()["values"], "lag_seconds": None, "lag": None}
    assert "total lag unknown, lag in time unknown," in slack_body(body(values=untold))["text"]


def test_the_email_says_resolved_and_why_it_fired_and_names_the_mute():
    mute = {"operation_id": 42, "until": "2026-12-01T09:15:00Z", "text": "offset reset by operation #42 (alice)"}
    summary = (
        "resolved: status now OK, none of STALL, clear since 09:03:00 UTC; it fired on: status STALL is one of STALL"
    )
    subject, text = email_message(
        body(event="resolved", resolved_at=NOW + timedelta(minutes=5), mute=mute, summary=summary)
    )
    assert subject == "[RESOLVED] payments stalled: prod / payments"
    assert text.startswith(summary + "\n")
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


def resolver(answers: dict[str, list[str]], asked: list | None = None):
    """A resolver answering `answers` (host -> addresses), recording (host, port) in `asked`; others do not resolve."""

    def resolve(host: str, port: int) -> list[str]:
        if asked is not None:
            asked.append((host, port))
        if host not in answers:
            raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")
        return answers[host]

    return resolve


@pytest.mark.parametrize("address", ["169.254.169.254", "fe80::1%eth0", "::ffff:169.254.1.1", "64:ff9b::a9fe:a9fe"])
def test_a_host_name_resolving_to_a_link_local_address_is_refused_naming_the_host_and_the_address(address):
    asked: list = []
    refusal = link_local_refusal(
        "https://hooks.corp.test:8443/x", resolver({"hooks.corp.test": ["10.0.0.5", address]}, asked)
    )
    assert refusal is not None and refusal.startswith(
        f"A link-local address is refused: the host 'hooks.corp.test' resolves to {address}, in 169.254.0.0/16 or "
        "fe80::/10, where cloud metadata services answer, not webhook receivers. Give the receiver's own name or "
        "address."
    )
    assert asked == [("hooks.corp.test", 8443)]


def test_loopback_and_private_receivers_are_allowed_and_literal_addresses_are_not_looked_up():
    asked: list = []
    allowed = resolver({"localhost": ["127.0.0.1", "::1"], "hooks.lan": ["192.168.1.9", "fd00::9"]}, asked)
    for url in ("http://localhost:8080/hook", "https://hooks.lan/hook", "http://10.1.2.3/hook", "http://[::1]:9/h"):
        assert link_local_refusal(url, allowed) is None, url
    assert asked == [("localhost", 8080), ("hooks.lan", 443)]
    assert link_local_refusal("http://169.254.169.254/latest/", allowed) == (
        "A link-local address is refused: 169.254.169.254 lies in 169.254.0.0/16 or fe80::/10, where cloud metadata "
        "services answer, not webhook receivers. Give the receiver's own address."
    )
    # The system's own resolver, as deliveries use it.
    assert link_local_refusal("http://localhost:8080/hook") is None


def test_a_host_that_does_not_resolve_is_told_by_name():
    with pytest.raises(DestinationError, match=r"^The host 'gone.corp.test' does not resolve \(.*not known\)"):
        link_local_refusal("https://gone.corp.test/hook", resolver({}))


def test_each_delivery_resolves_the_host_again_and_sends_nothing_to_a_link_local_address():
    asked: list = []
    with pytest.raises(DeliveryFailed, match=r"^not sent: .* the host 'hooks.corp.test' resolves to 169.254.169.254"):
        post_webhook(
            "http://hooks.corp.test/x", {"event": "firing"}, resolver({"hooks.corp.test": ["169.254.169.254"]}, asked)
        )
    assert asked == [("hooks.corp.test", 80)]
    with pytest.raises(DeliveryFailed, match=r"^cannot reach the receiver: The host 'gone.corp.test' does not resolve"):
        post_webhook("http://gone.corp.test/x", {"event": "firing"}, resolver({}))
