"""A group's headline status from its partitions' (groups.status): Burrow's worst partition, with STOP,
STALL, REWIND and AHEAD counted as ERR, and the partitions behind it, which alerts name as the cause."""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass

from groups.status import PartitionKey, PartitionStatus, Status

_GROUP_LEVEL = {
    Status.OK: Status.OK,
    Status.RESET: Status.RESET,
    Status.WARN: Status.WARN,
    Status.ERR: Status.ERR,
    Status.STOP: Status.ERR,
    Status.STALL: Status.ERR,
    Status.REWIND: Status.ERR,
    Status.AHEAD: Status.ERR,
    Status.NEW: Status.NEW,
}
# NEW ranks above OK (no claim of OK while a partition is unjudged); RESET above both so a group the
# console just moved says so; every problem above them.
_GROUP_SEVERITY = (Status.OK, Status.NEW, Status.RESET, Status.WARN, Status.ERR)

# Why a group without members and without a committed offset on any partition is NEW, not OK: Kafka drops a
# group's offsets with its topic, and a green "OK" over a group that reads nothing misleads.
NO_COMMITTED_OFFSETS = (
    "NEW: no committed offsets and no members: its topics were deleted or it never committed. "
    "Delete the group if nothing uses it any more."
)


@dataclass(frozen=True)
class GroupStatus:
    """A group's headline status and the partitions behind it.

    `status` is OK, NEW, RESET, WARN or ERR. `causes` maps each partition status that produced the
    headline (e.g. STALL and STOP under ERR) to its partitions, largest count first.
    """

    status: Status
    causes: Mapping[Status, tuple[PartitionKey, ...]]
    operation_ids: tuple[int, ...]
    summary: str


def evaluate_group(partitions: Mapping[PartitionKey, PartitionStatus], *, members: bool = True) -> GroupStatus:
    """Burrow's group status: the worst partition, STOP/STALL/REWIND (and AHEAD) as ERR.

    `members`: whether the group has any; one with neither members nor a committed offset is NEW."""
    if not partitions and not members:
        return GroupStatus(Status.NEW, {}, (), NO_COMMITTED_OFFSETS)
    if not partitions:
        return GroupStatus(Status.OK, {}, (), "OK: no partitions with a committed offset.")
    if all(p.status is Status.OK for p in partitions.values()):  # most groups: no counting to do
        operation_ids = tuple(sorted({p.operation_id for p in partitions.values() if p.operation_id is not None}))
        summary = f"OK: {_partitions(len(partitions))}."
        return GroupStatus(Status.OK, {Status.OK: tuple(sorted(partitions))}, operation_ids, summary)
    headline = max((_GROUP_LEVEL[p.status] for p in partitions.values()), key=_GROUP_SEVERITY.index)
    behind = {key: p for key, p in partitions.items() if _GROUP_LEVEL[p.status] is headline}
    counts = Counter(p.status for p in behind.values())
    order = sorted(counts, key=lambda s: (-counts[s], s.value))
    causes = {s: tuple(sorted(k for k, p in behind.items() if p.status is s)) for s in order}
    operation_ids = tuple(sorted({p.operation_id for p in behind.values() if p.operation_id is not None}))
    summary = _group_summary(headline, counts, order, operation_ids)
    if headline is Status.NEW:
        judged = len(partitions) - counts[Status.NEW]
        also = f"; the other {_partitions(judged)} OK" if judged else ""
        summary = f"NEW: {_partitions(counts[Status.NEW])} behind and not judged yet (too few rounds){also}."
    return GroupStatus(headline, causes, operation_ids, summary)


def _group_summary(
    headline: Status, counts: Counter[Status], order: list[Status], operation_ids: tuple[int, ...]
) -> str:
    if headline is Status.OK:
        return f"OK: {_partitions(counts[Status.OK])}."
    if headline is Status.RESET:
        ids = ", ".join(f"#{i}" for i in operation_ids)
        return f"RESET: {_partitions(counts[Status.RESET])} reset by operation {ids}."
    parts = ", ".join(f"{_partitions(counts[s])} {s.value}" for s in order)
    return f"{headline.value}: {parts}."


def _partitions(n: int) -> str:
    return f"{n} partition" if n == 1 else f"{n} partitions"
