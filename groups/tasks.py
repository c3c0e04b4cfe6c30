"""Celery tasks: thin wrappers that load by id and call the domain code."""

from celery import shared_task
from django.conf import settings

from groups import approvals, audit_checkpoints, replay, resets
from groups.models import Operation


@shared_task(acks_late=True)
def run_operation(operation_id: int) -> None:
    if Operation.objects.filter(pk=operation_id, kind=Operation.Kind.REPLAY).exists():
        replay.run_replay(operation_id, time_limit=settings.CELERY_TASK_SOFT_TIME_LIMIT)
    else:
        resets.run_operation(operation_id)


@shared_task(acks_late=True)
def resume_replay(operation_id: int, attempt: int) -> None:
    replay.run_replay(operation_id, takeover=attempt, time_limit=settings.CELERY_TASK_SOFT_TIME_LIMIT)


@shared_task
def reap_stale_operations() -> list[int]:
    """Resume replays whose run stopped reporting; fail other operations whose worker vanished."""
    return replay.resume_stale_replays() + resets.reap_stale_operations()


@shared_task
def expire_approval_requests() -> list[int]:
    return approvals.expire_overdue()


@shared_task
def write_audit_checkpoint() -> int | None:
    """Sign the audit log's head into a checkpoint outside the database; fails, naming the event, if the log
    was tampered with since the previous checkpoint."""
    checkpoint, _ = audit_checkpoints.write_checkpoint()
    return checkpoint.head_id if checkpoint else None
