"""Four-eyes approval: a change on a cluster that requires it waits until another user approves it.

`resets.request_operation` creates such an operation awaiting approval. From there it moves on
only through the functions here: a different user with `approve` on the group approves it (after
the request is checked against the group's offsets now) or rejects it; its requester may cancel
it; the periodic sweep expires it. Each step is one conditional update plus one audit event, so
two people deciding at once cannot both win.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from itertools import groupby
from typing import NoReturn

from django.core.exceptions import PermissionDenied
from django.db import transaction
from django.utils import timezone

from groups import access, audit, resets
from groups.planning import resets as planning
from groups.kafka import ConsoleError, GroupDescription, client_for
from groups.models import Operation

AWAITING = Operation.Status.AWAITING_APPROVAL


class DecisionRefused(Exception):
    """The request can no longer be decided as asked (decided already, expired, or stale)."""


class CommentMissing(ValueError):
    """A decision was sent without the comment every decision records."""


@dataclass(frozen=True)
class PartitionCheck:
    """One partition as requested and as the same request plans it now; None where one side lacks it."""

    topic: str
    partition: int
    before_then: int | None
    after_then: int | None
    before_now: int | None
    after_now: int | None
    log_start_now: int | None
    log_end_now: int | None
    in_request: bool
    in_plan_now: bool

    @property
    def moved(self) -> bool:
        """The group's committed offset is not what the request found, so the worker would refuse the plan."""
        return self.in_request and (not self.in_plan_now or self.before_now != self.before_then)

    @property
    def replanned(self) -> bool:
        return self.in_request and self.in_plan_now and self.after_now != self.after_then

    @property
    def outside_log(self) -> bool:
        """The requested offset has left the partition's log (retention passed it, or the log was cut)."""
        return (self.in_request and self.in_plan_now
                and not self.log_start_now <= self.after_then <= self.log_end_now)

    @property
    def differs(self) -> bool:
        """Planned now, the request would not be what was asked, though the plan can still be applied."""
        return not self.moved and (not self.in_request or self.replanned or self.outside_log)


@dataclass(frozen=True)
class Review:
    """A request checked against the group now, as the approver must see it before deciding."""

    group: GroupDescription | None = None
    checks: tuple[PartitionCheck, ...] = ()
    error: str = ""

    @property
    def moved(self) -> list[PartitionCheck]:
        return [check for check in self.checks if check.moved]

    @property
    def differing(self) -> list[PartitionCheck]:
        return [check for check in self.checks if check.differs]

    @property
    def blocked_reason(self) -> str | None:
        """Why approving now would be wrong, if it would; the approver can still reject."""
        if self.error:
            return (f"The request could not be checked against the group now: {self.error} "
                    "Approve once it can be checked, or reject it.")
        if self.group is not None and self.group.is_active:
            return (f"{resets.active_group_message(self.group)} As the group stands now, a worker would refuse. "
                    "Approve once its consumers are stopped, or reject it.")
        moved = len(self.moved)
        if moved:
            return (f"The group's committed offsets moved on {moved} partition{'s' if moved > 1 else ''} since the "
                    "request, so a worker would refuse this plan. Reject it; the requester can preview again "
                    "against the current offsets.")
        return None


def review(operation: Operation) -> Review:
    """Plan the same request again against the group's offsets now and compare it with what was requested.

    Reads Kafka; writes nothing. A request that cannot be planned now comes back with `error` set.
    """
    group_id = operation.group_id
    if operation.kind == Operation.Kind.REPLAY:
        # A replay changes no group: what can go stale is its topics and the records of its range.
        from groups import replay

        return Review(error=replay.review_problem(operation) or "")
    try:
        client = client_for(operation.cluster)
        if operation.kind == Operation.Kind.DELETE_GROUP:
            return Review(group=client.describe_groups([group_id])[group_id])
        preview = resets.preview_reset(client, group_id, operation.strategy, operation.strategy_value,
                                       operation.scope, undo_of=operation.undo_of)
    except planning.PlanningError as exc:
        return Review(error=str(exc))
    except ConsoleError as exc:
        return Review(error=exc.message)
    return Review(group=preview.group, checks=_compare(operation.plan, preview.plan.rows))


