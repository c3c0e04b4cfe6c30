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
    @property
    def not_found(self) -> bool:
        return True


def cluster_groups(
    client: ClusterClient, *, visible: Callable[[list[str]], list[str]], query: str = ""
) -> list[lag.GroupSummary]:
    """A summary (state, type, members, topics, partitions, lag) of every consumer group kept.

    Groups are kept when their id contains `query` (ignoring case; an empty query keeps all) and
    `visible`, which picks from group ids those the reader may see, keeps them. Both filters apply
    to the listing, so groups left out are never described nor have their offsets read.

    Kafka accepts an empty group id from old clients, but the admin API cannot describe it or read
    its offsets; such a group is summarized from its listing alone (no members, no partitions).
    """
    listings = client.list_groups()
    needle = query.lower()
    group_ids = visible([g.group_id for g in listings if needle in g.group_id.lower()])
    readable = [g for g in group_ids if g]
    descriptions = client.describe_groups(readable)
    committed = client.committed_offsets(readable)
    partitions = {tp for offsets in committed.values() for tp in offsets}
    partitions |= {tp for d in descriptions.values() for m in d.members for tp in m.assignment}
    log_offsets = client.log_offsets(partitions)
    by_id = {g.group_id: g for g in listings}
    return [
        lag.summarize(descriptions[g], lag.partition_rows(descriptions[g], committed[g], log_offsets))
        if g
        else lag.summarize(GroupDescription(g, by_id[g].state, by_id[g].type, "", "-", ()), [])
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


def group_missing(description: GroupDescription, committed: dict[TP, int]) -> bool:
    """Whether a group does not exist: Kafka describes any id, an unknown one as Dead, without members or offsets."""
    return description.state == "Dead" and not description.members and not committed


def refuse_share_group(description: GroupDescription) -> None:
    """NotFound for a share group (`describe_group_to_change` says so) asked to change as a consumer group:
    its share-partitions hold start offsets, which a consumer-group reset or deletion neither sees nor moves."""
    if description.type == "share":
        raise NotFound(
            f"Group '{description.group_id}' is a share group, not a consumer group: its share-partitions have "
            "start offsets, not committed offsets. Reset or delete it from its share-group page.",
            code="GROUP_ID_NOT_FOUND",
        )


def existing_group(client: ClusterClient, group_id: str) -> tuple[GroupDescription, dict[TP, int]]:
    """The group's description and committed offsets; NotFound if the group does not exist."""
    description = client.describe_groups([group_id])[group_id]
    committed = client.committed_offsets([group_id])[group_id]
    if group_missing(description, committed):
        raise NotFound(f"Consumer group '{group_id}' does not exist on this cluster.", code="GROUP_ID_NOT_FOUND")
    return description, committed


def group_detail(client: ClusterClient, group_id: str) -> GroupDetail:
    """Members and one row per owned or committed partition; NotFound if the group does not exist."""
    description, committed = existing_group(client, group_id)
    partitions = set(committed) | {tp for m in description.members for tp in m.assignment}
    rows = lag.partition_rows(description, committed, client.log_offsets(partitions))
    behind = {
        TP(r.topic, r.partition): r.committed
        for r in rows
        if r.committed is not None and r.lag is not None and r.lag > 0
    }
    timestamps = client.record_timestamps(behind)
    now_ms = int(time.time() * 1000)
    rows = [
        replace(r, time_lag_ms=lag.time_lag_ms(r.lag, timestamps.get(TP(r.topic, r.partition)), now_ms)) for r in rows
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
    # An empty group id cannot be asked for its offsets (see cluster_groups).
    listings = [listing for listing in listings if listing.group_id in shown and listing.group_id]
    committed = client.committed_offsets([g.group_id for g in listings])
    unknown = LogOffsets(None, None)
    groups = []
    for listing in listings:
        rows = [
            lag.PartitionRow(
                tp.topic,
                tp.partition,
                committed=offset,
                owner=None,
                log_start=log_offsets.get(tp, unknown).start,
                log_end=log_offsets.get(tp, unknown).end,
            )
            for tp, offset in committed[listing.group_id].items()
            if tp.topic == topic
        ]
        if rows:
            groups.append(TopicGroup(listing.group_id, listing.state, len(rows), lag.total_lag(rows)))
    return TopicDetail(topic, {tp.partition: log_offsets[tp] for tp in tps}, groups)
