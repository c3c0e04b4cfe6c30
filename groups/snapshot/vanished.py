"""Groups the served snapshot has that this round's listing lacks: deleted, or missed by the listing.

A broker lists only the groups of the __consumer_offsets partitions it coordinates now, and one
that has just started, or is taking partitions over from another, answers ListGroups without the
groups it has not loaded yet, and without an error. The first round after a broker restart then
read a cluster of no groups, and served it: every list empty, every metric series gone, every
group NEW again. So each consumer or classic group the snapshot has and the listing lacks is asked
for directly. Deleted, it is Dead with no committed offset, and leaves the next snapshot. Still
there, the listing was incomplete: the round fails, the snapshot stays served, marked stale with
the reason, and the next round lists again. Share and streams groups are listed by their own
request, whose failure is a note of its own (groups.kafka.collect), and are not asked for here.
"""

from __future__ import annotations

from collections.abc import Mapping

from groups.kafka import TP, ClusterClient, ConsoleError, GroupDescription

ASKED_TYPES = ("classic", "consumer")
_NAMED = 3  # groups a refusal names


def still_there(
    asked: list[str], described: Mapping[str, GroupDescription], committed: Mapping[str, Mapping[TP, int]]
) -> list[str]:
    """Which of the `asked` groups exist after all: described as anything but Dead, or holding an offset."""
    return [
        group_id
        for group_id in asked
        if committed.get(group_id) or (group_id in described and described[group_id].state != "Dead")
    ]


def refusal(missed: list[str], asked: int) -> ConsoleError:
    named = ", ".join(f"'{g}'" for g in missed[:_NAMED]) + (
        f" and {len(missed) - _NAMED:,} more" if len(missed) > _NAMED else ""
    )
    return ConsoleError(
        f"Kafka's group listing lacked {len(missed):,} of the {asked:,} groups the last round saw that still "
        f"exist ({named}): a group coordinator is still loading, after a broker started or took over "
        "__consumer_offsets partitions. This round stored nothing, so no group vanishes from the pages; the "
        "next round lists again.",
        code="COORDINATOR_LOAD_IN_PROGRESS",
        retriable=True,
    )


def check(client: ClusterClient, missing: Mapping[str, str]) -> None:
    """Raise `refusal` when a group of `missing` (group id -> its type in the served snapshot) still exists."""
    asked = sorted(group_id for group_id, kind in missing.items() if kind in ASKED_TYPES)
    if not asked:
        return
    missed = still_there(asked, client.describe_groups(asked), client.committed_offsets(asked))
    if missed:
        raise refusal(missed, len(asked))
