"""Log start, log end and newest record of many partitions, through kafka-python's ListOffsets.

The collector reads these through kafka-python, which is pure Python, rather than confluent-kafka's
AdminClient.list_offsets: that call crashed the whole process with a segmentation fault
(confluent-kafka 2.16.1, in the tests, once with no other thread inside the library).

One request per partition leader and per spec (earliest, latest, max_timestamp per KIP-734; a
partition appears once in a request, so the specs cannot share one), all in flight together. Each
partition's error code is checked: a partition that vanished or is between leaders while the round
ran is unknown this round, as ClusterClient.log_offsets reports it; any other error fails the read.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass

import kafka.errors
from kafka.protocol.consumer import (
    IsolationLevel,
    ListOffsetsRequest,
    OffsetSpec,
)

from groups.kafka.values import TP, LogOffsets

SPECS = {"start": OffsetSpec.EARLIEST, "end": OffsetSpec.LATEST, "newest": OffsetSpec.MAX_TIMESTAMP}

# A partition of a topic deleted meanwhile, or whose leader is moving: unknown for this round only.
UNKNOWN_CODES = frozenset(
    {
        kafka.errors.UnknownTopicOrPartitionError.errno,
        kafka.errors.LeaderNotAvailableError.errno,
        kafka.errors.NotLeaderForPartitionError.errno,
    }
)


@dataclass(frozen=True)
class LogReading:
    """What ListOffsets told of each partition: start and end (None where unknown), and
    (offset, timestamp) of the record with the largest timestamp where the partition has one."""

    ends: dict[TP, LogOffsets]
    newest: dict[TP, tuple[int, int]]


@dataclass(frozen=True)
class PartitionAnswer:
    """One partition's answer to one spec, as the broker sent it."""

    error_code: int
    offset: int
    timestamp: int


def requests_by_leader(leaders: dict[TP, int | None]) -> dict[tuple[str, int], ListOffsetsRequest]:
    """One ListOffsets request per (spec, leader) for the partitions that have a leader.

    read_uncommitted: the log end is the high watermark, what kafka-consumer-groups calls LOG-END-OFFSET.
    """
    by_leader: dict[int, dict[str, list[int]]] = defaultdict(lambda: defaultdict(list))
    for tp, leader in sorted(leaders.items()):
        if leader is not None and leader >= 0:
            by_leader[leader][tp.topic].append(tp.partition)
    requests = {}
    topic_type = ListOffsetsRequest.ListOffsetsTopic
    partition_type = topic_type.ListOffsetsPartition
    for spec_name, spec in SPECS.items():
        for leader, topics in by_leader.items():
            requests[(spec_name, leader)] = ListOffsetsRequest(
                isolation_level=IsolationLevel.READ_UNCOMMITTED.value,
                topics=[
                    topic_type(
                        name=topic, partitions=[partition_type(partition_index=p, timestamp=spec) for p in parts]
                    )
                    for topic, parts in topics.items()
                ],
                min_version=ListOffsetsRequest.min_version_for_timestamp(spec),
            )
    return requests


def answers(response) -> dict[TP, PartitionAnswer]:
    """Each partition's answer in a ListOffsets response."""
    return {
        TP(topic.name, partition.partition_index): PartitionAnswer(
            partition.error_code, partition.offset, partition.timestamp
        )
        for topic in response.topics
        for partition in topic.partitions
    }


def reading_from(partitions: list[TP], found: dict[str, dict[TP, PartitionAnswer]]) -> LogReading:
    """The reading of `partitions` from each spec's answers; raises the first error that is not "unknown".

    A partition missing from the answers (no leader, or the broker left it out) is unknown.
    """
    figures: dict[str, dict[TP, PartitionAnswer]] = {name: {} for name in SPECS}
    for spec_name, by_partition in found.items():
        for tp, answer in by_partition.items():
            if answer.error_code == 0:
                figures[spec_name][tp] = answer
            elif answer.error_code not in UNKNOWN_CODES:
                error_type = kafka.errors.for_code(answer.error_code)
                raise error_type(f"the {spec_name} offset of partition {tp.topic}-{tp.partition}")
    ends = {}
    newest = {}
    for tp in partitions:
        start, end, top = (figures[name].get(tp) for name in SPECS)
        ends[tp] = LogOffsets(start.offset if start else None, end.offset if end else None)
        if top is not None and top.offset >= 0 and top.timestamp >= 0:
            newest[tp] = (top.offset, top.timestamp)
    return LogReading(ends, newest)


async def _send_all(manager, requests: dict[tuple[str, int], ListOffsetsRequest], timeout_ms: int) -> dict:
    """Every request in flight at once on kafka-python's network thread; the responses by key."""
    futures = {
        key: manager.send(request, node_id=key[1], request_timeout_ms=timeout_ms) for key, request in requests.items()
    }
    return {key: await manager.wait_for(future, timeout_ms) for key, future in futures.items()}


def read_log_offsets(manager, leaders: dict[TP, int | None], timeout_ms: int) -> tuple[LogReading, int]:
    """The reading of every partition in `leaders` (partition -> leader's node id, None or -1 when
    it has none) through `manager` (a kafka-python KafkaConnectionManager whose network thread runs),
    and the number of requests it took. Raises kafka.errors.KafkaError: the caller tells it."""
    requests = requests_by_leader(leaders)
    responses = manager.run(_send_all, manager, requests, timeout_ms) if requests else {}
    found: dict[str, dict[TP, PartitionAnswer]] = {name: {} for name in SPECS}
    for (spec_name, _leader), response in responses.items():
        found[spec_name].update(answers(response))
    return reading_from(sorted(leaders), found), len(requests)
