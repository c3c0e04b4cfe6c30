"""Celery tasks: thin wrappers that load by id and call the domain code."""

from celery import shared_task
from django.conf import settings

from groups import approvals, replay, resets
from groups.models import Cluster, Operation
from groups.snapshot import collector, history


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
    return vars(history.roll_up_and_prune())