def _compare(requested: list[dict], now: Iterable[planning.PlannedPartition]) -> tuple[PartitionCheck, ...]:
    then = {(row["topic"], row["partition"]): row for row in requested}
    current = {(row.topic, row.partition): row for row in now}
    checks = []
    for key in sorted(then.keys() | current.keys()):
        old, new = then.get(key), current.get(key)
        checks.append(PartitionCheck(
            topic=key[0], partition=key[1],
            before_then=old["before"] if old else None, after_then=old["after"] if old else None,
            before_now=new.before if new else None, after_now=new.after if new else None,
            log_start_now=new.log_start if new else None, log_end_now=new.log_end if new else None,
            in_request=old is not None, in_plan_now=new is not None,
        ))
    return tuple(checks)


def _is_requester(user, operation: Operation) -> bool:
    return operation.requester_id is not None and operation.requester_id == user.pk


def _self_approval(operation: Operation) -> str:
    return (f"You requested operation #{operation.pk}, so another user with the {access.ROLE_NEEDED['approve']} "
            "role must approve or reject it.")


def refusal_to_decide(user, operation: Operation) -> str | None:
    """Why `user` may not approve or reject `operation`, or None when they may.

    A requester is told that someone else must decide, whatever their rights: no right would let them.
    """
    if _is_requester(user, operation):
        return _self_approval(operation)
    if not access.allowed(user, "approve", operation.cluster, operation.group_id):
        return access.refusal("approve", operation.cluster, operation.group_id)
    return None


def _deny(user, operation: Operation, message: str, source_ip: str | None) -> NoReturn:
    audit.record("denied", actor=user.get_username(), operation=operation, outcome="denied", error=message,
                 source_ip=source_ip)
    raise PermissionDenied(message)


def _require_decider(user, operation: Operation, source_ip: str | None) -> None:
    access.require(user, "approve", operation.cluster, operation.group_id, source_ip=source_ip)
    if _is_requester(user, operation):
        _deny(user, operation, _self_approval(operation), source_ip)


def _require_awaiting(operation: Operation) -> None:
    if operation.approval_lapsed:
        _expire(operation)
        operation.refresh_from_db()
    if operation.is_awaiting_approval:
        return
    decision = operation.decision
    if decision == "expired":
        how = f" {operation.error}"
    elif decision:
        how = (f" {operation.decided_by.get_username()} {decision} it at "
               f"{operation.decided_at:%Y-%m-%d %H:%M:%S} UTC.")
    else:
        how = ""
    raise DecisionRefused(f"Operation #{operation.pk} is no longer awaiting approval: it is "
                          f"{operation.get_status_display().lower()}.{how}")


def _require_comment(comment: str) -> str:
    if not comment.strip():
        raise CommentMissing("Write a comment: every approval and rejection records why.")
    return comment.strip()


def approve(operation: Operation, user, comment: str, *, source_ip: str | None = None) -> Operation:
    """Let a worker run `operation`, once another user with `approve` has checked it against the group now.

    Raises PermissionDenied (recorded as a denial) for the requester or a user without the right,
    CommentMissing without a comment, and DecisionRefused when the request is no longer awaiting
    approval, has expired, or no longer fits the group (see `Review.blocked_reason`).
    """
    _require_decider(user, operation, source_ip)
    _require_awaiting(operation)
    comment = _require_comment(comment)
    blocked = review(operation).blocked_reason
    if blocked:
        raise DecisionRefused(blocked)
    now = timezone.now()
    with transaction.atomic():
        decided = Operation.objects.filter(pk=operation.pk, status=AWAITING, expires_at__gt=now).update(
            status=Operation.Status.PENDING, decided_by=user, decided_at=now, decision_comment=comment)
        operation.refresh_from_db()
        if not decided:
            raise DecisionRefused(f"Operation #{operation.pk} changed while it was being approved: "
                                  f"it is {operation.get_status_display().lower()} now. Nothing was approved.")
        audit.record("approved", actor=user.get_username(), operation=operation, reason=comment,
                     outcome=operation.status, source_ip=source_ip)
        transaction.on_commit(lambda: resets.dispatch_operation(operation))
    return operation


