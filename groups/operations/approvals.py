"""Four-eyes approval: a change on a cluster that requires it waits until another user approves it.

`lifecycle.request` creates such an operation awaiting approval. From there it moves on
only through the functions here: a different user with `approve` on the group approves it (after
the request is checked against the group's offsets now) or rejects it; its requester may cancel
it; the periodic sweep expires it. Each step is one conditional update plus one audit event, so
two people deciding at once cannot both win.
"""

from __future__ import annotations

from itertools import groupby
from typing import NoReturn

from django.core.exceptions import PermissionDenied
from django.db import transaction
from django.utils import timezone

from groups import access, audit
from groups.models import AuditEvent, Operation
from groups.operations import lifecycle
from groups.operations.lifecycle import Review

AWAITING = Operation.Status.AWAITING_APPROVAL


class DecisionRefused(Exception):
    """The request can no longer be decided as asked (decided already, expired, or stale)."""


class CommentMissing(ValueError):
    """A decision was sent without the comment every decision records."""


def review(operation: Operation) -> Review:
    """The request checked against the cluster now, as its kind reviews it (a reset is planned again against
    the group's offsets now and compared with what was requested). Reads Kafka; writes nothing."""
    return lifecycle.review(operation)


def requester_refusal(operation: Operation) -> str | None:
    """Why the requester may no longer have `operation` done (a role or group pattern changed since the
    request), as a worker starting it would refuse; None while they may. Writes nothing."""
    return lifecycle.requester_refusal(operation)


def _is_requester(user, operation: Operation) -> bool:
    return operation.requester_id is not None and operation.requester_id == user.pk


def _self_approval(operation: Operation) -> str:
    return (
        f"You requested operation #{operation.pk}, so another user with the {access.ROLE_NEEDED['approve']} "
        "role must approve or reject it."
    )


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
    audit.record(
        AuditEvent.Action.DENIED,
        actor=user.get_username(),
        operation=operation,
        outcome="denied",
        error=message,
        source_ip=source_ip,
    )
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
    elif decision and operation.decided_by is not None:
        how = f" {operation.decided_by.get_username()} {decision} it at {operation.decided_at:%Y-%m-%d %H:%M:%S} UTC."
    else:
        how = ""
    raise DecisionRefused(
        f"Operation #{operation.pk} is no longer awaiting approval: it is "
        f"{operation.get_status_display().lower()}.{how}"
    )


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
            status=Operation.Status.PENDING, decided_by=user, decided_at=now, decision_comment=comment
        )
        operation.refresh_from_db()
        if not decided:
            raise DecisionRefused(
                f"Operation #{operation.pk} changed while it was being approved: "
                f"it is {operation.get_status_display().lower()} now. Nothing was approved."
            )
        audit.record(
            AuditEvent.Action.APPROVED,
            actor=user.get_username(),
            operation=operation,
            reason=comment,
            outcome=operation.status,
            source_ip=source_ip,
        )
        transaction.on_commit(lambda: lifecycle.dispatch_operation(operation))
    return operation


def reject(operation: Operation, user, comment: str, *, source_ip: str | None = None) -> Operation:
    """Cancel an awaiting `operation` on behalf of another user with `approve`; nothing is written to Kafka."""
    _require_decider(user, operation, source_ip)
    _require_awaiting(operation)
    comment = _require_comment(comment)
    return _cancel(operation, user, AuditEvent.Action.REJECTED, comment, source_ip)


def cancel(operation: Operation, user, *, source_ip: str | None = None) -> Operation:
    """Withdraw an awaiting request; only its requester may."""
    if not _is_requester(user, operation):
        requester = operation.requester.get_username() if operation.requester else "its requester"
        _deny(
            user,
            operation,
            f"Only {requester}, who requested operation #{operation.pk}, may cancel it; a user "
            f"with the {access.ROLE_NEEDED['approve']} role can reject it instead.",
            source_ip,
        )
    _require_awaiting(operation)
    return _cancel(operation, user, AuditEvent.Action.CANCELLED, "", source_ip)


def _cancel(operation: Operation, user, action: AuditEvent.Action, comment: str, source_ip: str | None) -> Operation:
    now = timezone.now()
    with transaction.atomic():
        decided = Operation.objects.filter(pk=operation.pk, status=AWAITING).update(
            status=Operation.Status.CANCELLED, decided_by=user, decided_at=now, finished=now, decision_comment=comment
        )
        operation.refresh_from_db()
        if not decided:
            raise DecisionRefused(
                f"Operation #{operation.pk} changed meanwhile: it is {operation.get_status_display().lower()} now."
            )
        audit.record(
            action,
            actor=user.get_username(),
            operation=operation,
            reason=comment,
            outcome=operation.status,
            source_ip=source_ip,
        )
    return operation


def _expire(operation: Operation) -> bool:
    now = timezone.now()
    error = (
        f"No one approved or rejected this request by {operation.expires_at:%Y-%m-%d %H:%M:%S} UTC, so it "
        "expired and nothing was changed. Preview and request it again if it is still needed."
    )
    with transaction.atomic():
        expired = Operation.objects.filter(pk=operation.pk, status=AWAITING, expires_at__lte=now).update(
            status=Operation.Status.CANCELLED, finished=now, error=error
        )
        if expired:
            operation.refresh_from_db()
            audit.record(
                AuditEvent.Action.EXPIRED, actor="console", operation=operation, outcome=operation.status, error=error
            )
    return bool(expired)


def expire_overdue() -> list[int]:
    """Cancel every request still awaiting approval past its expiry (the periodic sweep); their ids."""
    overdue = Operation.objects.select_related("cluster").filter(status=AWAITING, expires_at__lte=timezone.now())
    return [operation.pk for operation in overdue if _expire(operation)]


def awaiting_for(user) -> list[Operation]:
    """Requests awaiting approval, not yet expired, that `user` may approve (never their own), oldest first."""
    awaiting = (
        Operation.objects.filter(status=AWAITING, expires_at__gt=timezone.now())
        .exclude(requester=user)
        .select_related("cluster", "requester")
        .order_by("cluster_id", "created")
    )
    allowed: list[Operation] = []
    requesters: dict = {}
    for _, same_cluster in groupby(awaiting, key=lambda operation: operation.cluster_id):
        operations = list(same_cluster)
        for operation in operations:
            # One object per requester: their grants are read once however many requests they made.
            operation.requester = requesters.setdefault(operation.requester_id, operation.requester)
        may = set(access.groups_allowed(user, "approve", operations[0].cluster, {op.group_id for op in operations}))
        allowed.extend(op for op in operations if op.group_id in may)
    return sorted(allowed, key=lambda operation: operation.created)
