"""What `/metrics` reads: each cluster's served snapshot and its collector's rounds, the operations
and the alert states; all from the database, never from Kafka.

A scrape therefore costs the same whether the brokers answer or not, and while they do not it
serves the last snapshot with its age. The page is built before the response starts (so a failing
database gives an error answer, not a cut-off page) into the families' bounded buffers, then streamed.
"""

from __future__ import annotations

from django.db.models import Count

from groups.metrics import series
from groups.metrics.exposition import Exposition, label_value
from groups.models import AlertRule, AlertState, Cluster, Collection, Operation, SnapshotGroup
from groups.snapshot import queries

# Group rows read per query: enough to amortise a query, few enough that their details stay small.
BATCH = 1000
_OPEN = (Operation.Status.AWAITING_APPROVAL, Operation.Status.PENDING, Operation.Status.RUNNING)
_ALERT_PHASES = (AlertState.Phase.FIRING, AlertState.Phase.PENDING)


def build_page() -> Exposition:
    """Every family of the page, filled; the caller streams `chunks()` (which releases the buffers)."""
    page = series.new_page()
    try:
        clusters = list(Cluster.objects.order_by("name"))
        rounds = dict(Collection.objects.values_list("cluster_id", "rounds"))
        for cluster in clusters:
            _add_cluster(page, cluster, rounds.get(cluster.pk, 0))
        _add_operations(page, clusters)
        _add_alerts(page)
    except BaseException:
        page.close()
        raise
    return page


def _add_cluster(page: Exposition, cluster: Cluster, collected_rounds: int) -> None:
    info = queries.latest_snapshot(cluster)
    labels = f'cluster_name="{label_value(cluster.name)}"'
    if info.age_seconds is not None:
        page["age"].add(labels, info.age_seconds)
    page["stale"].add(labels, int(info.stale))
    if info.last_round_seconds is not None:
        page["duration"].add(labels, info.last_round_seconds)
    for outcome, count in (
        ("collected", collected_rounds),
        ("failed", info.failed_rounds),
        ("skipped", info.skipped_rounds),
    ):
        page["rounds"].add(f'{labels},outcome="{outcome}"', count)
    if info.snapshot is not None:
        _add_groups(page, labels, info.snapshot.pk, per_partition=cluster.metrics_per_partition)


def _add_groups(page: Exposition, cluster_labels: str, snapshot_id: int, *, per_partition: bool) -> None:
    """The snapshot's groups, replay checkpoints left out, read in batches along the (snapshot, group id) index."""
    rows = (
        SnapshotGroup.objects.filter(snapshot_id=snapshot_id, replay_operation_id__isnull=True)
        .order_by("group_id")
        .values_list("group_id", "members", "lag", "lag_seconds", "status", "detail", "type", "state")
    )
    after = None
    while True:
        batch = list((rows if after is None else rows.filter(group_id__gt=after))[:BATCH])
        for values in batch:
            series.add_group(page, cluster_labels, series.GroupFigures(*values), per_partition=per_partition)
        if len(batch) < BATCH:
            return
        after = batch[-1][0]


def _add_operations(page: Exposition, clusters: list[Cluster]) -> None:
    counts = {
        (cluster_id, kind, status): n
        for cluster_id, kind, status, n in Operation.objects.values_list("cluster_id", "kind", "status")
        .annotate(n=Count("id"))
        .order_by()
    }
    # Every combination, zeros included: a counter that first appears at 1 hides that first increase.
    for cluster in clusters:
        labels = f'cluster_name="{label_value(cluster.name)}"'
        for kind in Operation.Kind.values:
            for status in Operation.FINAL:
                page["operations"].add(
                    f'{labels},kind="{kind}",outcome="{status}"', counts.get((cluster.pk, kind, status), 0)
                )
            for status in _OPEN:
                page["operations_open"].add(
                    f'{labels},kind="{kind}",status="{status}"', counts.get((cluster.pk, kind, status), 0)
                )


def _add_alerts(page: Exposition) -> None:
    counts = {
        (rule_id, phase): n
        for rule_id, phase, n in AlertState.objects.filter(rule__enabled=True, phase__in=_ALERT_PHASES)
        .values_list("rule_id", "phase")
        .annotate(n=Count("id"))
        .order_by()
    }
    for rule_id, name in AlertRule.objects.filter(enabled=True).order_by("pk").values_list("pk", "name"):
        for phase in _ALERT_PHASES:
            page["alerts"].add(
                f'rule_id="{rule_id}",rule="{label_value(name)}",phase="{phase}"', counts.get((rule_id, phase), 0)
            )