def reject(operation: Operation, user, comment: str, *, source_ip: str | None = None) -> Operation:
    """Cancel an awaiting `operation` on behalf of another user with `approve`; nothing is written to Kafka."""
    _require_decider(user, operation, source_ip)
    _require_awaiting(operation)
    comment = _require_comment(comment)
    return _cancel(operation, user, "rejected", comment, source_ip)


def cancel(operation: Operation, user, *, source_ip: str | None = None) -> Operation:
    """Withdraw an awaiting request; only its requester may."""
    if not _is_requester(user, operation):
        requester = operation.requester.get_username() if operation.requester else "its requester"
        _deny(user, operation, f"Only {requester}, who requested operation #{operation.pk}, may cancel it; a user "
                               f"with the {access.ROLE_NEEDED['approve']} role can reject it instead.", source_ip)
    _require_awaiting(operation)
    return _cancel(operation, user, "cancelled", "", source_ip)


def _cancel(operation: Operation, user, action: str, comment: str, source_ip: str | None) -> Operation:
    now = timezone.now()
    with transaction.atomic():
        decided = Operation.objects.filter(pk=operation.pk, status=AWAITING).update(
            status=Operation.Status.CANCELLED, decided_by=user, decided_at=now, finished=now,
            decision_comment=comment)
        operation.refresh_from_db()
        if not decided:
            raise DecisionRefused(f"Operation #{operation.pk} changed meanwhile: it is "
                                  f"{operation.get_status_display().lower()} now.")
        audit.record(action, actor=user.get_username(), operation=operation, reason=comment,
                     outcome=operation.status, source_ip=source_ip)
    return operation


def _expire(operation: Operation) -> bool:
    now = timezone.now()
    error = (f"No one approved or rejected this request by {operation.expires_at:%Y-%m-%d %H:%M:%S} UTC, so it "
             "expired and nothing was changed. Preview and request it again if it is still needed.")
    with transaction.atomic():
        expired = Operation.objects.filter(pk=operation.pk, status=AWAITING, expires_at__lte=now).update(
            status=Operation.Status.CANCELLED, finished=now, error=error)
        if expired:
            operation.refresh_from_db()
            audit.record("expired", actor="console", operation=operation, outcome=operation.status, error=error)
    return bool(expired)


def expire_overdue() -> list[int]:
    """Cancel every request still awaiting approval past its expiry (the periodic sweep); their ids."""
    overdue = Operation.objects.select_related("cluster").filter(status=AWAITING, expires_at__lte=timezone.now())
    return [operation.pk for operation in overdue if _expire(operation)]


def awaiting_for(user) -> list[Operation]:
    """Requests awaiting approval, not yet expired, that `user` may approve (never their own), oldest first."""
    awaiting = (Operation.objects.filter(status=AWAITING, expires_at__gt=timezone.now())
                .exclude(requester=user).select_related("cluster", "requester").order_by("cluster_id", "created"))
    allowed = []
    for _, operations in groupby(awaiting, key=lambda operation: operation.cluster_id):
        operations = list(operations)
        may = set(access.groups_allowed(user, "approve", operations[0].cluster, {op.group_id for op in operations}))
        allowed.extend(op for op in operations if op.group_id in may)
    return sorted(allowed, key=lambda operation: operation.created)
