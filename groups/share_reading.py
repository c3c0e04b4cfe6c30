"""The read side of share groups: what the share-group pages and their JSON API show.

A share group's page costs a fixed number of round trips: the group's coordinator is asked for the
description and the start offsets over one connection, then the partitions' log offsets are read
in one batch. Start offsets and lag are the broker's, as `kafka-share-groups --describe --offsets`
prints them; log start and end are added for context. Beside them stand the last collection round's
status and lag in seconds of each share-partition, only where that round saw what this read sees
(`judged`).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from groups.kafka import (
    TP,
    ClusterClient,
    LogOffsets,
    ShareClient,
    ShareGroupDescription,
    ShareGroupListing,
    ShareMember,
)
from groups.snapshot.rows import PartitionDetail

NOT_SEEN = (
    "The last collection round did not see this share-partition: its status and lag in seconds come with the next."
)


@dataclass(frozen=True)
class ShareRow:
    """One share-partition: where the group's start offset stands, the broker's lag, the log around it,
    and the members it is assigned to (a share-partition may be assigned to several)."""

    topic: str
    partition: int
    start_offset: int | None
    leader_epoch: int | None
    lag: int | None
    log_start: int | None
    log_end: int | None
    consumers: tuple[ShareMember, ...]
    error: str | None = None

    @property
    def start_below_log_start(self) -> bool:
        """Records between the start offset and the log start were deleted before the group read them."""
        return self.start_offset is not None and self.log_start is not None and self.start_offset < self.log_start

    @property
    def position(self) -> int | None:
        """The log end minus the broker's lag: where the collector judges a share-partition
        (groups.snapshot.share_positions)."""
        return _position(self.log_end, self.lag)


def _position(log_end: int | None, lag: int | None) -> int | None:
    return None if log_end is None or lag is None else log_end - lag


@dataclass(frozen=True)
class Judged:
    """What the last collection round made of a share-partition (`observed`: its status and lag in seconds),
    or None and the `note` saying why not."""

    observed: PartitionDetail | None
    note: str = ""


def judged(row: ShareRow, observed: PartitionDetail | None) -> Judged:
    """The last round's judgement of a share-partition, kept only where that round saw the start offset and the
    position this read sees. Its status and lag in seconds are of the position it saw (the age of the record
    there): beside another start offset or lag they would contradict the figures they stand next to."""
    if observed is None:
        return Judged(None, NOT_SEEN)
    then = (observed.committed, _position(observed.log_end, observed.lag))  # a share row's committed: its start offset
    now = (row.start_offset, row.position)
    if then == now:
        return Judged(observed)
    return Judged(
        None,
        f"The last collection round saw start offset {_shown(then[0])} and position {_shown(then[1])} "
        f"(log end minus lag); this read finds {_shown(now[0])} and {_shown(now[1])}. Its status and lag in "
        "seconds were of those, so they are not shown beside these: the next round judges these.",
    )


def _shown(offset: int | None) -> str:
    return "none" if offset is None else str(offset)


@dataclass(frozen=True)
class ShareGroupDetail:
    description: ShareGroupDescription
    rows: list[ShareRow]

    @property
    def total_lag(self) -> int | None:
        """Sum of the known lags; None when the broker reports none."""
        lags = [row.lag for row in self.rows if row.lag is not None]
        return sum(lags) if lags else None

    @property
    def topics(self) -> tuple[str, ...]:
        return tuple(sorted({row.topic for row in self.rows}))

    def judged_rows(self, observed: dict[tuple[str, int], PartitionDetail]) -> list[tuple[ShareRow, Judged]]:
        """Each row with the last round's judgement of it (`judged`), from that round's partitions by
        (topic, partition): what the page and the API show side by side."""
        return [(row, judged(row, observed.get((row.topic, row.partition)))) for row in self.rows]


def share_groups(share: ShareClient, *, visible: Callable[[list[str]], list[str]]) -> list[ShareGroupListing]:
    """The cluster's share groups that `visible` keeps, sorted by id."""
    listings = share.list_share_groups()
    shown = set(visible([listing.group_id for listing in listings]))
    return [listing for listing in listings if listing.group_id in shown]


def share_group_detail(share: ShareClient, client: ClusterClient, group_id: str) -> ShareGroupDetail:
    """Members and one row per share-partition the group has state for or is assigned;
    ShareGroupNotFound if no share group has this id."""
    state = share.read(group_id)
    description = state.description
    consumers: dict[TP, list[ShareMember]] = {}
    for member in description.members:
        for tp in member.assignment:
            consumers.setdefault(tp, []).append(member)
    offsets = {offset.tp: offset for offset in state.offsets}
    log_offsets = client.log_offsets(set(offsets) | set(consumers))
    rows = []
    for tp in sorted(set(offsets) | set(consumers)):
        offset = offsets.get(tp)
        logs = log_offsets.get(tp, LogOffsets(None, None))
        rows.append(
            ShareRow(
                topic=tp.topic,
                partition=tp.partition,
                start_offset=offset.start_offset if offset else None,
                leader_epoch=offset.leader_epoch if offset else None,
                lag=offset.lag if offset else None,
                log_start=logs.start,
                log_end=logs.end,
                consumers=tuple(consumers.get(tp, ())),
                error=offset.error if offset else None,
            )
        )
    return ShareGroupDetail(description, rows)
