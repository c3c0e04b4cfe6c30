"""Offset resets and group deletions: preview, request, and their steps in the one operation lifecycle.

The web views and the `reset_offsets` command share these functions, so both plan, lock,
apply, verify and record the same way. A reset and a deletion change one group: a run holds the
group's lock, refuses an active group, writes, reads back and records what it found.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import ClassVar

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from groups import reading
from groups.kafka import TP, ClusterClient, ConsoleError, GroupDescription, client_for, describe_group_to_change
from groups.models import Cluster, Operation
from groups.operations import internal_topics, lifecycle, reset_steps
from groups.operations.active_groups import active_group_message, stop_members
from groups.operations.lifecycle import Review
from groups.operations.plan_review import compare_plans
from groups.planning import deletions, inputs, reset_notes
from groups.planning import resets as planning
from groups.planning import streams as streams_scope
from groups.planning.streams_topics import InternalTopicsPlan

STRATEGIES = {
    "to-earliest": "Earliest (log start)",
    "to-latest": "Latest (log end)",
    "to-current": "Current (commit the current offsets again)",
    "to-offset": "Offset",
    "shift-by": "Shift by ±N",
    "to-datetime": "Date and time",
    "by-duration": "Duration ago",
    "from-group": "Another group's offsets",
    "from-file": "File (kafka-consumer-groups --export CSV)",
}
NEEDS_VALUE = {"to-offset", "shift-by", "to-datetime", "by-duration", "from-group", "from-file"}
GROUP_KINDS = (Operation.Kind.RESET, Operation.Kind.DELETE_GROUP)
NOTHING_TO_CHANGE = "Nothing would change: every partition in scope already has the offset this plan would commit."


@dataclass(frozen=True)
class Preview:
    group: GroupDescription
    plan: planning.ResetPlan
    zone_assumed: bool = False
    # Kafka creates a group on its first commit, so a plan may give a group that does not exist its first offsets.
    group_exists: bool = True
    # A streams group's internal topics, which the reset may delete too (None for other groups).
    internal_topics: InternalTopicsPlan | None = None

    @property
    def blocked_reason(self) -> str | None:
        """Why the plan cannot be run as it stands, if it cannot."""
        if self.group.is_active:
            return f"{active_group_message(self.group)} {stop_members(self.group)}, then preview again."
        if not self.plan.rows and not self.group_exists:
            return (
                f"Consumer group '{self.group.group_id}' does not exist on this cluster, so it has no offsets to "
                "reset: check the group id, or name topics or partitions to give a new group its first offsets."
            )
        if not self.plan.rows:
            return "Nothing to reset: no partition is in scope. Choose topics or partitions."
        if self.plan.changes_nothing:
            return f"{NOTHING_TO_CHANGE} Choose another strategy or scope."
        return None


def strategy_from_value(kind: str, value: str) -> tuple[planning.Strategy, bool] | None:
    """The strategy its choice and value name on their own, and whether a zone was assumed; None for a
    copy or a file, which read the cluster or the upload. Raises PlanningError for a value that does not read.

    Forms call it too, so a mistyped value is told next to its field before anything reads Kafka.
    """
    if kind in NEEDS_VALUE and not value.strip():
        raise planning.PlanningError(f"The strategy '{kind}' needs a value.")
    match kind:
        case "to-earliest":
            return planning.ToEarliest(), False
        case "to-latest":
            return planning.ToLatest(), False
        case "to-current":
            return planning.ToCurrent(), False
        case "to-offset":
            return planning.ToOffset(inputs.whole_number(value, "The offset")), False
        case "shift-by":
            return planning.ShiftBy(inputs.whole_number(value, "The shift")), False
        case "to-datetime":
            timestamp_ms, zone_assumed = inputs.parse_datetime(value.strip())
            return planning.ToDatetime(timestamp_ms), zone_assumed
        case "by-duration":
            return planning.ByDuration(inputs.parse_duration(value.strip())), False
    return None


def _strategy(
    client: ClusterClient, group_id: str, kind: str, value: str, undo_of: Operation | None
) -> tuple[planning.Strategy, bool]:
    """The planning strategy for a form or command line choice, and whether a zone was assumed."""
    if undo_of is not None:
        return planning.Undo(undo_of.before_offsets()), False
    read = strategy_from_value(kind, value)
    if read is not None:
        return read
    match kind:
        case "from-group":
            other = value.strip()
            if other == group_id:
                raise planning.PlanningError(
                    "Choose another group: copying a group's offsets onto itself changes nothing."
                )
            offsets = client.committed_offsets([other])[other]
            if not offsets:
                if describe_group_to_change(client, other).type == "share":
                    raise planning.PlanningError(
                        f"Group '{other}' is a share group: its share-partitions have start offsets, not committed "
                        "offsets, and there is nothing a consumer group could copy. Choose a consumer group."
                    )
                raise planning.PlanningError(f"Group '{other}' has no committed offsets to copy.")
            return planning.FromGroup(
                other, {(tp.topic, tp.partition): offset for tp, offset in offsets.items()}
            ), False
        case "from-file":
            return planning.FromFile(inputs.parse_reset_csv(value, group_id)), False
    raise planning.PlanningError(f"Unknown strategy '{kind}'. Choose one of: {', '.join(STRATEGIES)}.")


def preview_reset(
    client: ClusterClient,
    group_id: str,
    kind: str,
    value: str = "",
    scope_text: str = "",
    *,
    undo_of: Operation | None = None,
    now: datetime | None = None,
) -> Preview:
    """Read the group's facts once and compute the exact per-partition plan; nothing is written.

    Raises PlanningError for input the operator must correct and ConsoleError for Kafka failures.
    """
    now = now or timezone.now()
    group = describe_group_to_change(client, group_id)
    reading.refuse_share_group(group)
    committed = client.committed_offsets([group_id])[group_id]
    strategy, zone_assumed = _strategy(client, group_id, kind, value, undo_of)
    held = {(tp.topic, tp.partition): offset for tp, offset in committed.items()}
    if undo_of is not None and undo_of.kind == Operation.Kind.DELETE_OFFSETS:
        deletions.refuse_recommitted(undo_of.pk, undo_of.before_offsets(), held)
    if undo_of is not None and undo_of.kind == Operation.Kind.DELETE_GROUP:
        deletions.refuse_recreated(undo_of.pk, group_id, held)
    undo_notes = (
        reset_notes.undo_after_deleted_topics(undo_of.pk, undo_of.internal_topics)
        + reset_notes.undo_over_newer_commits(undo_of.pk, undo_of.plan, held)
        if undo_of is not None and undo_of.kind == Operation.Kind.RESET
        else []
    )

    basis: Iterable[planning.PartitionId]
    notes: list[str] = []
    if isinstance(strategy, planning.FromFile | planning.Undo):
        named = strategy.offsets if isinstance(strategy, planning.FromFile) else strategy.before
        scope = planning.Scope(partitions=frozenset(named))
        basis = committed
    else:
        scope = planning.parse_scope(scope_text) if scope_text.strip() else planning.ALL_TOPICS
        # "All topics" of a copy means the partitions the other group has offsets for.
        basis = strategy.offsets if isinstance(strategy, planning.FromGroup) else committed
        if group.type == "streams":
            refused = streams_scope.outside_group(group_id, scope, committed)
            if refused:
                raise planning.PlanningError(refused)
            if isinstance(strategy, planning.FromGroup):
                basis, left_out = streams_scope.copied_inputs(group_id, strategy.group, strategy.offsets, committed)
                notes += left_out
            else:
                basis = streams_scope.all_input_partitions(committed, group.source_topics)
                if scope.all_topics:
                    notes += streams_scope.internal_offsets_kept(committed, group.source_topics)
        elif isinstance(strategy, planning.FromGroup) and scope.all_topics:
            notes += reset_notes.copy_beyond_topics(group_id, strategy.group, strategy.offsets, committed)
    plan = reset_steps.plan_against_log(client, strategy, scope, basis, committed, now)
    stable = client.stable_offsets([TP(row.topic, row.partition) for row in plan.rows])
    notes += reset_notes.past_open_transactions(plan.rows, {(tp.topic, tp.partition): o for tp, o in stable.items()})
    exists = not reading.group_missing(group, committed)
    if not exists and plan.rows:
        notes.insert(
            0, f"Consumer group '{group_id}' does not exist on this cluster yet: applying this plan creates it."
        )
    notes[:0] = undo_notes
    if notes:
        plan = replace(plan, warnings=(*notes, *plan.warnings))
    internal = internal_topics.preview_internal_topics(client, group) if exists else None
    return Preview(group=group, plan=plan, zone_assumed=zone_assumed, group_exists=exists, internal_topics=internal)


def plan_rows(plan: planning.ResetPlan) -> list[dict]:
    return [
        {
            "topic": r.topic,
            "partition": r.partition,
            "before": r.before,
            "after": r.after,
            "log_start": r.log_start,
            "log_end": r.log_end,
            "clamped": r.clamped,
            "note": r.note,
        }
        for r in plan.rows
    ]


def request_operation(
    *,
    cluster: Cluster,
    group_id: str,
    kind: str,
    plan: list[dict],
    reason: str,
    actor: str,
    requester=None,
    via: str = "web",
    strategy: str = "",
    strategy_value: str = "",
    scope: str = "",
    undo_of: Operation | None = None,
    source_ip: str | None = None,
    dispatch: bool = True,
    preview_nonce: str = "",
    delete_internal_topics: list[dict] | None = None,
    group_type: str = "",
) -> Operation:
    """Request a reset (or, with `kind` delete_group, a deletion of a group of `group_type`); see `lifecycle.request`.

    `delete_internal_topics` are a streams group's internal topics (rows of `InternalTopicsPlan.rows`) to
    delete once the group change succeeded. With dispatch=False the caller runs it itself through
    `run_operation` (the CLI does). Raises `lifecycle.RequestRefused` without a reason, for a reset that
    would change nothing, for an undo of an operation that cannot be undone (again), and for a preview
    (`preview_nonce`) requested before.
    """
    if kind not in GROUP_KINDS:
        raise ValueError(f"not a change of a group: {kind!r}")
    # Checked here, not only in the preview: a token signed earlier, or a second tab, reaches this too.
    if kind == Operation.Kind.RESET and _changes_nothing(plan):
        raise lifecycle.RequestRefused(f"{NOTHING_TO_CHANGE} Nothing was requested.")
    with transaction.atomic():
        if undo_of is not None:
            # Locked, so two confirmations of one undo cannot both find it not yet undone (SQLite's
            # transactions here already admit one writer at a time).
            refused = undo_refusal(Operation.objects.select_for_update().get(pk=undo_of.pk))
            if refused:
                raise lifecycle.RequestRefused(refused)
        return lifecycle.request(
            cluster=cluster,
            kind=kind,
            plan=plan,
            reason=reason,
            actor=actor,
            requester=requester,
            via=via,
            source_ip=source_ip,
            dispatch=dispatch,
            preview_nonce=preview_nonce,
            group_id=group_id,
            strategy=strategy,
            strategy_value=strategy_value,
            scope=scope,
            undo_of=undo_of,
            internal_topics=delete_internal_topics or [],
            group_type=group_type,
        )


def _changes_nothing(plan: list[dict]) -> bool:
    return planning.ResetPlan(tuple(planning.PlannedPartition(**row) for row in plan)).changes_nothing


def undo_refusal(operation: Operation) -> str | None:
    """Why `operation` cannot be undone, if it cannot (Operation.can_be_undone), and only once."""
    undo = operation.undo
    if undo is not None:
        who = undo.requester.get_username() if undo.requester else "anonymous"
        return (
            f"Operation #{operation.pk} was already undone by operation #{undo.pk} (requested by {who}, "
            f"{undo.get_status_display().lower()}): an operation is undone once. To move the offsets again, "
            "preview a new reset."
        )
    if not operation.can_be_undone and operation.kind == Operation.Kind.DELETE_GROUP:
        return deletions.group_deletion_refusal(
            operation.pk,
            operation.group_id,
            status=operation.get_status_display().lower(),
            group_type=operation.group_type,
            internal_topics=operation.internal_topics,
            offsets=len(operation.before_offsets()),
        )
    if not operation.can_be_undone:
        return (
            f"Operation #{operation.pk} cannot be undone: only an offset reset that succeeded and found offsets "
            "to put back, an offset deletion that deleted offsets, or a consumer group's deletion, can."
        )
    return None


def run_operation(operation_id: int) -> None:
    """Claim, lock, re-check, apply, verify and record one operation, as a worker does. Safe to call twice."""
    lifecycle.execute(operation_id)


class _GroupRun(lifecycle.Run):
    """A run that changes one group: under the group's lock, and only while the group is inactive."""

    locks_group = True
    # What the person should do after an active group refused the change.
    again: ClassVar[str] = "preview again"

    def left_behind(self, unexpected: bool) -> str:
        return "Check the group's offsets before retrying." if unexpected else ""

    def refuse_if_active(self, group: GroupDescription) -> None:
        if group.is_active:
            deleting = self.operation.kind == Operation.Kind.DELETE_GROUP
            raise ConsoleError(
                f"{active_group_message(group, deleting=deleting)} Nothing was written. {stop_members(group)}, "
                f"then {self.again}.",
                code="GROUP_ACTIVE",
            )

    @staticmethod
    def reap_stale() -> list[int]:
        return reap_stale_operations()


