"""Committed offsets older than the collector's history get their record's own age (groups.snapshot.dating),
against the real broker."""

from __future__ import annotations

import time

import pytest

from groups import estimates
from groups.models import DatedRecord
from groups.snapshot import dating, queries
from groups.snapshot.collector import COLLECTED, RoundReport, collect
from tests import kafkatools as kt

pytestmark = [pytest.mark.integration, pytest.mark.django_db]

HOUR_MS = 3_600_000


def _collected(cluster, group):
    report = collect(cluster)
    assert report.outcome == COLLECTED, report.reason
    return report, queries.group_row(queries.latest_snapshot(cluster).snapshot, group)


def _dated(cluster, topic) -> list[tuple[int, int, int]]:
    return list(
        DatedRecord.objects.filter(cluster=cluster, topic=topic)
        .order_by("offset")
        .values_list("offset", "record_offset", "timestamp_ms")
    )


def test_a_group_stopped_before_the_first_round_gets_its_records_own_age_once_dated(
    cluster, kafka_bootstrap, unique, use_test_redis
):
    topic, group = unique("dated"), unique("dated-group")
    kt.create_topic(kafka_bootstrap, topic, 1)
    written_ms = int(time.time() * 1000) - 2 * HOUR_MS  # by the records' own timestamps
    kt.produce(kafka_bootstrap, topic, {0: 5}, timestamp_ms=written_ms)
    kt.produce(kafka_bootstrap, topic, {0: 5})
    kt.commit(kafka_bootstrap, group, {(topic, 0): 2})

    # The history starts with this round: offset 2 lies below it, so its age is only a bound.
    report, row = _collected(cluster, group)
    assert isinstance(report, RoundReport) and report.undated >= 1
    assert row.lag == 8 and row.lag_seconds_method in estimates.UNDATED and row.lag_seconds_doubtful
    assert row.lag_seconds < HOUR_MS / 1000  # the newest record's age: seconds, not two hours

    dated = dating.date_records(cluster)
    assert dated.read >= 1 and not dated.error
    assert _dated(cluster, topic) == [(2, 2, written_ms)]

    _, row = _collected(cluster, group)
    assert (row.lag_seconds_method, row.lag_seconds_doubtful) == ("record-timestamp", False)
    assert row.lag_seconds == pytest.approx((time.time() * 1000 - written_ms) / 1000, abs=30)
    # Nothing more to read, and the record stays while the group sits there.
    assert dating.date_records(cluster).read == 0 and _dated(cluster, topic) == [(2, 2, written_ms)]

    kt.commit(kafka_bootstrap, group, {(topic, 0): 10})  # caught up: the dated record is no longer needed
    _collected(cluster, group)
    assert dating.date_records(cluster).dropped >= 1
    assert _dated(cluster, topic) == []


def test_a_deleted_record_is_dated_by_the_next_surviving_one(cluster, kafka_bootstrap, unique, use_test_redis):
    topic, group = unique("dated-gone"), unique("dated-gone-group")
    kt.create_topic(kafka_bootstrap, topic, 1)
    old_ms = int(time.time() * 1000) - 3 * HOUR_MS
    kt.produce(kafka_bootstrap, topic, {0: 4}, timestamp_ms=old_ms)
    kt.produce(kafka_bootstrap, topic, {0: 4}, timestamp_ms=old_ms + HOUR_MS)
    kt.commit(kafka_bootstrap, group, {(topic, 0): 1})
    kt.delete_records(kafka_bootstrap, topic, 0, 4)  # offsets 0 to 3 are gone, the group's record with them

    _collected(cluster, group)
    assert not dating.date_records(cluster).error
    assert _dated(cluster, topic) == [(1, 4, old_ms + HOUR_MS)]
    _, row = _collected(cluster, group)
    # At least the age of record 4; the records before it were deleted unread.
    assert row.lag_seconds_doubtful and row.lag_seconds >= HOUR_MS * 2 / 1000 - 30
