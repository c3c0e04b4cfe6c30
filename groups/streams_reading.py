"""The read side of streams groups (KIP-1071): what a streams group's page and its JSON API show.

A fixed number of round trips: StreamsGroupDescribe on the group's coordinator, its committed offsets
(a streams group commits as a consumer group does), and the log offsets of the partitions in one
batch. The rows are those `kafka-streams-groups --describe --offsets` prints: each input partition of
the members' active tasks, its committed offset and the log end, and the lag as the tool counts it
(log end minus the committed offset, or minus the log start where nothing is committed); partitions
with a commit but no task (an Empty group's) are added, as the consumer-group page shows them.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from groups.kafka import TP, ClusterClient, LogOffsets, StreamsGroupDescription, streams_description_for


@dataclass(frozen=True)
class StreamsRow:
    topic: str
    partition: int
    committed: int | None
    log_start: int | None
    log_end: int | None
    subtopology: str | None  # the sub-topology whose task reads the partition
    member: Any  # the member running that task

    @property
    def lag(self) -> int | None:
        base = self.committed if self.committed is not None else self.log_start
        return None if base is None or self.log_end is None else max(self.log_end - base, 0)


@dataclass(frozen=True)
class StreamsGroupDetail:
    description: StreamsGroupDescription
    rows: list[StreamsRow]

    @property
    def total_lag(self) -> int | None:
        lags = [row.lag for row in self.rows if row.lag is not None]
        return sum(lags) if lags else None


def tasks_text(tasks) -> str:
    """Tasks as the tool prints them: "0:[0,1,2]; 1:[0,1,2]"."""
    return "; ".join(f"{t.subtopology_id}:[{','.join(map(str, sorted(t.partitions)))}]" for t in tasks)


def streams_group_detail(cluster, client: ClusterClient, group_id: str) -> StreamsGroupDetail:
    """The group's description and one row per input partition; StreamsGroupNotFound if there is none."""
    description = streams_description_for(cluster, group_id)
    inputs = {
        s.subtopology_id: (*s.source_topics, *(t.name for t in s.repartition_source_topics))
        for s in description.subtopologies
    }
    tasks: dict[TP, tuple[str, Any]] = {}
    for member in description.members:
        for task in member.assignment.active:
            for topic in inputs.get(task.subtopology_id, ()):
                for partition in task.partitions:
                    tasks[TP(topic, partition)] = (task.subtopology_id, member)
    committed = client.committed_offsets([group_id]).get(group_id, {})
    partitions = set(tasks) | set(committed)
    logs = client.log_offsets(partitions)
    rows = []
    for tp in sorted(partitions):
        owner = tasks.get(tp)
        ends = logs.get(tp, LogOffsets(None, None))
        rows.append(
            StreamsRow(
                tp.topic,
                tp.partition,
                committed.get(tp),
                ends.start,
                ends.end,
                owner[0] if owner else None,
                owner[1] if owner else None,
            )
        )
    return StreamsGroupDetail(description, rows)