class ResetRun(_GroupRun, kind=Operation.Kind.RESET):
    """Re-check that the group is inactive and its offsets are those of the preview, commit the plan, read back."""

    action = "reset"

    @classmethod
    def requester_refusal(cls, operation: Operation, action: str = "") -> str | None:
        # Deleting internal topics with the reset is a deletion: its requester must still hold that right too.
        refused = super().requester_refusal(operation, action)
        if refused is None and operation.internal_topics:
            return super().requester_refusal(operation, internal_topics.ACTION)
        return refused

    def execute_steps(self, client: ClusterClient) -> None:
        operation = self.operation
        group_id = operation.group_id
        self.refuse_if_active(describe_group_to_change(client, group_id))
        current = client.committed_offsets([group_id])[group_id]
        drifted = reset_steps.drifted(operation.plan, current)
        if drifted:
            raise ConsoleError(
                "The group's committed offsets changed since the preview (" + "; ".join(drifted) + "). "
                "Nothing was written. Preview again to see the plan against the current offsets.",
                code="OFFSETS_DRIFTED",
            )
        internal_topics.recheck(client, operation)
        client.alter_offsets(group_id, {TP(r["topic"], r["partition"]): r["after"] for r in operation.plan})
        Operation.objects.filter(pk=operation.pk).update(heartbeat=timezone.now())
        outcome, wrong = reset_steps.read_back(operation.plan, client.committed_offsets([group_id])[group_id])
        if wrong:
            self.finish(
                Operation.Status.FAILED,
                outcome=outcome,
                error=f"Read-back after the commit does not match the plan for {', '.join(wrong)}: "
                "another client committed in between. See the per-partition results.",
            )
            return
        not_deleted = internal_topics.delete_after(client, operation, "its offsets were reset as planned")
        if not_deleted:
            self.finish(Operation.Status.FAILED, outcome=outcome, error=not_deleted)
            return
        self.finish(Operation.Status.SUCCEEDED, outcome=outcome)

    @classmethod
    def review(cls, operation: Operation) -> Review:
        """The same request planned again against the group's offsets now, compared with what was requested."""
        try:
            preview = preview_reset(
                client_for(operation.cluster),
                operation.group_id,
                operation.strategy,
                operation.strategy_value,
                operation.scope,
                undo_of=operation.undo_of,
            )
        except planning.PlanningError as exc:
            return Review(error=str(exc))
        except ConsoleError as exc:
            return Review(error=exc.message)
        checks = compare_plans(operation.plan, preview.plan.rows)
        return Review(
            group=preview.group, checks=checks, error=internal_topics.review_note(operation, preview.internal_topics)
        )


