"""Offset resets and group deletion: preview, request, and the worker's careful execution.

The web views and the `reset_offsets` command share these functions, so both plan, lock,
apply, verify and record the same way.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta

import kombu.exceptions
import redis
from django.conf import settings
from django.db import transaction
from django.utils import timezone

from groups import access, audit
from groups.planning import resets as planning
from groups.kafka import TP, ClusterClient, ConsoleError, GroupDescription, client_for
from groups.models import Cluster, Operation

logger = logging.getLogger(__name__)

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


def active_group_message(group: GroupDescription) -> str:
    """Why an active group's offsets cannot be changed nor the group deleted: its state and who is in it.

    The common part of every such refusal (preview, worker, approval review); each place adds
    what its reader should do next.
    """
    clients = ", ".join(sorted({m.client_id for m in group.members})) or "none listed"
    return (f"Group '{group.group_id}' is {group.state} with {len(group.members)} member(s) (client ids: {clients}): "
            "Kafka only accepts new offsets for an inactive group, and deletes only a group without members.")


@dataclass(frozen=True)
class Preview:
    group: GroupDescription
    plan: planning.ResetPlan
    zone_assumed: bool = False

    @property
    def blocked_reason(self) -> str | None:
        """Why the plan cannot be run as it stands, if it cannot."""
        if self.group.is_active:
            return f"{active_group_message(self.group)} Stop its consumers, then preview again."
        if not self.plan.rows:
            return "Nothing to reset: no partition is in scope. Choose topics or partitions."
        return None


def _parse_int(value: str, what: str) -> int:
    try:
        return int(value.strip())
    except ValueError:
        raise planning.PlanningError(f"{what} must be a whole number (e.g. 42 or -100), not '{value}'.") from None


def _strategy(client: ClusterClient, group_id: str, kind: str, value: str,
              undo_of: Operation | None) -> tuple[planning.Strategy, bool]:
    """The planning strategy for a form or command line choice, and whether a zone was assumed."""
    if undo_of is not None:
        return planning.Undo(undo_of.before_offsets()), False
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
            return planning.ToOffset(_parse_int(value, "The offset")), False
        case "shift-by":
            return planning.ShiftBy(_parse_int(value, "The shift")), False
        case "to-datetime":
            timestamp_ms, zone_assumed = planning.parse_datetime(value.strip())
            return planning.ToDatetime(timestamp_ms), zone_assumed
        case "by-duration":
            return planning.ByDuration(planning.parse_duration(value.strip())), False
        case "from-group":
            other = value.strip()
            if other == group_id:
                raise planning.PlanningError("Choose another group: copying a group's offsets onto itself changes nothing.")
            offsets = client.committed_offsets([other])[other]
            if not offsets:
                raise planning.PlanningError(f"Group '{other}' has no committed offsets to copy.")
            return planning.FromGroup(other, offsets), False
        case "from-file":
            return planning.FromFile(planning.parse_reset_csv(value, group_id)), False
    raise planning.PlanningError(f"Unknown strategy '{kind}'. Choose one of: {', '.join(STRATEGIES)}.")


def preview_reset(client: ClusterClient, group_id: str, kind: str, value: str = "", scope_text: str = "",
                  *, undo_of: Operation | None = None, now: datetime | None = None) -> Preview:
    """Read the group's facts once and compute the exact per-partition plan; nothing is written.

    Raises PlanningError for input the operator must correct and ConsoleError for Kafka failures.
    """
    now = now or timezone.now()
    group = client.describe_groups([group_id])[group_id]
    committed = client.committed_offsets([group_id])[group_id]
    strategy, zone_assumed = _strategy(client, group_id, kind, value, undo_of)

    if isinstance(strategy, planning.FromFile | planning.Undo):
        named = strategy.offsets if isinstance(strategy, planning.FromFile) else strategy.before
        scope = planning.Scope(partitions=frozenset(named))
        basis = committed
    else:
        scope = planning.parse_scope(scope_text) if scope_text.strip() else planning.ALL_TOPICS
        # "All topics" of a copy means the partitions the other group has offsets for.
        basis = strategy.offsets if isinstance(strategy, planning.FromGroup) else committed
    topics = set(scope.topics) | {t for t, _ in scope.partitions} | ({tp[0] for tp in basis} if scope.all_topics else set())
    counts = client.topic_partition_counts(sorted(topics))
    partitions = [TP(t, p) for t, p in planning.resolve_scope(scope, basis, counts)]

    log = client.log_offsets(partitions)
    gone = [str(tp) for tp in partitions if log[tp].start is None or log[tp].end is None]
    if gone:
        raise ConsoleError(f"Partitions {', '.join(gone)} have no leader or vanished while planning; try again.",
                           code="LEADER_NOT_AVAILABLE", retriable=True)
    facts = [planning.PartitionFacts(tp.topic, tp.partition, committed.get(tp), log[tp].start, log[tp].end)
             for tp in partitions]
    timestamp = planning.lookup_timestamp(strategy, now)
    offsets_for_time = client.offsets_for_time(partitions, timestamp) if timestamp is not None else None
    plan = planning.plan_reset(strategy, facts, offsets_for_time=offsets_for_time)
    return Preview(group=group, plan=plan, zone_assumed=zone_assumed)


def plan_rows(plan: planning.ResetPlan) -> list[dict]:
    return [
        {"topic": r.topic, "partition": r.partition, "before": r.before, "after": r.after,
         "log_start": r.log_start, "log_end": r.log_end, "clamped": r.clamped, "note": r.note}
        for r in plan.rows
    ]


def request_operation(*, cluster: Cluster, group_id: str, kind: str, plan: list[dict], reason: str,
                      actor: str, requester=None, via: str = "web", strategy: str = "", strategy_value: str = "",
                      scope: str = "", undo_of: Operation | None = None, source_ip: str | None = None,
                      dispatch: bool = True) -> Operation:
    """Record the operation and its audit event, and hand it to a worker once the row is committed.

    With dispatch=False the caller runs it itself through `run_operation` (the CLI does), which
    claims, locks and records exactly as the worker would. On a cluster that requires approval
    the operation waits for a decision instead (see `groups.approvals`), and nothing runs it yet.
    """
    if not reason.strip():
        raise planning.PlanningError("Say why: a reason is required for every change.")
    awaiting = cluster.require_approval
    with transaction.atomic():
        operation = Operation.objects.create(
            kind=kind, cluster=cluster, group_id=group_id, strategy=strategy, strategy_value=strategy_value,
            scope=scope, plan=plan, reason=reason.strip(), requester=requester, requested_via=via, undo_of=undo_of,
            status=Operation.Status.AWAITING_APPROVAL if awaiting else Operation.Status.PENDING,
            expires_at=timezone.now() + timedelta(minutes=cluster.approval_expiry_minutes) if awaiting else None,
        )
        audit.record("undo_requested" if undo_of else "requested", actor=actor, operation=operation,
                     source_ip=source_ip, outcome=operation.status)
        if dispatch and not awaiting:
            transaction.on_commit(lambda: dispatch_operation(operation))
    return operation


def dispatch_operation(operation: Operation) -> None:
    """Queue the operation for a worker; if the queue is unreachable, fail it rather than leave it pending forever."""
    from groups.tasks import run_operation

    try:
        run_operation.delay(operation.pk)
    except kombu.exceptions.OperationalError as exc:
        error = (f"The task queue could not be reached ({exc}), so no worker will run this operation and nothing "
                 "was changed. Check that Redis is up, then preview again.")
        failed = Operation.objects.filter(pk=operation.pk, status=Operation.Status.PENDING).update(
            status=Operation.Status.FAILED, finished=timezone.now(), error=error
        )
        if failed:
            operation.refresh_from_db()
            audit.record(Operation.Status.FAILED, actor="console", operation=operation, outcome="failed", error=error)


def _redis() -> redis.Redis:
    return redis.Redis.from_url(settings.REDIS_URL)


def group_lock_name(cluster_id: int, group_id: str) -> str:
    """The Redis key that serializes operations on one group of one cluster."""
    return f"console:group-lock:{cluster_id}:{group_id}"


def _finish(operation: Operation, status: str, *, error: str = "", outcome: list | None = None) -> bool:
    """Move a running operation to a final status, once; False if something else finished it first."""
    fields = {"status": status, "finished": timezone.now(), "error": error}
    if outcome is not None:
        fields["outcome"] = outcome
    done = Operation.objects.filter(pk=operation.pk, status=Operation.Status.RUNNING).update(**fields)
    if done:
        operation.refresh_from_db()
        audit.record(status, actor="worker", operation=operation, outcome=status, error=error)
    return bool(done)


def run_operation(operation_id: int) -> None:
    """Claim, lock, re-check, apply, verify and record one operation. Safe to call twice."""
    now = timezone.now()
    claimed = Operation.objects.filter(pk=operation_id, status=Operation.Status.PENDING).update(
        status=Operation.Status.RUNNING, started=now, heartbeat=now
    )
    if not claimed:
        return
    operation = Operation.objects.select_related("cluster", "requester").get(pk=operation_id)
    audit.record("started", actor="worker", operation=operation, outcome="running")
    refused = _refusal(operation)
    if refused:
        _finish(operation, Operation.Status.FAILED, error=refused)
        return
    lock = _redis().lock(group_lock_name(operation.cluster_id, operation.group_id), timeout=settings.CELERY_TASK_TIME_LIMIT)
    try:
        holder = _take_group_lock(lock, operation)
    except redis.RedisError as exc:
        _finish(operation, Operation.Status.FAILED, error=f"Redis is unavailable ({exc}); nothing was changed.")
        return
    if holder is not None:
        _finish(operation, Operation.Status.FAILED,
                error=f"{holder} is running on this group right now, so this one changed nothing. "
                      "Preview again once it has finished.")
        return
    try:
        client = client_for(operation.cluster)
        if operation.kind == Operation.Kind.DELETE_GROUP:
            _delete_group(operation, client)
        else:
            _apply_reset(operation, client)
    except ConsoleError as exc:
        _finish(operation, Operation.Status.FAILED, error=exc.message)
    except Exception:
        logger.exception("operation %s failed unexpectedly", operation.pk)
        _finish(operation, Operation.Status.FAILED,
                error="The worker failed unexpectedly (the error is in its log). Check the group's offsets before retrying.")
        raise
    finally:
        try:
            lock.release()
        except redis.RedisError:
            pass  # expired or Redis gone: the lock's timeout frees it either way


def _take_group_lock(lock, operation: Operation) -> str | None:
    """Take the group's lock, or return which operation holds it ("Operation #12").

    The holder can release between our failed attempt and our look at who held it; then we
    simply try again, so the answer is always either the lock or a name.
    """
    for _ in range(5):
        if lock.acquire(blocking=False, token=str(operation.pk)):
            return None
        holder = _redis().get(group_lock_name(operation.cluster_id, operation.group_id))
        if holder is not None:
            return f"Operation #{holder.decode()}"
    return "Another operation (the lock changed hands repeatedly)"


def _refusal(operation: Operation) -> str | None:
    """Why the requester may no longer have this done, if a right was withdrawn while it waited.

    Operations without a requester come from code that checked its caller itself (the CLI checks
    its --as user); they are not checked again.
    """
    requester = operation.requester
    action = "delete" if operation.kind == Operation.Kind.DELETE_GROUP else "reset"
    if requester is None or access.allowed(requester, action, operation.cluster, operation.group_id):
        return None
    error = (access.refusal(action, operation.cluster, operation.group_id, who=requester.get_username())
             + " This was checked again when a worker started the operation, so nothing was changed.")
    audit.record("denied", actor=requester.get_username(), operation=operation, outcome="denied", error=error)
    return error


def _refuse_if_active(operation: Operation, group: GroupDescription) -> None:
    if group.is_active:
        again = "request the deletion again" if operation.kind == Operation.Kind.DELETE_GROUP else "preview again"
        raise ConsoleError(f"{active_group_message(group)} Nothing was written. Stop its consumers, then {again}.",
                           code="GROUP_ACTIVE")


def _apply_reset(operation: Operation, client: ClusterClient) -> None:
    group_id = operation.group_id
    _refuse_if_active(operation, client.describe_groups([group_id])[group_id])
    current = client.committed_offsets([group_id])[group_id]
    drifted = [
        f"{row['topic']}-{row['partition']} was {_offset_text(row['before'])} at preview, now "
        f"{_offset_text(current.get(TP(row['topic'], row['partition'])))}"
        for row in operation.plan
        if current.get(TP(row["topic"], row["partition"])) != row["before"]
    ]
    if drifted:
        raise ConsoleError(
            "The group's committed offsets changed since the preview (" + "; ".join(drifted) + "). "
            "Nothing was written. Preview again to see the plan against the current offsets.",
            code="OFFSETS_DRIFTED",
        )
    client.alter_offsets(group_id, {TP(r["topic"], r["partition"]): r["after"] for r in operation.plan})
    Operation.objects.filter(pk=operation.pk).update(heartbeat=timezone.now())
    after = client.committed_offsets([group_id])[group_id]
    outcome = [
        {"topic": r["topic"], "partition": r["partition"], "planned": r["after"],
         "committed": after.get(TP(r["topic"], r["partition"])),
         "verified": after.get(TP(r["topic"], r["partition"])) == r["after"]}
        for r in operation.plan
    ]
    wrong = [f"{o['topic']}-{o['partition']}" for o in outcome if not o["verified"]]
    if wrong:
        _finish(operation, Operation.Status.FAILED, outcome=outcome,
                error=f"Read-back after the commit does not match the plan for {', '.join(wrong)}: "
                      "another client committed in between. See the per-partition results.")
        return
    _finish(operation, Operation.Status.SUCCEEDED, outcome=outcome)


def _delete_group(operation: Operation, client: ClusterClient) -> None:
    group_id = operation.group_id
    _refuse_if_active(operation, client.describe_groups([group_id])[group_id])
    client.delete_group(group_id)
    remaining = client.committed_offsets([group_id])[group_id]
    if remaining:
        _finish(operation, Operation.Status.FAILED,
                error=f"Kafka accepted the deletion but the group still has offsets on {len(remaining)} partition(s).")
        return
    _finish(operation, Operation.Status.SUCCEEDED)


def _offset_text(offset: int | None) -> str:
    return "none" if offset is None else str(offset)


def reap_stale_operations(stale_after: timedelta | None = None) -> list[int]:
    """Mark running operations whose worker vanished as failed, saying what the offsets now are.

    Replays are left out: they resume from their checkpoint instead (`replay.resume_stale_replays`).
    """
    if stale_after is None:
        stale_after = timedelta(seconds=settings.OPERATION_STALE_AFTER)
    cutoff = timezone.now() - stale_after
    stale = list(Operation.objects.select_related("cluster").filter(
        status=Operation.Status.RUNNING, heartbeat__lt=cutoff
    ).exclude(kind=Operation.Kind.REPLAY))
    current = _current_offsets([operation for operation in stale if operation.kind == Operation.Kind.RESET])
    reaped = []
    for operation in stale:
        state = _offsets_state(operation, current.get(operation.cluster_id))
        if _finish(operation, Operation.Status.FAILED,
                   error=f"The worker running this operation stopped without reporting back. {state}"):
            reaped.append(operation.pk)
    return reaped


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
    if operation.kind != Operation.Kind.RESET:
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
