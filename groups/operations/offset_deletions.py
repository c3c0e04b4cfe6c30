"""Offset deletions: preview, request, and their steps in the one operation lifecycle.

A deletion removes a group's committed offsets of whole topics or chosen partitions, as
`kafka-consumer-groups --delete-offsets` does; what a team does when a consumer stops reading a
topic. Unlike a reset it does not need the group to be inactive: Kafka only refuses the topics
the group's members subscribe to. The plan records each partition's offset before the deletion,
so its undo is an offset reset back to them (`resets.preview_reset(..., undo_of=...)`).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import timedelta

from django.conf import settings
from django.utils import timezone

from groups import reading
from groups.kafka import (
    TP,
    ClusterClient,
    ConsoleError,
    GroupDescription,
    client_for,
    describe_group_to_change,
    offset_deletion,
)
from groups.kafka.consumer_groups import ConsumerGroupClient
from groups.models import Cluster, Operation
from groups.operations import lifecycle
from groups.operations.active_groups import members_counted
from groups.operations.lifecycle import Review
from groups.planning import deletions as planning
from groups.planning import resets as scopes


@dataclass(frozen=True)
class Situation:
    """The group as a deletion must see it: its description, and the topics its members subscribe to."""

    group: GroupDescription
    subscribed: frozenset[str]
    subscribed_to_all: bool
    # Read from the coordinator: DescribeGroups for classic groups, ConsumerGroupDescribe for KIP-848 ones.
    # False where neither told (only the members' assignments are known).
    subscriptions_known: bool
    protocol_type: str
    # KIP-848 members may subscribe by regex; the coordinator matches it against whole topic names.
    subscribed_patterns: tuple[re.Pattern[str], ...] = ()

    def subscribes_to(self, topic: str) -> bool:
        """Whether Kafka counts the group as subscribed to `topic` (and so refuses to delete its offsets)."""
        return (
            self.subscribed_to_all
            or topic in self.subscribed
            or any(pattern.fullmatch(topic) for pattern in self.subscribed_patterns)
        )

    @property
    def refusal(self) -> str | None:
        """Why Kafka would refuse the group as a whole (a non-consumer group with members)."""
        group = self.group
        if group.members and self.protocol_type == "streams":
            return (
                f"Streams group '{group.group_id}' is {group.state} with {members_counted(len(group.members))}: "
                "Kafka refuses to delete the offsets of the topics its topology reads while it has members, and the "
                "console changes a streams group only while it has none. Stop every instance of its Kafka Streams "
                "application first."
            )
        if self.group.members and self.protocol_type not in ("", "consumer"):
            return (
                f"Group '{self.group.group_id}' has {members_counted(len(self.group.members))} and is not a "
                f"consumer group (protocol type {self.protocol_type}): Kafka deletes its offsets only once it is "
                "empty. Stop its members first."
            )
        return None


def situation(client: ClusterClient, group_id: str) -> Situation:
    """Read the group's description and subscriptions (two round trips; three for a KIP-848 group)."""
    group = describe_group_to_change(client, group_id)
    reading.refuse_share_group(group)
    assigned = {tp.topic for member in group.members for tp in member.assignment}
    if group.type == "streams":
        # Its topology is its subscription, and Kafka deletes a streams group's offsets only once it is empty.
        return Situation(group, frozenset(assigned), False, True, "streams")
    subscriptions = offset_deletion.group_subscriptions(client, group_id)
    if subscriptions is not None:
        return Situation(
            group,
            frozenset(assigned | subscriptions.topics),
            subscriptions.unknown,
            True,
            subscriptions.protocol_type,
        )
    if group.type == "consumer" and group.is_active:
        return _kip848_situation(client, group, assigned)
    return Situation(group, frozenset(assigned), False, False, "")


def _kip848_situation(client: ClusterClient, group: GroupDescription, assigned: set[str]) -> Situation:
    """A KIP-848 group's subscriptions from ConsumerGroupDescribe: a member may subscribe to a topic it holds
    no partition of (it has not taken its assignment yet), and Kafka refuses that topic all the same."""
    try:
        described = ConsumerGroupClient(client.config, client.timeout).describe(group.group_id)
    except ConsoleError:
        # As before this read existed: the members' assignments, and a warning that Kafka may refuse more.
        return Situation(group, frozenset(assigned), False, False, "")
    topics = set(assigned)
    patterns: list[re.Pattern[str]] = []
    unreadable = False
    for member in described.members:
        topics.update(member.subscribed_topics)
        if member.subscribed_regex:
            try:
                patterns.append(re.compile(member.subscribed_regex))
            except re.error:
                # Kafka's regex dialect (RE2/J) accepted what Python's cannot read: count every topic as subscribed.
                unreadable = True
    return Situation(group, frozenset(topics), unreadable, True, "consumer", tuple(patterns))