class DeletionRun(_GroupRun, kind=Operation.Kind.DELETE_GROUP):
    """Re-check that the group has no members, delete it, and check that no offsets remain."""

    action = "delete"
    again = "request the deletion again"

    def execute_steps(self, client: ClusterClient) -> None:
        group_id = self.operation.group_id
        self.refuse_if_active(describe_group_to_change(client, group_id))
        internal_topics.recheck(client, self.operation)
        client.delete_group(group_id)
        remaining = client.committed_offsets([group_id])[group_id]
        if remaining:
            self.finish(
                Operation.Status.FAILED,
                error=f"Kafka accepted the deletion but the group still has offsets on {len(remaining)} partition(s).",
            )
            return
        not_deleted = internal_topics.delete_after(client, self.operation, "the group was deleted")
        self.finish(Operation.Status.FAILED if not_deleted else Operation.Status.SUCCEEDED, error=not_deleted)

    @classmethod
    def review(cls, operation: Operation) -> Review:
        """The group as it stands now: a deletion can be approved only while it has no members (and its internal
        topics to delete are still those requested)."""
        try:
            client = client_for(operation.cluster)
            group = describe_group_to_change(client, operation.group_id)
            topics_now = internal_topics.preview_internal_topics(client, group) if operation.internal_topics else None
        except ConsoleError as exc:
            return Review(error=exc.message)
        return Review(group=group, error=internal_topics.review_note(operation, topics_now), deleting=True)


