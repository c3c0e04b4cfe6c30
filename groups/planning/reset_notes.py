"""Notes a reset's preview adds about what its plan overwrites or adds beyond what was asked: a copy of
another group's offsets reaching topics the group never read, an undo over commits made since, an undo of a
streams reset that also deleted the application's internal topics, offsets set past a transaction still open.
Pure."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence

from groups.planning.resets import PartitionId, PlannedPartition


def copy_beyond_topics(
    group_id: str, source: str, offsets: Mapping[PartitionId, int], committed: Iterable[PartitionId]
) -> list[str]:
    """A note when a copy of another group's offsets reaches topics the group holds no offsets on, though it
    holds some: it gains offsets there. (A group without any offsets is being made a copy: no note.)"""
    held = {topic for topic, _ in committed}
    if not held:
        return []
    beyond = sorted({topic for topic, _ in offsets if topic not in held})
    if not beyond:
        return []
    return [
        f"'{source}' has offsets on {', '.join(beyond)}, where '{group_id}' has none: the copy gives '{group_id}' "
        "offsets there too, where its consumers would start if they subscribe. Name the topics to copy only those."
    ]


def undo_over_newer_commits(
    operation_id: int, rows: Sequence[Mapping], committed: Mapping[PartitionId, int]
) -> list[str]:
    """An undo of reset #`operation_id` (its plan `rows`): which partitions were committed elsewhere since the
    reset set them (a consumer, another tool), whose commits the undo overwrites with what the reset found."""
    moved = [
        f"{row['topic']}-{row['partition']} {row['after']} → {'none' if now is None else now}"
        for row in rows
        if (now := committed.get((row["topic"], row["partition"]))) != row["after"]
    ]
    if not moved:
        return []
    shown = ", ".join(moved[:5]) + (" …" if len(moved) > 5 else "")
    return [
        f"Since operation #{operation_id} set them, {len(moved)} partition{'s' if len(moved) > 1 else ''} moved "
        f"({shown}): something else committed there. The undo overwrites those commits with the offsets "
        f"#{operation_id} found."
    ]


def undo_after_deleted_topics(operation_id: int, internal_topics: Sequence[Mapping]) -> list[str]:
    """An undo of reset #`operation_id` whose `internal_topics` rows (as the operation records them) say it
    also deleted a streams application's internal topics: the undo puts offsets back, never those topics."""
    deleted = [row["topic"] for row in internal_topics if row.get("deleted")]
    if not deleted:
        return []
    return [
        f"Operation #{operation_id} also deleted this Kafka Streams application's internal topics "
        f"({', '.join(deleted)}). This undo restores offsets only: it does not bring back those topics or the "
        "state they held. The application's state stores will rebuild from an empty start, with no changelog to "
        "restore them from, while it reads on from the restored offsets, so its counts, aggregates and joins will "
        "not match what they were. Reset the application with its own tool (kafka-streams-application-reset) "
        "instead, or expect it to reprocess with empty state."
    ]


def past_open_transactions(rows: Sequence[PlannedPartition], stable: Mapping[PartitionId, int]) -> list[str]:
    """Partitions the plan sets past their last stable offset (`stable`): a transaction still open begins there,
    and a consumer starting past its first records never reads them, even once the transaction commits."""
    past = [
        f"{row.topic}-{row.partition} to {row.after}, open from {lso}"
        for row in rows
        if (lso := stable.get((row.topic, row.partition))) is not None and row.after > lso
    ]
    if not past:
        return []
    shown = ", ".join(past[:5]) + (" …" if len(past) > 5 else "")
    one = len(past) == 1
    return [
        f"{len(past)} partition{'' if one else 's'} {'is' if one else 'are'} set past the start of a transaction "
        f"still open ({shown}). The group will never read that transaction's records before the new offset, even "
        "if it commits. To keep them, set those partitions to the offset where the transaction opens (to-offset), "
        "or preview again once it has committed or aborted."
    ]
