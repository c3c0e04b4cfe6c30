"""What a reset's scope means for a streams group (KIP-1071), as `kafka-streams-groups --reset-offsets` reads it.

A streams group commits offsets on its source topics and on its internal repartition topics. The tool's
`--all-input-topics` resets the committed partitions of the source topics only, and its `--input-topic`
refuses a topic or partition the group holds no offset for ("not part of the group"): a reset moves
where an application resumes, it does not give a running topology new inputs. Pure.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from groups.planning.resets import PartitionId, Scope


def all_input_partitions(committed: Iterable[PartitionId], source_topics: Iterable[str]) -> list[PartitionId]:
    """The partitions "all input topics" covers: those with a committed offset on one of the source topics."""
    sources = set(source_topics)
    return sorted((topic, partition) for topic, partition in committed if topic in sources)


def internal_offsets_kept(committed: Iterable[PartitionId], source_topics: Iterable[str]) -> list[str]:
    """What "all input topics" leaves alone, said once: the offsets the group holds on other (internal) topics."""
    sources = set(source_topics)
    kept = sorted({topic for topic, _ in committed if topic not in sources})
    if not kept:
        return []
    return [
        f"All input topics are the streams group's source topics, as kafka-streams-groups --all-input-topics reads "
        f"them: its offsets on {', '.join(kept)} stay as they are. Name those topics to reset them too."
    ]


def outside_group(group_id: str, scope: Scope, committed: Iterable[PartitionId]) -> str | None:
    """Why the named topics or partitions cannot be reset for the streams group, or None when all are its own."""
    held = {(topic, partition) for topic, partition in committed}
    topics = {topic for topic, _ in held}
    foreign = sorted(
        {t for t in scope.topics if t not in topics} | {f"{t}:{p}" for t, p in scope.partitions if (t, p) not in held}
    )
    if not foreign:
        return None
    own = ", ".join(sorted(topics)) or "none"
    return (
        f"Streams group '{group_id}' has no committed offsets on {', '.join(foreign)}: a streams group's reset moves "
        f"only the offsets it holds, as kafka-streams-groups does. Its offsets are on: {own}. Name those, or "
        "choose all input topics."
    )


def copied_inputs(
    group_id: str, source: str, offsets: Mapping[PartitionId, int], committed: Iterable[PartitionId]
) -> tuple[dict[PartitionId, int], list[str]]:
    """Of another group's offsets, those a streams group's copy takes: on the partitions it holds offsets on,
    as a scope naming others is refused. And a note naming what was left out, if anything."""
    held = {(topic, partition) for topic, partition in committed}
    taken = {tp: offset for tp, offset in offsets.items() if tp in held}
    left = sorted({topic for topic, partition in offsets if (topic, partition) not in held})
    if not left:
        return taken, []
    return taken, [
        f"'{source}' also has offsets on {', '.join(left)}, where streams group '{group_id}' holds none: a streams "
        "group's reset moves only the offsets it holds, so those are left out."
    ]
