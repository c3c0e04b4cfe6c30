"""What a collection round feeds besides the snapshot: the history store and the alert rules, both by
every fresh round only."""

from __future__ import annotations

import logging
import re
import socket
import time

import pytest
from django.urls import reverse

from groups.models import AlertRule, AlertState, Cluster
from groups.snapshot import feeds, history
from groups.snapshot.collector import COLLECTED, FAILED, collect
from groups.snapshot.rows import GroupRow
from tests import kafkatools as kt

pytestmark = [pytest.mark.integration, pytest.mark.django_db]


def _hour_ago() -> int:
    """Where history is read from: within a day, it answers round by round."""
    return int(time.time() * 1000) - 3_600_000


@pytest.fixture
def lagging(cluster, kafka_bootstrap, unique):
    """(topic, group): the group 70 behind on the topic's two partitions, with a rule on its lag."""
    topic, group = unique("feeds"), unique("feeds-group")
    kt.create_topic(kafka_bootstrap, topic, 2)
    kt.produce(kafka_bootstrap, topic, {0: 40, 1: 40})
    kt.commit(kafka_bootstrap, group, {(topic, 0): 0, (topic, 1): 10})
    AlertRule.objects.create(
        name="behind", cluster=cluster, group_pattern=group, total_lag_over=50, emails=["ops@example.com"]
    )
    return topic, group


def test_a_fresh_round_moves_the_alert_rules_on_with_the_groups_figures(cluster, lagging, use_test_redis):
    assert collect(cluster).outcome == COLLECTED
    state = AlertState.objects.get(group_id=lagging[1])
    assert state.phase == AlertState.Phase.FIRING
    assert state.facts["lag"] == 70 and state.facts["status"] == "NEW" and state.facts["members"] == 0
    assert "lag" in state.summary


def test_a_rule_on_stop_fires_for_a_group_whose_partitions_stopped_though_the_group_itself_is_err(
    cluster, lagging, use_test_redis, settings
):
    # Burrow's rules make a group with STOP partitions ERR: the rule must look at the partitions.
    settings.COLLECT_WINDOW_ROUNDS = 2
    _, group = lagging
    rule = AlertRule.objects.create(
        name="stopped", cluster=cluster, group_pattern=group, statuses=["STOP"], emails=["ops@example.com"]
    )
    for _ in range(3):
        assert collect(cluster).outcome == COLLECTED
    state = AlertState.objects.get(rule=rule, group_id=group)
    assert state.phase == AlertState.Phase.FIRING and state.facts["status"] == "ERR"
    assert {(p["partition"], p["status"]) for p in state.facts["partitions"]} == {(0, "STOP"), (1, "STOP")}
    assert f"{lagging[0]}:0 STOP" in state.summary


def test_a_failing_alert_evaluation_is_logged_and_the_round_still_serves_its_snapshot(
    cluster, lagging, use_test_redis, monkeypatch, caplog
):
    def broken(*args, **kwargs):
        raise RuntimeError("the alert engine broke")

    monkeypatch.setattr(feeds, "evaluate_round", broken)
    with caplog.at_level(logging.ERROR, logger="groups.snapshot.feeds"):
        report = collect(cluster)
    assert report.outcome == COLLECTED and report.snapshot_id is not None
    assert "Alert evaluation failed for cluster local" in caplog.text and "the alert engine broke" in caplog.text
    assert not AlertState.objects.exists()


def test_a_stale_round_leaves_the_alerts_as_they_were(cluster, lagging, use_test_redis, settings):
    _, group = lagging
    assert collect(cluster).outcome == COLLECTED
    before = AlertState.objects.get(group_id=group)
    settings.KAFKA_REQUEST_TIMEOUT = 1.5
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        Cluster.objects.filter(pk=cluster.pk).update(bootstrap_servers=f"127.0.0.1:{s.getsockname()[1]}")
    cluster.refresh_from_db()
    assert collect(cluster).outcome == FAILED
    after = AlertState.objects.get(group_id=group)
    assert (after.phase, after.updated, after.facts) == (before.phase, before.updated, before.facts)


