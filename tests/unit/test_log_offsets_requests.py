"""How the collector asks for log ends and newest records: one ListOffsets per leader and spec, every
partition's error code read."""

import kafka.errors
import pytest
from kafka.protocol.consumer import OffsetSpec

from groups.kafka import TP, LogOffsets
from groups.kafka.log_offsets import PartitionAnswer, reading_from, requests_by_leader


def _asked(request) -> dict[TP, int]:
    return {TP(t.name, p.partition_index): p.timestamp for t in request.topics for p in t.partitions}


def test_one_request_per_leader_and_spec_carries_all_that_leaders_partitions():
    leaders = {TP("a", 0): 1, TP("a", 1): 2, TP("b", 0): 1, TP("c", 0): None, TP("c", 1): -1}
    requests = requests_by_leader(leaders)

    assert set(requests) == {(spec, leader) for spec in ("start", "end", "newest") for leader in (1, 2)}
    assert _asked(requests[("start", 1)]) == {TP("a", 0): OffsetSpec.EARLIEST, TP("b", 0): OffsetSpec.EARLIEST}
    assert _asked(requests[("end", 2)]) == {TP("a", 1): OffsetSpec.LATEST}
    assert _asked(requests[("newest", 1)]) == {
        TP("a", 0): OffsetSpec.MAX_TIMESTAMP,
        TP("b", 0): OffsetSpec.MAX_TIMESTAMP,
    }
    # read_uncommitted: the high watermark, not the last stable offset.
    assert all(r.isolation_level == 0 for r in requests.values())


def test_partitions_gone_or_between_leaders_are_unknown_and_empty_ones_have_no_newest_record():
    ok, gone, moving, leaderless, empty = TP("t", 0), TP("t", 1), TP("t", 2), TP("t", 3), TP("t", 4)
    found = {
        "start": {
            ok: PartitionAnswer(0, 3, -1),
            gone: PartitionAnswer(kafka.errors.UnknownTopicOrPartitionError.errno, -1, -1),
            moving: PartitionAnswer(kafka.errors.NotLeaderForPartitionError.errno, -1, -1),
            empty: PartitionAnswer(0, 0, -1),
        },
        "end": {
            ok: PartitionAnswer(0, 10, -1),
            gone: PartitionAnswer(kafka.errors.UnknownTopicOrPartitionError.errno, -1, -1),
            moving: PartitionAnswer(kafka.errors.LeaderNotAvailableError.errno, -1, -1),
            empty: PartitionAnswer(0, 0, -1),
        },
        "newest": {
            ok: PartitionAnswer(0, 7, 1_700_000_009_000),
            gone: PartitionAnswer(kafka.errors.UnknownTopicOrPartitionError.errno, -1, -1),
            empty: PartitionAnswer(0, -1, -1),
        },
    }
    reading = reading_from([ok, gone, moving, leaderless, empty], found)

    assert reading.ends == {
        ok: LogOffsets(3, 10),
        gone: LogOffsets(None, None),
        moving: LogOffsets(None, None),
        leaderless: LogOffsets(None, None),
        empty: LogOffsets(0, 0),
    }
    assert reading.newest == {ok: (7, 1_700_000_009_000)}


def test_any_other_partition_error_fails_the_read_naming_the_partition():
    found = {
        "start": {TP("t", 0): PartitionAnswer(0, 0, -1)},
        "end": {TP("t", 0): PartitionAnswer(kafka.errors.TopicAuthorizationFailedError.errno, -1, -1)},
        "newest": {},
    }
    with pytest.raises(kafka.errors.TopicAuthorizationFailedError, match="end offset of partition t-0"):
        reading_from([TP("t", 0)], found)
