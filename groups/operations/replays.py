"""Replays: copy a range of a topic's records into a target topic, exactly (or at least) once, as an operation.

`preview_replay` checks a request against the cluster, turns it into offsets (once: a time
window becomes offsets here and never again), samples the first records and warns about what
the target would do to the copies. `request_replay` records it as an operation of kind replay,
with its request as a typed `Replay` row; `groups.operations.replay_run` holds its steps in the
one operation lifecycle (copy with progress and cancel, finish).

A run that dies is resumed, never restarted: the copy's checkpoint is its private group's
committed offsets, written in the same Kafka transaction as the copies (see
`groups.kafka.copier`). `resume_replay` hands a running replay to a new run, which fences the
old one; the periodic reaper does that for replays whose run stopped reporting, and a run near
the task time limit hands itself over the same way.
"""

from __future__ import annotations

import logging
import time
import uuid
from datetime import timedelta

import kombu.exceptions
from django.core.exceptions import PermissionDenied
from django.db import transaction
from django.utils import timezone

from groups import access, audit
from groups.kafka import (
    CHECKPOINT_CADENCE,
    TP,
    ClusterClient,
    ConsoleError,
    CopyProgress,
)
from groups.models import AuditEvent, Cluster, Operation, Replay
from groups.operations import lifecycle
from groups.planning.replays import (
    PartitionBounds,
    ReplayError,
    ReplayPreview,
    ReplayRequest,
    check_request,
    check_target,
    empty_range_message,
    listed,
    plan_ranges,
    record_filter,
    replay_warnings,
    requested_partitions,
    sample_row,
)

logger = logging.getLogger(__name__)

RESUME_TASK = "groups.tasks.resume_replay"
# A run reports at least every half second, so one silent this long has died (or hangs on Kafka).
STALE_AFTER = timedelta(seconds=30)
# Runs in a row that may die at one checkpoint before the reaper fails the replay instead of resuming it.
MAX_STALLS = 3


def preview_replay(
    client: ClusterClient, request: ReplayRequest, *, sample_size: int = 10, now_ms: int | None = None
) -> ReplayPreview:
    """Check the request against the cluster and plan it as absolute offsets; nothing is written.

    Raises ReplayError for input the operator must change (nothing is started) and ConsoleError
    when Kafka fails.
    """
    check_request(request)
    now_ms = now_ms if now_ms is not None else int(time.time() * 1000)
    facts = client.topic_facts([request.topic, request.target_topic])
    if request.topic not in facts:
        raise ReplayError(f"Topic '{request.topic}' does not exist on this cluster: check its name.")
    if request.target_topic not in facts:
        raise ReplayError(
            f"Target topic '{request.target_topic}' does not exist on this cluster: create it first "
            "(the console does not create topics), then preview again."
        )
    source, target = facts[request.topic], facts[request.target_topic]
    partitions = requested_partitions(request, source.partitions)
    check_target(request, partitions, target.partitions)

    tps = [TP(request.topic, p) for p in partitions]
    bounds = _bounds(client, tps)
    at_from = at_to = None
    # check_request let through either offsets or both ends of a time window.
    if request.time_from_ms is not None and request.time_to_ms is not None:
        found_from = client.offsets_for_time(tps, request.time_from_ms, read_committed=True)
        found_to = client.offsets_for_time(tps, request.time_to_ms, read_committed=True)
        at_from = {tp.partition: offset for tp, offset in found_from.items()}
        at_to = {tp.partition: offset for tp, offset in found_to.items()}
    rows, warnings = plan_ranges(request, bounds, at_from, at_to)
    total = sum(row["count"] for row in rows)
    if total == 0:
        raise ReplayError(empty_range_message(request, bounds))

    ranges = {row["partition"]: (row["start"], row["end"]) for row in rows}
    records = client.read_records(request.topic, ranges, per_partition=max(1, sample_size))
    accept = record_filter(request)
    limits_matter = request.keep_timestamps and target.timestamp_after_max_ms is not None
    max_timestamps = client.max_timestamps(tps) if limits_matter else {}
    warnings += replay_warnings(
        request, rows, source, target, records, {tp.partition: found for tp, found in max_timestamps.items()}, now_ms
    )
    return ReplayPreview(
        ranges=rows,
        total=total,
        sample=[sample_row(record, accept) for record in records[:sample_size]],
        warnings=warnings,
        target={
            "partitions": target.partitions,
            "timestamp_type": target.timestamp_type,
            "retention_ms": target.retention_ms,
            "source_partitions": source.partitions,
            "source_timestamp_type": source.timestamp_type,
        },
    )


