"""What the collector hands the alert engine besides the round's groups: when the previous round read Kafka,
which is how the engine tells a collection gap (groups.alerting.rounds)."""

from datetime import UTC, datetime
from types import SimpleNamespace

from groups.snapshot import feeds


def test_the_alert_round_is_told_when_the_previous_round_that_read_kafka_was(monkeypatch):
    calls = []
    monkeypatch.setattr(feeds, "evaluate_round", lambda *args, **kwargs: calls.append((args, kwargs)))
    evaluated = SimpleNamespace(groups=[], causes={}, window_ms=(1_000_000, 1_015_000, 1_405_000))
    assert feeds.alert_round(SimpleNamespace(name="prod"), evaluated, 1_405_000)
    (_, _, now), kwargs = calls[0]
    assert now == datetime.fromtimestamp(1_405, tz=UTC)
    assert kwargs == {"previous_round": datetime.fromtimestamp(1_015, tz=UTC)}
    # The first round of a cluster has none before it: no gap is assumed.
    first = SimpleNamespace(groups=[], causes={}, window_ms=(1_405_000,))
    assert feeds.alert_round(SimpleNamespace(name="prod"), first, 1_405_000)
    assert calls[1][1] == {"previous_round": None}
