"""Replay planning without a broker: request checks, ranges as offsets, filters, sample text, warnings."""

from __future__ import annotations

import dataclasses

import pytest

from groups.kafka import Record, TopicFacts
from groups.models import Operation
from groups.planning.replays import (
    PartitionBounds,
    ReplayError,
    ReplayRequest,
    check_request,
    check_target,
    empty_range_message,
    plan_ranges,
    record_filter,
    replay_warnings,
    requested_partitions,
    shown_bytes,
)

NOW = 1_800_000_000_000
HOUR, DAY = 3_600_000, 86_400_000


def by_offsets(offsets: dict[int, tuple[int, int]], **changes) -> ReplayRequest:
    return dataclasses.replace(
        ReplayRequest(
            topic="orders",
            partitions=None,
            offsets=offsets,
            time_from_ms=None,
            time_to_ms=None,
            target_topic="orders-copy",
        ),
        **changes,
    )


def by_time(start: int, end: int, **changes) -> ReplayRequest:
    return dataclasses.replace(
        ReplayRequest(
            topic="orders",
            partitions=None,
            offsets=None,
            time_from_ms=start,
            time_to_ms=end,
            target_topic="orders-copy",
        ),
        **changes,
    )


def facts(name: str, partitions: int = 3, **changes) -> TopicFacts:
    return dataclasses.replace(
        TopicFacts(
            name=name,
            partitions=partitions,
            timestamp_type="CreateTime",
            retention_ms=7 * DAY,
            timestamp_after_max_ms=HOUR,
            timestamp_before_max_ms=None,
        ),
        **changes,
    )


def record(partition=0, offset=0, stamp=NOW - HOUR, key=b"k", value=b"v", headers=()) -> Record:
    return Record(partition=partition, offset=offset, timestamp_ms=stamp, key=key, value=value, headers=tuple(headers))


@pytest.mark.parametrize(
    "request_, message",
    [
        (by_offsets({0: (7, 2)}), "The range 7-2 of partition 0 is reversed"),
        (by_offsets({0: (3, 3)}), "The range 3-3 of partition 0 is empty"),
        (by_offsets({0: (0, 5), 1: (9, 1)}), "partition 1 is reversed"),
        (by_time(NOW, NOW - 1), "is reversed: the start must come before the end"),
        (by_time(NOW, NOW), "is empty"),
        (by_offsets({0: (0, 5)}, time_from_ms=NOW, time_to_ms=NOW + 1), "by offsets or by time, not both"),
        (by_time(None, None), "Give the range to copy"),
        (by_offsets({0: (0, 5)}, key_regex="user-(\\d+"), "does not compile"),
        (by_offsets({0: (0, 5)}, key_regex="a{99999999999}"), "too large to compile"),
        (by_offsets({0: (0, 5)}, key_regex="(" * 500 + ")" * 500), "too large to compile"),
        (by_offsets({0: (0, 5)}, throttle_rps=0), "The throttle must be at least 1 record per second"),
        (by_offsets({0: (0, 5)}, throttle_rps=-5), "The throttle must be at least 1 record per second"),
        (by_offsets({0: (0, 5)}, partitioning="round-robin"), "Partitioning 'round-robin' is unknown"),
        (by_offsets({0: (0, 5)}, target_topic=""), "Choose the target topic"),
        (by_offsets({0: (0, 5)}, partitions=(0, 1)), "name partitions 0 but the partitions chosen are 0, 1"),
        (by_offsets({0: (0, 5)}, header_equals=("", "x")), "Name the header"),
        (by_offsets({0: (0, 5)}, topic="__consumer_offsets"), "'__consumer_offsets' is one of Kafka's internal topics"),
        (by_time(NOW - HOUR, NOW, topic="__share_group_state"), "does not replay it"),
    ],
)
def test_bad_requests_are_refused_with_a_message_before_any_kafka_call(request_, message):
    with pytest.raises(ReplayError, match=message.replace("(", r"\(").replace("[", r"\[")):
        check_request(request_)


def test_a_well_formed_request_passes_the_checks():
    check_request(by_offsets({0: (0, 5), 2: (10, 11)}, key_regex="^user-\\d+$", throttle_rps=1))
    check_request(by_time(NOW - HOUR, NOW, partitions=(1,), header_equals=("source", "billing")))


def test_a_request_survives_its_json_form_unchanged():
    original = by_offsets(
        {0: (0, 5), 11: (7, 9)},
        partitions=(0, 11),
        key_equals="k",
        key_regex="^a",
        header_present="trace",
        header_equals=("source", "billing=eu"),
        partitioning="key-hash",
        keep_timestamps=False,
        throttle_rps=250,
    )
    import json

    assert ReplayRequest.from_json(json.loads(json.dumps(original.to_json()))) == original
    timed = by_time(NOW - HOUR, NOW)
    assert ReplayRequest.from_json(json.loads(json.dumps(timed.to_json()))) == timed