def _bounds(client: ClusterClient, tps: list[TP]) -> dict[int, PartitionBounds]:
    log = client.log_offsets(tps)
    stable = client.stable_offsets(tps)
    bounds, gone = {}, []
    for tp in tps:
        start, end = log[tp].start, log[tp].end
        if start is None or end is None:
            gone.append(str(tp))
        else:
            bounds[tp.partition] = PartitionBounds(start, end, min(stable[tp], end))
    if gone:
        raise ConsoleError(
            f"Partitions {', '.join(gone)} have no leader or vanished while planning; try again.",
            code="LEADER_NOT_AVAILABLE",
            retriable=True,
        )
    return bounds


def check_still_possible(client: ClusterClient, operation: Operation, request: ReplayRequest) -> None:
    """Refuse a replay whose topics or records went away since it was planned."""
    facts = client.topic_facts([request.topic, request.target_topic])
    for name, role in ((request.topic, "source"), (request.target_topic, "target")):
        if name not in facts:
            raise ReplayError(f"The {role} topic '{name}' no longer exists; nothing was copied.")
    partitions = [row["partition"] for row in operation.plan]
    missing = [p for p in partitions if p >= facts[request.topic].partitions]
    if missing:
        raise ReplayError(f"Partitions {listed(missing)} of '{request.topic}' no longer exist; nothing was copied.")
    check_target(request, partitions, facts[request.target_topic].partitions)
    log = client.log_offsets([TP(request.topic, p) for p in partitions])
    lost = [
        f"{row['partition']} (log starts at {log[TP(request.topic, row['partition'])].start}, the range at "
        f"{row['start']})"
        for row in operation.plan
        if row["start"] < row["end"] and (log[TP(request.topic, row["partition"])].start or 0) > row["start"]
    ]
    if lost:
        raise ReplayError(
            f"Records of the range were deleted since the preview, in partition"
            f"{'s' if len(lost) > 1 else ''} {', '.join(lost)}; nothing was copied. Preview again."
        )


def request_replay(
    *,
    cluster: Cluster,
    request: ReplayRequest,
    preview: ReplayPreview,
    reason: str,
    actor: str,
    requester=None,
    via: str = "web",
    source_ip: str | None = None,
    dispatch: bool = True,
    preview_nonce: str = "",
) -> Operation:
    """Record the replay of `preview.ranges` as an operation; a worker runs it once the row is committed.

    Approval, audit and dispatch are those of every operation (`lifecycle.request`). The copy's
    private group (its checkpoint and transactional id) is named once here, so that a test
    database reused against the same cluster never resumes another's copy. With dispatch=False
    the caller runs it itself through `run_replay` (the CLI does).
    """
    if preview.total <= 0 or not preview.ranges:
        raise ReplayError("The range holds no records, so there is nothing to copy.")
    if any(row["topic"] != request.topic for row in preview.ranges):
        raise ReplayError("The preview is of another topic than the request: preview again.")
    check_request(request)
    copy_group = f"console-replay-{uuid.uuid4().hex[:16]}"
    return lifecycle.request(
        cluster=cluster,
        kind=Operation.Kind.REPLAY,
        plan=[dict(row) for row in preview.ranges],
        reason=reason,
        actor=actor,
        requester=requester,
        via=via,
        source_ip=source_ip,
        dispatch=dispatch,
        preview_nonce=preview_nonce,
        details=lambda operation: save_request(operation, request, copy_group),
        progress_total=preview.total,
    )


