"""A share group's snapshot row: its start offsets and the broker's lag, where a consumer group's row has
committed offsets and the console's lag.

A share group (KIP-932) commits no offsets; the broker keeps a start offset per share-partition and
reports the lag itself (records past the start offset that were already acknowledged are not lag),
as `kafka-share-groups --describe --offsets` prints it. The round's evaluation (groups.snapshot.
evaluate) sees a share group with its members and no committed offsets; this fills in its figures.
Burrow's status rules judge committed offsets over a window, so a share group gets no status.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from groups.kafka import TP, SharePartitionOffset
from groups.kafka.collect import PartitionReading
from groups.snapshot import rows
from groups.snapshot.evaluate import GroupRow

NO_STATUS_REASON = (
    "A share group: Kafka reports its lag per share-partition; the status rules judge committed offsets, "
    "which share groups do not have."
)


def fill_share_rows(
    groups: Sequence[GroupRow],
    share_offsets: Mapping[str, Sequence[SharePartitionOffset]],
    partitions: Mapping[TP, PartitionReading],
) -> None:
    """Give each share group's row (type "share") its share-partitions, start offsets and lag, in place."""
    for row in groups:
        if row.type != "share":
            continue
        details = []
        for offset in share_offsets.get(row.group_id, ()):
            ends = partitions.get(offset.tp)
            details.append(
                rows.PartitionDetail(
                    topic=offset.tp.topic,
                    partition=offset.tp.partition,
                    committed=offset.start_offset,
                    log_start=ends.log_start if ends else None,
                    log_end=ends.log_end if ends else None,
                    lag=offset.lag,
                    lag_seconds=None,
                    status="",
                    owner=None,
                    status_reason=offset.error or "",
                )
            )
        lags = [d.lag for d in details if d.lag is not None]
        row.topics = sorted({d.topic for d in details})
        row.partitions = len(details)
        row.lag = sum(lags) if lags else None
        row.detail = rows.encode_group_detail(details)
        row.status = ""
        row.status_reason = row.error or NO_STATUS_REASON
