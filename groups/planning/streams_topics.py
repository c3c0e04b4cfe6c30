"""Which topics of a streams group (KIP-1071) are its application's internal topics, as
`kafka-streams-groups --delete-all-internal-topics` picks them. Pure.

A Kafka Streams application creates repartition topics (between its sub-topologies) and changelog topics
(behind its state stores), named after its application id, which is the group id. Resetting an application
for a clean re-run means deleting them too: otherwise its state stores come back with the counts, joins and
aggregates of the first run. The candidates are the repartition source topics and changelog topics of the
group's topology, less any that a sub-topology also reads as a source topic (those belong to someone else);
of those, only names built the way Kafka Streams builds an internal topic's name are deleted. Any other
topology topic is left alone, with a note saying why.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

# The endings Kafka Streams gives the internal topics it names (changelogs, repartition topics, and the two
# topics of a foreign-key join, in their older and newer spellings).
INTERNAL_SUFFIXES = (
    "-changelog",
    "-repartition",
    "-subscription-registration-topic",
    "-subscription-response-topic",
)
_FOREIGN_KEY_JOIN_TOPIC = re.compile(r".+-KTABLE-FK-JOIN-SUBSCRIPTION-(?:REGISTRATION|RESPONSE)-\d+-topic")


def is_internal_topic_name(group_id: str, topic: str) -> bool:
    """Whether `topic` is named as Kafka Streams names an internal topic of application `group_id`."""
    if not topic.startswith(f"{group_id}-"):
        return False
    return topic.endswith(INTERNAL_SUFFIXES) or _FOREIGN_KEY_JOIN_TOPIC.fullmatch(topic) is not None


@dataclass(frozen=True)
class TopologyTopics:
    """What a streams group's topology says of its topics: the ones it reads from outside (source topics),
    and the ones it declares as repartition and changelog topics."""

    source: frozenset[str]
    repartition: frozenset[str]
    changelog: frozenset[str]


@dataclass(frozen=True)
class InternalTopic:
    name: str
    partitions: int
    role: str  # "repartition" or "changelog"


@dataclass(frozen=True)
class KeptTopic:
    name: str
    why: str


@dataclass(frozen=True)
class InternalTopicsPlan:
    """The internal topics a deletion would delete, and the topology topics it leaves alone and why."""

    group_id: str
    delete: tuple[InternalTopic, ...]
    kept: tuple[KeptTopic, ...]

    @property
    def names(self) -> list[str]:
        return [topic.name for topic in self.delete]

    def rows(self) -> list[dict]:
        """The topics to delete as an operation records them: name, partitions and role."""
        return [{"topic": t.name, "partitions": t.partitions, "role": t.role} for t in self.delete]


def plan_internal_topics(
    group_id: str, topology: TopologyTopics, partition_counts: Mapping[str, int]
) -> InternalTopicsPlan:
    """The internal topics of `group_id` to delete (those on the cluster, with their partitions, per
    `partition_counts`), and every other repartition or changelog topic of its topology with the reason it stays."""
    roles = {name: "changelog" for name in topology.changelog} | {name: "repartition" for name in topology.repartition}
    delete, kept = [], []
    for name in sorted(roles):
        if name in topology.source:
            why = "a sub-topology also reads it as a source topic, so it is not only this application's"
        elif not is_internal_topic_name(group_id, name):
            why = (
                f"its name is not one Kafka Streams gives an internal topic of '{group_id}' "
                f"('{group_id}-' ... {', '.join(INTERNAL_SUFFIXES)} or a foreign-key join topic), "
                "so kafka-streams-groups would not delete it either"
            )
        elif name not in partition_counts:
            why = "it is not on the cluster (not created yet, or already deleted): nothing to delete"
        else:
            delete.append(InternalTopic(name, partition_counts[name], roles[name]))
            continue
        kept.append(KeptTopic(name, why))
    return InternalTopicsPlan(group_id, tuple(delete), tuple(kept))


def changed_since(planned: Iterable[Mapping], now: InternalTopicsPlan) -> str | None:
    """How the internal topics found now differ from those a request listed (its `rows`), or None if equal."""
    before = {row["topic"]: row["partitions"] for row in planned}
    after = {row["topic"]: row["partitions"] for row in now.rows()}
    if before == after:
        return None
    parts = []
    if gone := sorted(before.keys() - after.keys()):
        parts.append(f"no longer internal topics to delete: {', '.join(gone)}")
    if new := sorted(after.keys() - before.keys()):
        parts.append(f"new internal topics: {', '.join(new)}")
    if resized := sorted(t for t in before.keys() & after.keys() if before[t] != after[t]):
        parts.append(f"partition count changed: {', '.join(resized)}")
    return "; ".join(parts)


STALE_STATE_WARNING = (
    "The application's state stores keep what they hold: resetting offsets does not empty its changelog "
    "topics, so after a restart its counts, aggregates and joins start from the old state, and reprocessing "
    "input it already counted counts it twice. To start from empty state, also delete its internal topics."
)