def test_partitions_the_topic_lacks_are_named():
    with pytest.raises(ReplayError, match=r"has 3 partitions \(0 to 2\): partition 7 does not exist"):
        requested_partitions(by_offsets({0: (0, 5), 7: (0, 1)}), 3)
    with pytest.raises(ReplayError, match="partitions 3, 4 do not exist"):
        requested_partitions(by_time(0, 1, partitions=(4, 3, 0)), 3)
    assert requested_partitions(by_time(0, 1), 3) == [0, 1, 2]
    assert requested_partitions(by_time(0, 1, partitions=(2, 0)), 3) == [0, 2]


@pytest.mark.parametrize("partitioning", ["same", "key-hash"])
def test_copying_a_topic_into_itself_is_refused_as_an_overlap(partitioning):
    with pytest.raises(ReplayError, match="overlap its own copies"):
        check_target(by_offsets({0: (0, 5)}, target_topic="orders", partitioning=partitioning), [0], 3)


def test_same_partitioning_needs_the_partition_numbers_in_the_target():
    with pytest.raises(ReplayError, match="source partitions 2, 3 have no partition of the same number.*at least 4"):
        check_target(by_time(0, 1), [0, 1, 2, 3], 2)
    check_target(by_time(0, 1, partitioning="key-hash"), [0, 1, 2, 3], 2)
    check_target(by_time(0, 1), [0, 1], 2)


def test_offset_ranges_are_clamped_to_the_log_and_to_the_last_stable_offset():
    bounds = {0: PartitionBounds(10, 100, 100), 1: PartitionBounds(0, 50, 40), 2: PartitionBounds(0, 30, 30)}
    rows, warnings = plan_ranges(by_offsets({0: (5, 20), 1: (30, 60), 2: (5, 25)}), bounds)
    assert [(r["partition"], r["start"], r["end"], r["count"]) for r in rows] == [
        (0, 10, 20, 10),
        (1, 30, 40, 10),
        (2, 5, 25, 20),
    ]
    assert rows[0]["topic"] == "orders" and "into 'orders-copy' partition 0" in rows[0]["note"]
    assert any("Partition 0: offsets before 10 were deleted" in w for w in warnings)
    assert any("Partition 1: the range ends at its last stable offset 40" in w for w in warnings)
    assert len(warnings) == 2


def test_an_offset_range_entirely_past_the_end_is_empty_not_reversed():
    rows, _ = plan_ranges(by_offsets({0: (80, 90)}), {0: PartitionBounds(0, 50, 50)})
    assert (rows[0]["start"], rows[0]["end"], rows[0]["count"]) == (50, 50, 0)
    assert "outside the logs (partition 0: 0 to 50)" in empty_range_message(
        by_offsets({0: (80, 90)}), {0: PartitionBounds(0, 50, 50)}
    )


def test_a_time_window_uses_the_broker_lookups_and_the_end_where_no_record_qualifies():
    bounds = {0: PartitionBounds(0, 100, 100), 1: PartitionBounds(0, 40, 40), 2: PartitionBounds(5, 60, 55)}
    rows, warnings = plan_ranges(
        by_time(NOW - HOUR, NOW), bounds, at_from={0: 20, 1: None, 2: 10}, at_to={0: 70, 1: None, 2: None}
    )
    assert [(r["partition"], r["start"], r["end"]) for r in rows] == [(0, 20, 70), (1, 40, 40), (2, 10, 55)]
    assert warnings == [
        "Partition 2: a transaction is still open from offset 55; the range stops there, since its "
        "records are not final."
    ]


def test_filters_match_keys_and_headers_as_asked_and_all_must_hold():
    headers = [("trace", b"1"), ("source", b"shop"), ("source", b"billing"), ("empty", None)]
    assert record_filter(by_time(0, 1)) is None
    assert record_filter(by_time(0, 1, key_equals="user-1"))(b"user-1", None)
    assert not record_filter(by_time(0, 1, key_equals="user-1"))(b"user-10", None)
    assert not record_filter(by_time(0, 1, key_equals="user-1"))(None, None)
    regex = record_filter(by_time(0, 1, key_regex="user-[0-5]$"))
    assert regex(b"user-3", None) and regex(b"vip-user-3", None) and not regex(b"user-7", None)
    assert not regex(None, None) and not regex(b"\xff\xfe", None)
    present = record_filter(by_time(0, 1, header_present="empty"))
    assert present(b"k", headers) and not present(b"k", None) and not present(b"k", [("other", b"")])
    # A duplicate header name matches on any of its values.
    equals = record_filter(by_time(0, 1, header_equals=("source", "billing")))
    assert equals(None, headers) and not equals(None, [("source", b"shop")]) and not equals(None, None)
    both = record_filter(by_time(0, 1, key_regex="^user-", header_equals=("source", "billing")))
    assert both(b"user-1", headers) and not both(b"order-1", headers) and not both(b"user-1", [("source", b"x")])


