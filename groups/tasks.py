"""Celery tasks: thin wrappers that load by id and call the operations.

Domain code enqueues these by name (`lifecycle.enqueue`), so this module is imported by nothing
but Celery (and the app's start-up, which registers them in every process).
"""

from contextvars import Token

from celery import shared_task
from celery.signals import task_postrun, task_prerun
from django.conf import settings

from groups import audit_checkpoints, logs
from groups.alerting import delivery, episodes
from groups.models import Cluster
from groups.operations import approvals, lifecycle
from groups.snapshot import collector, dating, history_rollup


@shared_task(acks_late=True)
def run_operation(operation_id: int) -> None:
    lifecycle.execute(operation_id, time_limit=settings.CELERY_TASK_SOFT_TIME_LIMIT)


@shared_task(acks_late=True)
def resume_replay(operation_id: int, attempt: int) -> None:
    lifecycle.execute(operation_id, takeover=attempt, time_limit=settings.CELERY_TASK_SOFT_TIME_LIMIT)


# Tasks whose first argument is an operation's id.
OPERATION_TASKS = {run_operation.name, resume_replay.name}
_operation_logs: dict[str, Token[int | None]] = {}


# From before the task starts until after Celery logs how it ended, so its "succeeded in" line carries the id too.
@task_prerun.connect
def log_with_the_operation_id(task_id: str, task, args=(), **kwargs) -> None:
    if task.name in OPERATION_TASKS and args:
        _operation_logs[task_id] = logs.enter_operation(args[0])


@task_postrun.connect
def log_without_the_operation_id(task_id: str, **kwargs) -> None:
    token = _operation_logs.pop(task_id, None)
    if token is not None:
        logs.leave_operation(token)


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
    report = collector.collect(cluster)
    if report.undated:
        # After the round, not in it: the round's figures are whole without it (extrapolated, flagged).
        dating.date_records(cluster)
    return report.outcome


@shared_task
def roll_up_history() -> dict:
    """Pack sealed hours of lag history into chunks and drop what is past retention (beat, each minute)."""
    return vars(history_rollup.roll_up_and_prune())


@shared_task
def prune_alert_episodes() -> int:
    """Drop the alerts that ended more than ALERT_EPISODE_RETENTION_DAYS ago (beat, each hour)."""
    return episodes.prune()