def test_each_fresh_round_appends_the_groups_and_partitions_to_history_and_a_stale_one_nothing(
    cluster, lagging, kafka_bootstrap, use_test_redis, settings
):
    topic, group = lagging
    first = collect(cluster)
    kt.produce(kafka_bootstrap, topic, {0: 5})
    second = collect(cluster)
    assert (first.outcome, second.outcome) == (COLLECTED, COLLECTED)
    points = history.read_series(cluster.pk, history.SERIES_GROUP, group, since_ms=_hour_ago())
    assert [p.last for p in points] == [(70, points[0].last[1], "NEW", 0), (75, points[1].last[1], "NEW", 0)]
    partition = history.partition_key(topic, 0)
    ends = history.read_series(cluster.pk, history.SERIES_PARTITION, partition, since_ms=_hour_ago())
    assert [(p.last[0], p.last[1]) for p in ends] == [(0, 40), (0, 45)]
    # The newest record: its offset (the first of the last batch, when its records share a millisecond) and time.
    assert 40 <= ends[1].last[2] <= 44 and abs(ends[1].last[3] - time.time() * 1000) < 60_000

    settings.KAFKA_REQUEST_TIMEOUT = 1.5
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        Cluster.objects.filter(pk=cluster.pk).update(bootstrap_servers=f"127.0.0.1:{s.getsockname()[1]}")
    cluster.refresh_from_db()
    assert collect(cluster).outcome == FAILED
    assert len(history.read_series(cluster.pk, history.SERIES_GROUP, group, since_ms=_hour_ago())) == 2


def test_the_alerts_page_links_the_group_page_and_its_chart_at_the_alerts_range(
    cluster, lagging, use_test_redis, viewer_client
):
    _, group = lagging
    assert collect(cluster).outcome == COLLECTED
    page = viewer_client.get(reverse("alert_list")).content.decode()
    group_url = reverse("group_page", args=["local", group])
    assert f'href="{group_url}"' in page
    chart_url = re.search(rf'<a class="chart-link" href="({re.escape(group_url)}\?range=(\w+))">', page)
    assert chart_url is not None and chart_url.group(2) == "1h"  # it began firing this minute
    chart = viewer_client.get(chart_url.group(1)).content.decode()
    assert 'aria-current="true">1 h</a>' in chart and f"Lag of {group}" in chart


def _row(group_id: str, seconds: float, method: str, *, doubtful: bool = False) -> GroupRow:
    """A stopped group 40 behind on one partition, as evaluate() would give it."""
    return GroupRow(
        group_id,
        "Empty",
        "classic",
        0,
        ["t"],
        1,
        40,
        "",
        "",
        lag_seconds=seconds,
        lag_seconds_method=method,
        lag_seconds_doubtful=doubtful,
        status="ERR",
    )


def test_history_keeps_no_lag_in_seconds_the_dating_task_will_replace_and_keeps_every_other_figure(cluster):
    # A reset or undo below the partition's history leaves one round with a guess (the review saw a 2-day
    # spike on a 5-hour lag), a restart after a gap one interpolated across it (20 minutes for 20 seconds);
    # the next round has the record's own time (groups.snapshot.dating).
    t_ms = history.now_ms() - 60_000
    rows = [
        _row("guessed", 183_827.8, "extrapolated", doubtful=True),
        _row("bound", 12.0, "lower-bound", doubtful=True),
        _row("across-gap", 1_197.7, "interpolated", doubtful=True),
        _row("interpolated", 21.0, "interpolated"),
        _row("dated", 19_000.0, "record-timestamp"),
    ]
    assert feeds.history_round(cluster, t_ms, rows, {})
    for group, seconds in (
        ("guessed", None),
        ("bound", None),
        ("across-gap", None),
        ("interpolated", 21.0),
        ("dated", 19_000.0),
    ):
        (point,) = history.read_series(cluster.pk, history.SERIES_GROUP, group, since_ms=t_ms - 1)
        assert point.last[:2] == (40, seconds)