@pytest.mark.parametrize(
    "data, expected",
    [
        (None, (None, "null", False)),
        (b'{"n": 2, "text": "\xc3\xa9"}', ('{"n": 2, "text": "é"}', "json", False)),
        (b"[1, 2]", ("[1, 2]", "json", False)),
        (b"{not json", ("{not json", "utf-8", False)),
        (b"plain 1\n", ("plain 1\n", "utf-8", False)),
        (b"42", ("42", "utf-8", False)),
        (b"\x00\xff\x10", ("00 ff 10", "hex", False)),
        (b"", ("", "utf-8", False)),
    ],
)
def test_sample_bytes_are_shown_as_json_utf8_or_hex(data, expected):
    assert shown_bytes(data) == expected


def test_long_sample_values_are_truncated_and_say_so():
    text, kind, truncated = shown_bytes(b"a" * 1000, limit=300)
    assert (len(text), kind, truncated) == (300, "utf-8", True)
    text, kind, truncated = shown_bytes(bytes(range(256)), limit=300)
    assert kind == "hex" and truncated and text.startswith("00 01 02") and len(text.split()) == 100


def _warnings(request, *, target=None, records=(), max_timestamps=None, rows=None):
    rows = rows or [{"partition": 0, "start": 0, "end": 10, "count": 10}]
    return replay_warnings(
        request, rows, facts("orders"), target or facts("orders-copy"), list(records), max_timestamps or {}, NOW
    )


def test_a_log_append_time_target_warns_that_original_timestamps_are_lost():
    warnings = _warnings(by_time(0, 1), target=facts("orders-copy", timestamp_type="LogAppendTime"), records=[record()])
    assert any("uses LogAppendTime" in w and "original timestamps will be lost" in w for w in warnings)
    assert not any(
        "LogAppendTime" in w
        for w in _warnings(by_time(0, 1, keep_timestamps=False), target=facts("x", timestamp_type="LogAppendTime"))
    )


def test_retention_that_would_delete_copies_of_old_records_soon_is_warned_about():
    old = [record(stamp=NOW - 30 * DAY), record(offset=1, stamp=NOW - HOUR)]
    warnings = _warnings(by_time(0, 1), records=old)
    assert any("retention (7 days) deletes copies that old at once" in w for w in warnings)
    nearly = _warnings(by_time(0, 1), records=[record(stamp=NOW - 7 * DAY + 5 * HOUR)])
    assert any("within 5 hours" in w for w in nearly)
    assert not any("retention" in w for w in _warnings(by_time(0, 1), records=[record(stamp=NOW - DAY)]))
    assert not any("retention" in w for w in _warnings(by_time(0, 1, keep_timestamps=False), records=old))
    assert not any(
        "retention" in w for w in _warnings(by_time(0, 1), records=old, target=facts("x", retention_ms=None))
    )


def test_records_newer_than_the_target_accepts_are_warned_about():
    inside = _warnings(by_time(0, 1), max_timestamps={0: (4, NOW + 2 * HOUR)})
    assert any("Partition 0 offset 4 is stamped" in w and "the copy would fail there" in w for w in inside)
    outside = _warnings(by_time(0, 1), max_timestamps={0: (40, NOW + 2 * HOUR)})
    assert any("if any are in the range, the copy fails on them" in w for w in outside)
    assert not any("newer" in w for w in _warnings(by_time(0, 1), max_timestamps={0: (4, NOW + HOUR // 2)}))
    assert not any(
        "newer" in w for w in _warnings(by_time(0, 1, keep_timestamps=False), max_timestamps={0: (4, NOW + 2 * HOUR)})
    )


def test_a_filter_matching_nothing_in_the_sample_is_warned_about():
    sample = [record(key=b"user-1"), record(offset=1, key=b"user-2")]
    assert any(
        "The filter matches none of the 2 sampled records" in w
        for w in _warnings(by_time(0, 1, key_equals="order-1"), records=sample)
    )
    assert not any("filter" in w for w in _warnings(by_time(0, 1, key_equals="user-2"), records=sample))
    assert not any("filter" in w for w in _warnings(by_time(0, 1), records=sample))


def test_time_left_scales_the_rate_by_the_offsets_each_copy_takes():
    running = Operation(
        status=Operation.Status.RUNNING,
        progress_total=1000,
        progress_scanned=400,
        progress_copied=200,
        progress_rate=50.0,
    )
    # 600 offsets left at 2 offsets per copy, 50 copies a second.
    assert running.eta_seconds == pytest.approx(24.0)
    assert Operation(status=Operation.Status.RUNNING, progress_total=10, progress_rate=0.0).eta_seconds is None
    assert (
        Operation(
            status=Operation.Status.SUCCEEDED, progress_total=10, progress_copied=10, progress_rate=5.0
        ).eta_seconds
        is None
    )
