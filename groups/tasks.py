"""Celery tasks: thin wrappers that load by id and call the domain code."""

from celery import shared_task
from django.conf import settings

from groups import approvals, replay, resets
from groups.alerting import delivery
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


@shared_task(acks_late=True)
def deliver_alert(delivery_id: int) -> None:
    """One attempt at an alert notification; routed to the `notifications` queue (settings)."""
    delivery.deliver(delivery_id)


@shared_task
def send_due_alert_deliveries() -> list[int]:
    return delivery.send_due()