@dataclass(frozen=True)
class Preview:
    situation: Situation
    plan: planning.DeletionPlan
    group_exists: bool

    @property
    def group(self) -> GroupDescription:
        return self.situation.group

    @property
    def blocked_reason(self) -> str | None:
        """Why the deletion cannot be asked for as it stands, if it cannot."""
        if not self.group_exists:
            return (
                f"Group '{self.group.group_id}' does not exist on this cluster: Kafka knows no members and no "
                "committed offsets of it. Check the group id."
            )
        return self.situation.refusal or self.plan.refusal

    @property
    def unseen_subscriptions(self) -> bool:
        """Members whose subscriptions Kafka does not tell (a KIP-848 group): Kafka may still refuse a topic."""
        return bool(self.group.members) and not self.situation.subscriptions_known


def preview_deletion(client: ClusterClient, group_id: str, scope_text: str) -> Preview:
    """Read the group's facts once and list the partitions in scope with their offsets; nothing is written.

    Raises PlanningError for a scope the operator must correct (unknown topic or partition) and
    ConsoleError for Kafka failures.
    """
    scope = scopes.parse_scope(scope_text)
    seen = situation(client, group_id)
    committed = client.committed_offsets([group_id])[group_id]
    named = set(scope.topics) | {topic for topic, _ in scope.partitions}
    counts = client.topic_partition_counts(sorted(named))
    partitions = [TP(topic, partition) for topic, partition in scopes.resolve_scope(scope, committed, counts)]
    log = client.log_offsets(partitions)
    facts = [
        planning.PartitionOffsets(tp.topic, tp.partition, committed.get(tp), log[tp].start, log[tp].end)
        for tp in partitions
    ]
    subscribed = {tp.topic for tp in partitions if seen.subscribes_to(tp.topic)}
    plan = planning.plan_deletion(facts, subscribed=subscribed, subscribed_to_all=seen.subscribed_to_all)
    exists = bool(committed) or bool(seen.group.members) or seen.group.state != "Dead"
    return Preview(situation=seen, plan=plan, group_exists=exists)


def plan_rows(plan: planning.DeletionPlan) -> list[dict]:
    """The plan as an operation records it; `before` is what an undo puts back."""
    return [
        {
            "topic": row.topic,
            "partition": row.partition,
            "before": row.before,
            "log_start": row.log_start,
            "log_end": row.log_end,
        }
        for row in plan.rows
    ]


def whole_group_plan(client: ClusterClient, committed: Mapping[TP, int]) -> planning.DeletionPlan:
    """Every offset a group has committed (`committed`), with its log's bounds: what deleting the group deletes,
    which its page shows and its operation records (a restore needs them; Kafka keeps nothing of a deleted
    group)."""
    partitions = sorted(committed)
    log = client.log_offsets(partitions)
    return planning.plan_deletion(
        planning.PartitionOffsets(tp.topic, tp.partition, committed[tp], log[tp].start, log[tp].end)
        for tp in partitions
    )


def stored_plan(rows: list[dict]) -> planning.DeletionPlan:
    """A plan again from the rows an operation or a preview token kept."""
    return planning.DeletionPlan(rows=tuple(planning.DeletionRow(**row) for row in rows))


def request_deletion(
    *,
    cluster: Cluster,
    group_id: str,
    plan: list[dict],
    scope: str,
    reason: str,
    actor: str,
    requester=None,
    via: str = "web",
    source_ip: str | None = None,
    dispatch: bool = True,
    preview_nonce: str = "",
) -> Operation:
    """Request the deletion of the group's offsets as previewed; see `lifecycle.request`.

    With dispatch=False the caller runs it itself through `lifecycle.execute` (the CLI does).
    Raises `lifecycle.RequestRefused` without a reason.
    """
    return lifecycle.request(
        cluster=cluster,
        kind=Operation.Kind.DELETE_OFFSETS,
        plan=plan,
        reason=reason,
        actor=actor,
        requester=requester,
        via=via,
        source_ip=source_ip,
        dispatch=dispatch,
        preview_nonce=preview_nonce,
        group_id=group_id,
        scope=scope,
    )


def _refusal_now(client: ClusterClient, operation: Operation) -> tuple[Situation, str | None]:
    """The group now, and why a worker would refuse the operation's plan against it, if it would."""
    seen = situation(client, operation.group_id)
    topics = sorted({row["topic"] for row in operation.plan})
    subscribed = [topic for topic in topics if seen.subscribes_to(topic)]
    if seen.refusal:
        return seen, seen.refusal
    if subscribed:
        return seen, (
            f"The group's members subscribe to topic{'s' if len(subscribed) > 1 else ''} {', '.join(subscribed)}: "
            "stop them or change their subscription first."
        )
    committed = client.committed_offsets([operation.group_id])[operation.group_id]
    moved = planning.drifted(operation.plan, {(tp.topic, tp.partition): offset for tp, offset in committed.items()})
    if moved:
        return seen, f"The group's committed offsets changed since the preview ({'; '.join(moved)})."
    return seen, None


