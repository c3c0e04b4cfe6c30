"""Celery tasks: thin wrappers that load by id and call the operations.

Domain code enqueues these by name (`lifecycle.enqueue`), so this module is imported by nothing
but Celery (and the app's start-up, which registers them in every process).
"""

from celery import shared_task
from django.conf import settings

from groups import audit_checkpoints
from groups.alerting import delivery
from groups.models import Cluster
from groups.operations import approvals, lifecycle
from groups.snapshot import collector, history_rollup


@shared_task(acks_late=True)
def run_operation(operation_id: int) -> None:
    lifecycle.execute(operation_id, time_limit=settings.CELERY_TASK_SOFT_TIME_LIMIT)


@shared_task(acks_late=True)
def resume_replay(operation_id: int, attempt: int) -> None:
    lifecycle.execute(operation_id, takeover=attempt, time_limit=settings.CELERY_TASK_SOFT_TIME_LIMIT)


@shared_task
def reap_stale_operations() -> list[int]:
    """Resume replays whose run stopped reporting; fail other operations whose worker vanished."""
    return lifecycle.reap()


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


@shared_task
def write_audit_checkpoint() -> int | None:
    """Sign the audit log's head into a checkpoint outside the database; fails, naming the event, if the log
    was tampered with since the previous checkpoint."""
    checkpoint, _ = audit_checkpoints.write_checkpoint()
    return checkpoint.head_id if checkpoint else None


# Not acks_late: a round killed with its worker is not worth redelivering, the next one is due within a period.
@shared_task(acks_late=False, ignore_result=True)
def collect_cluster(cluster_id: int) -> str:
    """One collection round (groups.snapshot.collector) for the cluster; routed to the 'collection' queue."""
    cluster = Cluster.objects.filter(pk=cluster_id).first()
    if cluster is None:
        return "cluster removed"
    return collector.collect(cluster).outcome


@shared_task
def roll_up_history() -> dict:
    """Pack sealed hours of lag history into chunks and drop what is past retention (beat, each minute)."""
    return vars(history_rollup.roll_up_and_prune())