def save_request(operation: Operation, request: ReplayRequest, copy_group: str) -> Replay:
    """The replay row of `operation`: its request, typed, and the copy's private group."""
    header_name, header_value = request.header_equals or ("", "")
    return Replay.objects.create(
        operation=operation,
        copy_group=copy_group,
        topic=request.topic,
        partitions=list(request.partitions) if request.partitions is not None else None,
        offsets=(
            {str(p): [start, end] for p, (start, end) in sorted(request.offsets.items())}
            if request.offsets is not None
            else None
        ),
        time_from_ms=request.time_from_ms,
        time_to_ms=request.time_to_ms,
        key_equals=request.key_equals or "",
        key_regex=request.key_regex or "",
        header_present=request.header_present or "",
        header_name=header_name,
        header_value=header_value,
        target_topic=request.target_topic,
        partitioning=request.partitioning,
        keep_timestamps=request.keep_timestamps,
        throttle_rps=request.throttle_rps,
        exactly_once=request.exactly_once,
    )


def request_of(operation: Operation) -> ReplayRequest:
    """The request a replay operation was recorded with."""
    row = operation.replay
    return ReplayRequest(
        topic=row.topic,
        partitions=tuple(row.partitions) if row.partitions is not None else None,
        offsets={int(p): (start, end) for p, (start, end) in row.offsets.items()} if row.offsets is not None else None,
        time_from_ms=row.time_from_ms,
        time_to_ms=row.time_to_ms,
        key_equals=row.key_equals or None,
        key_regex=row.key_regex or None,
        header_present=row.header_present or None,
        header_equals=(row.header_name, row.header_value) if row.header_name else None,
        target_topic=row.target_topic,
        partitioning=row.partitioning,
        keep_timestamps=row.keep_timestamps,
        throttle_rps=row.throttle_rps,
        exactly_once=row.exactly_once,
    )


def run_replay(operation_id: int, *, takeover: int | None = None, time_limit: float | None = None) -> None:
    """Claim the replay and copy its ranges from the checkpoint, reporting progress; safe to call twice.

    Without `takeover` it claims a pending replay, or, when it is a redelivered task, a running
    one whose run stopped reporting. With `takeover=N` it takes the replay over from run N (see
    `resume_replay`). `time_limit` (seconds) is the task's soft limit: the run hands the copy to a
    new task shortly before it.
    """
    lifecycle.execute(operation_id, takeover=takeover, time_limit=time_limit)


def kept_text(progress: CopyProgress | None, operation: Operation) -> str:
    if progress is None:
        operation.refresh_from_db(fields=["progress_copied"])
    copied = progress.total_copied if progress is not None else operation.progress_copied
    if not copied:
        return "Nothing was copied."
    if operation.replay.exactly_once:
        return (
            f"{copied} of {operation.progress_total} records had been copied and committed before that; they stay "
            "in the target, and a read_committed reader sees each of them once."
        )
    return (
        f"{copied} of {operation.progress_total} records had been copied before that; they stay in the target "
        f"(at least once: the records copied after the last checkpoint before a worker died, {CHECKPOINT_CADENCE}, "
        "may be there twice)."
    )


def resume_replay(operation: Operation) -> bool:
    """Have a worker continue a running replay from its checkpoint, taking over from its current run.

    The new run fences the current one (if it still lives) before reading the checkpoint, so no
    record is copied twice or skipped. False when the replay is not running.
    """
    current = (
        Operation.objects.filter(pk=operation.pk, kind=Operation.Kind.REPLAY, status=Operation.Status.RUNNING)
        .values_list("replay_attempt", flat=True)
        .first()
    )
    if current is None:
        return False
    return dispatch_resume(operation.pk, current)


def dispatch_resume(operation_id: int, attempt: int) -> bool:
    try:
        lifecycle.enqueue(RESUME_TASK, operation_id, attempt)
    except kombu.exceptions.OperationalError as exc:
        # The replay stays running; the reaper tries again on its next round.
        logger.warning("replay %s could not be handed to a worker: %s", operation_id, exc)
        return False
    return True


def resume_stale_replays(stale_after: timedelta | None = None) -> list[int]:
    """Resume every running replay whose run stopped reporting (the reaper's part for replays); their ids.

    A replay whose runs keep stopping at the same checkpoint is failed instead, after MAX_STALLS.
    """
    cutoff = timezone.now() - (STALE_AFTER if stale_after is None else stale_after)
    stale = Operation.objects.filter(
        kind=Operation.Kind.REPLAY, status=Operation.Status.RUNNING, heartbeat__lt=cutoff
    ).select_related("replay")
    return [operation.pk for operation in stale if not _given_up(operation) and resume_replay(operation)]