@dataclass(frozen=True)
class DeletionReview(Review):
    """A deletion checked against the group now. An active group is no obstacle as such: only its
    subscriptions, or offsets that moved since the request, are."""

    refusal: str = ""

    @property
    def blocked_reason(self) -> str | None:
        if self.requester_refused or self.error:
            return super().blocked_reason
        if self.refusal:
            return (
                f"{self.refusal} As the group stands now, a worker would refuse. Approve once that has changed, "
                "or reject it."
            )
        return None


class OffsetDeletionRun(lifecycle.Run, kind=Operation.Kind.DELETE_OFFSETS):
    """Re-check subscriptions and offsets, delete, and read back that the offsets are gone."""

    action = "delete"
    locks_group = True

    def left_behind(self, unexpected: bool) -> str:
        return "Check the group's offsets before retrying." if unexpected else ""

    def execute_steps(self, client: ClusterClient) -> None:
        operation = self.operation
        group_id = operation.group_id
        _, refusal = _refusal_now(client, operation)
        if refusal:
            raise ConsoleError(f"{refusal} Nothing was deleted. Preview again.", code="REFUSED")
        partitions = [TP(row["topic"], row["partition"]) for row in operation.plan]
        try:
            result = offset_deletion.delete_offsets(client, group_id, partitions)
        except ConsoleError as exc:
            if exc.code != "_TRANSPORT":
                raise  # Kafka refused the request as a whole: nothing was deleted
            raise ConsoleError(
                f"{exc.message} The request may have reached Kafka: check the group's offsets before retrying.",
                code=exc.code,
            ) from None
        Operation.objects.filter(pk=operation.pk).update(heartbeat=timezone.now())
        after = client.committed_offsets([group_id])[group_id]
        outcome = []
        for row in operation.plan:
            tp = TP(row["topic"], row["partition"])
            refused = result.refused.get(tp)
            outcome.append(
                {
                    "topic": tp.topic,
                    "partition": tp.partition,
                    "before": row["before"],
                    "deleted": refused is None,
                    "error": refused.message if refused else "",
                    "committed": after.get(tp),
                    # Deleted: no offset left. Refused: the offset Kafka kept is the one the plan found.
                    "verified": after.get(tp) == (row["before"] if refused else None),
                }
            )
        self._finish(outcome)

    def _finish(self, outcome: list[dict]) -> None:
        refused = [o for o in outcome if not o["deleted"]]
        gone = [f"{o['topic']}-{o['partition']}" for o in outcome if o["deleted"] and o["before"] is not None]
        wrong = [o for o in outcome if not o["verified"]]
        if refused:
            reasons = "; ".join(sorted({o["error"] for o in refused}))
            kept = ", ".join(f"{o['topic']}-{o['partition']}" for o in refused)
            done = (
                f" It deleted the offsets of {', '.join(gone)}: Undo puts them back."
                if gone
                else " Nothing was deleted."
            )
            error = f"Kafka refused to delete the offsets of {kept}: {reasons}.{done}"
        elif wrong:
            again = ", ".join(f"{o['topic']}-{o['partition']} ({o['committed']})" for o in wrong)
            error = (
                f"Kafka deleted the offsets, but reading them back found committed offsets again on {again}: "
                "a consumer of the group committed in between."
            )
        else:
            self.finish(Operation.Status.SUCCEEDED, outcome=outcome)
            return
        self.finish(Operation.Status.FAILED, outcome=outcome, error=error)

    @classmethod
    def review(cls, operation: Operation) -> Review:
        """The group's subscriptions and offsets now, against the request."""
        try:
            seen, refusal = _refusal_now(client_for(operation.cluster), operation)
        except ConsoleError as exc:
            return DeletionReview(error=exc.message)
        return DeletionReview(group=seen.group, refusal=refusal or "")

    @staticmethod
    def reap_stale() -> list[int]:
        return reap_stale_deletions()


def reap_stale_deletions(stale_after: timedelta | None = None) -> list[int]:
    """Mark deletions whose worker vanished as failed, saying whether the offsets are gone."""
    if stale_after is None:
        stale_after = timedelta(seconds=settings.OPERATION_STALE_AFTER)
    return lifecycle.fail_silent(lifecycle.stale([Operation.Kind.DELETE_OFFSETS], stale_after), _offsets_state)


def _offsets_state(operation: Operation) -> str:
    try:
        current = client_for(operation.cluster).committed_offsets([operation.group_id])[operation.group_id]
    except ConsoleError as exc:
        return f"The group's offsets could not be read to tell whether it applied ({exc.message})."
    held = [row for row in operation.plan if row["before"] is not None]
    now = [current.get(TP(row["topic"], row["partition"])) for row in held]
    if all(offset is None for offset in now):
        return "The offsets are gone: the deletion was applied."
    if now == [row["before"] for row in held]:
        return "The group's offsets are unchanged: the deletion was not applied."
    return "Some offsets are gone and some are not: inspect the group."
