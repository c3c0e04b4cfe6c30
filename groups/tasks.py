"""Celery tasks: thin wrappers that load by id and call the domain code."""

from celery import shared_task

from groups import approvals, resets


@shared_task(acks_late=True)
def run_operation(operation_id: int) -> None:
    resets.run_operation(operation_id)


@shared_task
def reap_stale_operations() -> list[int]:
    return resets.reap_stale_operations()


@shared_task
def expire_approval_requests() -> list[int]:
    return approvals.expire_overdue()