def _given_up(operation: Operation) -> bool:
    """Count a stopped run; True when the replay was failed because runs keep dying at one checkpoint.

    Only runs that started count: while no worker takes the resumed task (all workers down), the
    replay waits, however many reaper rounds pass.
    """
    if operation.replay_attempt == operation.replay_stalled_attempt:
        return False
    same_place = operation.progress_scanned == operation.replay_stalled_at
    stalls = operation.replay_stalls + 1 if same_place else 1
    Operation.objects.filter(pk=operation.pk, replay_attempt=operation.replay_attempt).update(
        replay_stalls=stalls,
        replay_stalled_at=operation.progress_scanned,
        replay_stalled_attempt=operation.replay_attempt,
    )
    if stalls <= MAX_STALLS:
        return False
    error = (
        f"Stopped after {stalls} runs in a row died at the same place ({operation.progress_scanned} of "
        f"{operation.progress_total} source offsets read) without reporting: the worker is probably killed "
        "there (out of memory on a very large record, or by its hard time limit); its log says why. "
        + kept_text(None, operation)
    )
    return lifecycle.Run.kinds[operation.kind](operation, operation.replay_attempt).finish(
        Operation.Status.FAILED, error=error
    )


def may_cancel(user, operation: Operation) -> bool:
    """Whether `user` may cancel the replay: the user who requested it, or an admin of its cluster."""
    return (user.is_authenticated and operation.requester_id == user.pk) or access.allowed(
        user, "admin", operation.cluster
    )


def cancel_refusal(operation: Operation) -> str:
    """Why a user other than those `may_cancel` allows is refused."""
    requester = operation.requester.get_username() if operation.requester else "its requester"
    return (
        f"You may not cancel operation #{operation.pk}: only {requester}, who requested it, or a user with "
        f"the {access.ROLE_NEEDED['admin']} role on cluster '{operation.cluster.name}' may."
    )


def cancel_replay(operation: Operation, actor, *, source_ip: str | None = None) -> None:
    """Stop a replay: a pending one is cancelled at once; a running one stops within 2 seconds.

    `actor` is the console user asking: only one `may_cancel` allows may, anyone else is refused
    with PermissionDenied and the refusal is recorded in the audit log. A plain name (str) is a
    trusted caller acting for the console itself (a maintenance script, the engine's tests) and is
    recorded as given, unchecked.
    What a running replay copied stays in the target; the operation says how many records.
    Raises ReplayError when there is nothing to cancel.
    """
    if not isinstance(actor, str):
        user, actor = actor, actor.get_username()
        if not may_cancel(user, operation):
            message = cancel_refusal(operation)
            audit.record(
                AuditEvent.Action.DENIED,
                actor=actor,
                operation=operation,
                outcome="denied",
                error=message,
                source_ip=source_ip,
            )
            raise PermissionDenied(message)
    now = timezone.now()
    with transaction.atomic():
        error = f"Cancelled by {actor} before a worker started it; nothing was copied."
        if Operation.objects.filter(
            pk=operation.pk, kind=Operation.Kind.REPLAY, status=Operation.Status.PENDING
        ).update(status=Operation.Status.CANCELLED, finished=now, cancel_requested=True, error=error):
            operation.refresh_from_db()
            audit.record(
                AuditEvent.Action.CANCELLED,
                actor=actor,
                operation=operation,
                outcome=operation.status,
                error=error,
                source_ip=source_ip,
            )
            return
        if Operation.objects.filter(
            pk=operation.pk, kind=Operation.Kind.REPLAY, status=Operation.Status.RUNNING, cancel_requested=False
        ).update(cancel_requested=True):
            operation.refresh_from_db()
            audit.record(
                AuditEvent.Action.CANCEL_REQUESTED,
                actor=actor,
                operation=operation,
                outcome=operation.status,
                source_ip=source_ip,
            )
            return
    operation.refresh_from_db()
    if operation.status == Operation.Status.RUNNING:
        return  # asked already; the run is stopping
    if operation.is_awaiting_approval:
        raise ReplayError(
            f"Operation #{operation.pk} is awaiting approval: its requester can withdraw the request, "
            "or an approver reject it."
        )
    raise ReplayError(
        f"Operation #{operation.pk} is {operation.get_status_display().lower()}, so there is nothing to cancel."
    )
