"""A streams group's internal topics in a reset or a deletion of the group: what a preview lists, and the
worker's steps around the group change (`kafka-streams-groups ... --delete-all-internal-topics`).

The request records the topics to delete (`Operation.internal_topics`). Before changing the group the
worker checks that the group is Empty and that its topology still names exactly those topics, so nothing
changes otherwise; after the group change succeeded it deletes them, reads the cluster back until they
are gone, and records each topic's outcome on the operation and in the audit log. Deleting topics is a
deletion: whoever may delete the group may ask for it, and its four-eyes approval covers it.
"""

from __future__ import annotations

from django.utils import timezone

from groups import audit
from groups.kafka import ClusterClient, ConsoleError, GroupDescription, StreamsGroupDescription, describe_streams_group
from groups.kafka.topic_deletion import delete_topics, wait_until_gone
from groups.models import AuditEvent, Operation
from groups.planning import streams_topics as planning

# The right a requester must hold to delete internal topics, with a reset as with a deletion.
ACTION = "delete"
# How long the worker waits for deleted topics to leave the cluster's metadata.
GONE_WITHIN = 30.0


def _plan(client: ClusterClient, description: StreamsGroupDescription) -> planning.InternalTopicsPlan:
    subtopologies = description.subtopologies
    topology = planning.TopologyTopics(
        source=frozenset(description.source_topics),
        repartition=frozenset(t.name for s in subtopologies for t in s.repartition_source_topics),
        changelog=frozenset(t.name for s in subtopologies for t in s.state_changelog_topics),
    )
    counts = client.topic_partition_counts(sorted(topology.repartition | topology.changelog))
    return planning.plan_internal_topics(description.group_id, topology, counts)


def preview_internal_topics(client: ClusterClient, group: GroupDescription) -> planning.InternalTopicsPlan | None:
    """The internal topics a reset or deletion of `group` could delete with it; None unless it is a streams group."""
    if group.type != "streams":
        return None
    return _plan(client, describe_streams_group(client.config, client.timeout, group.group_id))


def recheck(client: ClusterClient, operation: Operation) -> None:
    """Before the group change: raise a ConsoleError (nothing changed) unless the group is Empty and its
    internal topics are those the request listed. Does nothing for an operation that deletes none."""
    if not operation.internal_topics:
        return
    group_id = operation.group_id
    description = describe_streams_group(client.config, client.timeout, group_id)
    if description.state != "Empty":
        raise ConsoleError(
            f"Streams group '{group_id}' is {description.state}: its internal topics are deleted only while it is "
            "Empty. Nothing was changed. Stop every instance of its Kafka Streams application, then request again.",
            code="GROUP_ACTIVE",
        )
    changed = planning.changed_since(operation.internal_topics, _plan(client, description))
    if changed:
        raise ConsoleError(
            f"The internal topics of streams group '{group_id}' changed since the preview ({changed}). "
            "Nothing was changed. Preview again to see the topics as they are now.",
            code="TOPICS_CHANGED",
        )


def delete_after(client: ClusterClient, operation: Operation, change: str) -> str:
    """After the group change (`change`, in words: "its offsets were reset"): delete the requested internal
    topics, verify they are gone and record each topic's outcome. The error to report, or "" when all went (or
    the operation deletes none)."""
    if not operation.internal_topics:
        return ""
    names = [row["topic"] for row in operation.internal_topics]
    try:
        refused = delete_topics(client, names)
        left = wait_until_gone(client, [name for name in names if name not in refused], GONE_WITHIN)
    except ConsoleError as exc:
        # Kafka could not be asked, or not read back: which topics went is unknown, so none counts as gone.
        refused, left = dict.fromkeys(names, f"not confirmed gone: {exc.message}"), []
    rows = []
    for row in operation.internal_topics:
        name = row["topic"]
        error = refused.get(name) or (
            f"Kafka accepted the deletion, but the topic was still listed {GONE_WITHIN:.0f} s later"
            if name in left
            else ""
        )
        rows.append({**row, "deleted": not error, "error": error})
    Operation.objects.filter(pk=operation.pk).update(internal_topics=rows, heartbeat=timezone.now())
    operation.internal_topics = rows
    failed = [row for row in rows if not row["deleted"]]
    error = _not_deleted(operation.group_id, change, failed) if failed else ""
    audit.record(
        AuditEvent.Action.INTERNAL_TOPICS_DELETED,
        actor="worker",
        operation=operation,
        plan=[],
        outcome="failed" if failed else "succeeded",
        error=error,
    )
    return error


def _not_deleted(group_id: str, change: str, failed: list[dict]) -> str:
    names = ", ".join(row["topic"] for row in failed)
    why = "; ".join(f"{row['topic']}: {row['error']}" for row in failed)
    return (
        f"Streams group '{group_id}' was changed ({change}), but its internal topic(s) {names} were not "
        f"deleted ({why}). "
        "Keep the application stopped: started now, it would restore its state stores from them. Once the cause "
        "is fixed, delete them with kafka-topics --delete --topic NAME, then start the application."
    )


def review_note(operation: Operation, now: planning.InternalTopicsPlan | None) -> str:
    """For an approver: how the internal topics found `now` differ from those the request would delete, or ""."""
    if not operation.internal_topics:
        return ""
    changed = planning.changed_since(operation.internal_topics, now) if now is not None else "the group has none now"
    if not changed:
        return ""
    return f"The internal topics to delete changed since the request ({changed}), so a worker would refuse it."
