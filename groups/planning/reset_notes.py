"""Notes a reset's preview adds about what its plan overwrites or adds beyond what was asked: a copy of
another group's offsets reaching topics the group never read, an undo over commits made since. Pure."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence

from groups.planning.resets import PartitionId


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
