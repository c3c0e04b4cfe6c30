"""The read side: what the list, group and topic pages (and the JSON API) show.

Each function gathers its facts in a fixed number of concurrent round trips, whatever the
number of groups or partitions: list -> describe all -> committed offsets of all -> log offsets.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, replace

from groups import lag
from groups.kafka import TP, ClusterClient, ConsoleError, GroupDescription, LogOffsets


class NotFound(ConsoleError):
    pass


def cluster_groups(client: ClusterClient, *, visible: Callable[[list[str]], list[str]]) -> list[lag.GroupSummary]:
    """A summary (state, type, members, topics, partitions, lag) of every consumer group `visible` keeps.

    `visible` picks, from all group ids, those the reader may see; the others are never described.
    """
    group_ids = visible([listing.group_id for listing in client.list_groups()])
    descriptions = client.describe_groups(group_ids)
    committed = client.committed_offsets(group_ids)
    partitions = {tp for offsets in committed.values() for tp in offsets}
    partitions |= {tp for d in descriptions.values() for m in d.members for tp in m.assignment}
    log_offsets = client.log_offsets(partitions)
    return [
        lag.summarize(descriptions[g], lag.partition_rows(descriptions[g], committed[g], log_offsets))
        for g in group_ids
    ]


@dataclass(frozen=True)
class GroupDetail:
    description: GroupDescription
    rows: list[lag.PartitionRow]

    @property
    def summary(self) -> lag.GroupSummary:
        return lag.summarize(self.description, self.rows)

    @property
    def time_lag_ms(self) -> int | None:
        return lag.max_time_lag(self.rows)

    @property
    def missing_topics(self) -> list[str]:
        """Topics the group has offsets on that no longer exist (deleted while the page was open)."""
        return sorted({r.topic for r in self.rows if r.log_end is None and r.log_start is None})


def group_detail(client: ClusterClient, group_id: str) -> GroupDetail:
    """Members and one row per owned or committed partition; NotFound if the group does not exist."""
    description = client.describe_groups([group_id])[group_id]
    committed = client.committed_offsets([group_id])[group_id]
    if description.state == "Dead" and not description.members and not committed:
        raise NotFound(f"Consumer group '{group_id}' does not exist on this cluster.", code="GROUP_ID_NOT_FOUND")
    partitions = set(committed) | {tp for m in description.members for tp in m.assignment}
    rows = lag.partition_rows(description, committed, client.log_offsets(partitions))
    behind = {TP(r.topic, r.partition): r.committed for r in rows if r.lag is not None and r.lag > 0}
    timestamps = client.record_timestamps(behind)
    now_ms = int(time.time() * 1000)
    rows = [
        replace(r, time_lag_ms=lag.time_lag_ms(r.lag, timestamps.get(TP(r.topic, r.partition)), now_ms))
        for r in rows
    ]
    return GroupDetail(description, rows)


@dataclass(frozen=True)
class TopicGroup:
    group_id: str
    state: str
    partitions: int
    lag: int | None


@dataclass(frozen=True)
class TopicDetail:
    name: str
    partitions: dict[int, LogOffsets]
    groups: list[TopicGroup]


def topic_detail(client: ClusterClient, topic: str, *, visible: Callable[[list[str]], list[str]]) -> TopicDetail:
    """Partitions with log start/end, and the groups `visible` keeps that have committed offsets on the topic."""
    count = client.topic_partition_counts([topic]).get(topic)
    if count is None:
        raise NotFound(f"Topic '{topic}' does not exist on this cluster.", code="UNKNOWN_TOPIC_OR_PART")
    tps = [TP(topic, p) for p in range(count)]
    log_offsets = client.log_offsets(tps)
    listings = client.list_groups()
    shown = set(visible([listing.group_id for listing in listings]))
    listings = [listing for listing in listings if listing.group_id in shown]
    committed = client.committed_offsets([g.group_id for g in listings])
    groups = []
    for listing in listings:
        on_topic = {tp: o for tp, o in committed[listing.group_id].items() if tp.topic == topic}
        if not on_topic:
            continue
        lags = [lag.partition_lag(o, log_offsets.get(tp, LogOffsets(None, None)).end) for tp, o in on_topic.items()]
        known = [x for x in lags if x is not None]
        groups.append(TopicGroup(listing.group_id, listing.state, len(on_topic), sum(known) if known else None))
    return TopicDetail(topic, {tp.partition: log_offsets[tp] for tp in tps}, groups)
