"""A share group judged as a consumer group is: on the position its lag implies.

The round's evaluation (groups.snapshot.evaluate) judges committed offsets. A share group (KIP-932)
commits none; this gives it, per share-partition, the log end minus the lag the broker reports in
their place, says where the resulting lag in seconds may fall short, and words status reasons for
it. Pure: no Django, no I/O.
"""

from __future__ import annotations

from dataclasses import replace

from groups import estimates
from groups.kafka import Member
from groups.kafka.collect import UNKNOWN_ENDS, ClusterReading


def with_share_positions(reading: ClusterReading) -> ClusterReading:
    """The reading with each share group's positions where a consumer group's committed offsets are: on
    each share-partition, the log end minus the broker's lag.

    A share group commits nothing. The broker keeps a start offset per share-partition, but the one
    it reports can stay behind records already acknowledged (a group that read everything showed
    start offset 0 and lag 0), so judging the start offset would call a caught-up group stalled.
    The lag it reports counts the records not yet acknowledged; the position it implies moves as a
    committed offset does while consumers keep up and stands still when they stop. So a share
    group's window, status, catch-up and retention margin are a consumer group's, judged on that
    position; its lag in seconds is the age of the record there, which is at most the age of the
    oldest record not yet acknowledged (that one lies at or before it, and not before the start
    offset: the figure is doubtful where the two differ, lag_seconds).
    """
    if not reading.share_offsets:
        return reading
    groups = dict(reading.groups)
    for group_id, share_partitions in reading.share_offsets.items():
        group = groups.get(group_id)
        if group is None or group.type != "share":
            continue
        positions = {}
        for p in share_partitions:
            log_end = reading.partitions.get(p.tp, UNKNOWN_ENDS).log_end
            if p.lag is not None and log_end is not None and log_end - p.lag >= 0:
                positions[p.tp] = log_end - p.lag
        groups[group_id] = replace(group, committed=positions)
    return replace(reading, groups=groups)


def lag_seconds(figure: estimates.LagSeconds, start_offset: int | None, position: int) -> estimates.LagSeconds:
    """A share-partition's lag in seconds, doubtful when the broker's start offset is behind the position its
    lag implies: the oldest record not yet acknowledged lies between the two, so it may be older than this."""
    if start_offset is None or start_offset >= position:
        return figure
    note = (
        f"{figure.note} The broker's start offset {start_offset} is behind {position}: the oldest record not yet "
        "acknowledged lies between the two, so it may be older than this."
    )
    return figure._replace(doubtful=True, note=note)


def not_started(members: tuple[Member, ...]) -> str:
    """Why a share group none of whose share-partitions has a start offset is NEW, not OK, and what to check.

    The broker sets a start offset when a share consumer first fetches from a partition; none means nothing
    was read for the group yet, which an operator would misread as "consuming fine" under a green OK."""
    if members:
        return (
            f"NEW: no share-partition has a start offset yet: the group's {len(members)} member"
            f"{'s have' if len(members) > 1 else ' has'} not fetched from any partition. Check that they subscribe "
            "to topics that exist (their subscriptions and assignments are on the group's page)."
        )
    return (
        "NEW: no share-partition has a start offset yet and the group has no members: nothing has read for it. "
        "Check that share consumers with this group id are running and subscribe to the topics it should read."
    )


_SHARE_WORDS = (
    ("committed offset", "position (the log end minus the broker's lag)"),
    ("Committed offset", "Position"),
    ("No commit", "No progress"),
    ("the commits before it", "the progress before it"),
)


def worded(reason: str) -> str:
    """A consumer-group status reason in a share group's words: its position is not committed."""
    for consumer_words, share_words in _SHARE_WORDS:
        reason = reason.replace(consumer_words, share_words)
    return reason
