"""The steps a consumer-group reset and a share-group reset have in common: plan against the log as it is,
check that the offsets held are still those of the preview, and read back what was written.

The two differ only in which offsets a group holds (committed offsets, or share-partition start offsets)
and in how those are read and written, so each passes its own in and says its own messages.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import datetime

from groups.kafka import TP, ClusterClient, ConsoleError
from groups.planning import resets as planning


def plan_against_log(
    client: ClusterClient,
    strategy: planning.Strategy,
    scope: planning.Scope,
    basis: Iterable[planning.PartitionId],
    held: Mapping[TP, int | None],
    now: datetime,
) -> planning.ResetPlan:
    """The plan of `strategy` for the partitions of `scope`, against the log offsets read now.

    `basis` is what "all topics" means (the partitions the group holds offsets for), `held` the offset the
    group holds per partition. Raises ConsoleError when a partition has no leader or vanished.
    """
    topics = (
        set(scope.topics) | {t for t, _ in scope.partitions} | ({tp[0] for tp in basis} if scope.all_topics else set())
    )
    counts = client.topic_partition_counts(sorted(topics))
    partitions = [TP(t, p) for t, p in planning.resolve_scope(scope, basis, counts)]

    log = client.log_offsets(partitions)
    facts, gone = [], []
    for tp in partitions:
        start, end = log[tp].start, log[tp].end
        if start is None or end is None:
            gone.append(str(tp))
        else:
            facts.append(planning.PartitionFacts(tp.topic, tp.partition, held.get(tp), start, end))
    if gone:
        raise ConsoleError(
            f"Partitions {', '.join(gone)} have no leader or vanished while planning; try again.",
            code="LEADER_NOT_AVAILABLE",
            retriable=True,
        )
    timestamp = planning.lookup_timestamp(strategy, now)
    offsets_for_time = None
    if timestamp is not None:
        found = client.offsets_for_time(partitions, timestamp)
        offsets_for_time = {(tp.topic, tp.partition): offset for tp, offset in found.items()}
    return planning.plan_reset(strategy, facts, offsets_for_time=offsets_for_time)


def drifted(plan: list[dict], current: Mapping[TP, int | None]) -> list[str]:
    """Each planned partition whose offset is no longer the one the preview saw, said as then and now."""
    return [
        f"{row['topic']}-{row['partition']} was {_offset_text(row['before'])} at preview, now "
        f"{_offset_text(current.get(TP(row['topic'], row['partition'])))}"
        for row in plan
        if current.get(TP(row["topic"], row["partition"])) != row["before"]
    ]


def read_back(plan: list[dict], after: Mapping[TP, int | None]) -> tuple[list[dict], list[str]]:
    """The outcome of each planned partition as read after the write, and those that do not match the plan."""
    outcome = [
        {
            "topic": r["topic"],
            "partition": r["partition"],
            "planned": r["after"],
            "committed": after.get(TP(r["topic"], r["partition"])),
            "verified": after.get(TP(r["topic"], r["partition"])) == r["after"],
        }
        for r in plan
    ]
    return outcome, [f"{o['topic']}-{o['partition']}" for o in outcome if not o["verified"]]


def _offset_text(offset: int | None) -> str:
    return "none" if offset is None else str(offset)