def reap_stale_operations(stale_after: timedelta | None = None) -> list[int]:
    """Mark resets and deletions whose worker vanished as failed, saying what the offsets now are."""
    if stale_after is None:
        stale_after = timedelta(seconds=settings.OPERATION_STALE_AFTER)
    stale = lifecycle.stale(list(GROUP_KINDS), stale_after)
    current = _current_offsets([operation for operation in stale if operation.kind == Operation.Kind.RESET])
    return lifecycle.fail_silent(stale, lambda operation: _offsets_state(operation, current.get(operation.cluster_id)))


def _current_offsets(operations: list[Operation]) -> dict[int, dict[str, dict[TP, int]] | ConsoleError]:
    """By cluster id: the committed offsets of the operations' groups, read in one call per cluster, or why not."""
    by_cluster: dict[int, tuple[Cluster, set[str]]] = {}
    for operation in operations:
        by_cluster.setdefault(operation.cluster_id, (operation.cluster, set()))[1].add(operation.group_id)
    out: dict[int, dict[str, dict[TP, int]] | ConsoleError] = {}
    for cluster_id, (cluster, group_ids) in by_cluster.items():
        try:
            out[cluster_id] = client_for(cluster).committed_offsets(sorted(group_ids))
        except ConsoleError as exc:
            out[cluster_id] = exc
    return out


def _offsets_state(operation: Operation, offsets: dict[str, dict[TP, int]] | ConsoleError | None) -> str:
    """What a vanished worker left behind, judged from `offsets` (the cluster's entry of `_current_offsets`)."""
    if operation.kind != Operation.Kind.RESET or offsets is None:
        return "Check the group before retrying."
    if isinstance(offsets, ConsoleError):
        return f"The group's offsets could not be read to tell whether it applied ({offsets.message})."
    current = offsets[operation.group_id]
    got = [current.get(TP(r["topic"], r["partition"])) for r in operation.plan]
    if got == [r["after"] for r in operation.plan]:
        return "The group's offsets equal the plan: the reset was applied."
    if got == [r["before"] for r in operation.plan]:
        return "The group's offsets are unchanged: the reset was not applied."
    return "The group's offsets match neither the plan nor the previous offsets: inspect the group."
