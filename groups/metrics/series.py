"""What each metric family says, and the series one snapshot group row gives. Pure: no Django.

Names and labels of Kafka Lag Exporter (Conduktor and klag-exporter use them too), so existing
Grafana dashboards work; the console's own figures are prefixed `kafka_console_`.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

from groups.metrics.exposition import Exposition, Family, label_value, number

# Positions in a partition's list within SnapshotGroup.detail (groups.snapshot.rows.encode_group_detail
# documents the layout; tests/unit/test_metrics_exposition.py fails if it changes under this reader).
# The rows are read here without building a PartitionDetail each: at 115,000 partitions those
# objects cost more than the rest of a scrape together (measured: 1.9 s against 0.2 s for the JSON).
_PARTITION, _COMMITTED, _LAG, _LAG_SECONDS, _OWNER = 0, 1, 4, 5, 7
_INF = float("inf")


def new_page() -> Exposition:
    """Empty families for one scrape (each holds that page's samples), in the order the page lists them."""
    definitions = [
        (
            "lag",
            "kafka_consumergroup_group_lag",
            "gauge",
            (
                "Messages between the group's committed offset and the partition's log end (high watermark), in the "
                "console's latest snapshot. Partitions without a committed offset or a known log end are left out."
            ),
        ),
        (
            "lag_seconds",
            "kafka_consumergroup_group_lag_seconds",
            "gauge",
            (
                "Estimated age in seconds of the oldest record the group has not read on the partition (0 when caught "
                "up), in the latest snapshot. Left out where it cannot be estimated."
            ),
        ),
        (
            "offset",
            "kafka_consumergroup_group_offset",
            "gauge",
            (
                "The group's committed offset on the partition, in the latest snapshot. Partitions without a committed "
                "offset are left out."
            ),
        ),
        (
            "max_lag",
            "kafka_consumergroup_group_max_lag",
            "gauge",
            (
                "The group's largest lag in messages over its partitions, in the latest snapshot. "
                "is_simple_consumer is true for a group without members."
            ),
        ),
        (
            "max_lag_seconds",
            "kafka_consumergroup_group_max_lag_seconds",
            "gauge",
            ("The group's largest estimated lag in seconds over its partitions, in the latest snapshot."),
        ),
        (
            "sum_lag",
            "kafka_consumergroup_group_sum_lag",
            "gauge",
            ("The group's lag in messages summed over its partitions with a known lag, in the latest snapshot."),
        ),
        (
            "status",
            "kafka_console_group_status",
            "gauge",
            (
                "1 for the group's status in the latest snapshot (OK, NEW, WARN, ERR, RESET; a STOP, STALL, REWIND or "
                "AHEAD partition makes its group ERR), one series per group."
            ),
        ),
        (
            "info",
            "kafka_console_group_info",
            "gauge",
            (
                "1 for each group, with its type (classic, consumer, share, streams) and state, in the latest "
                "snapshot: join on group to tell a share group's lag from a consumer group's."
            ),
        ),
        (
            "age",
            "kafka_console_snapshot_age_seconds",
            "gauge",
            (
                "Seconds since the collection round that made the served snapshot started reading Kafka. Every "
                "kafka_consumergroup_* figure of the cluster is this old."
            ),
        ),
        (
            "stale",
            "kafka_console_snapshot_stale",
            "gauge",
            (
                "1 when the cluster's served snapshot is stale (the last round failed, or none has finished for three "
                "collection periods, or none ever did); the cluster's page says why."
            ),
        ),
        (
            "duration",
            "kafka_console_collection_duration_seconds",
            "gauge",
            ("How long the cluster's last successful collection round took, reading Kafka and writing included."),
        ),
        (
            "rounds",
            "kafka_console_collection_rounds_total",
            "counter",
            (
                "Collection rounds of the cluster by outcome: collected (wrote a snapshot), failed (could not read "
                "Kafka; the previous snapshot stays served), skipped (the previous round still ran)."
            ),
        ),
        (
            "operations",
            "kafka_console_operations_total",
            "counter",
            ("Operations (offset resets, group deletions, replays) that ended, by kind and outcome."),
        ),
        (
            "operations_open",
            "kafka_console_operations_open",
            "gauge",
            ("Operations not ended yet, by kind and status (awaiting_approval, pending, running)."),
        ),
        (
            "alerts",
            "kafka_console_alerts",
            "gauge",
            (
                "Groups each enabled alert rule is firing or pending for (pending: the condition holds, waiting out "
                "the rule's duration or muted by a console operation)."
            ),
        ),
    ]
    return Exposition({key: Family(name, kind, help_text) for key, name, kind, help_text in definitions})


@dataclass(slots=True)
class GroupFigures:
    """The columns of a SnapshotGroup row a scrape reads."""

    group_id: str
    members: int
    lag: int | None
    lag_seconds: float | None
    status: str
    detail: str
    type: str
    state: str


def _owner_labels(owner: list) -> str:
    member_id, client_id, host, _instance_id = owner
    # Kafka reports a member's address as '/10.0.0.5' (Java's form); pages show it without the slash.
    return (
        f'member_host="{label_value(host.removeprefix("/"))}",consumer_id="{label_value(member_id)}",'
        f'client_id="{label_value(client_id)}"'
    )


_NO_OWNER = 'member_host="",consumer_id="",client_id=""'


def add_group(page: Exposition, cluster_labels: str, group: GroupFigures, *, per_partition: bool) -> None:
    """The series of one group: per partition (unless switched off) and for the whole group.

    A partition without a committed offset gives no series at all, rather than -1. This runs for
    every partition of every group, so it writes lines itself instead of calling Family.add.
    """
    labels = f'{cluster_labels},group="{label_value(group.group_id)}"'
    detail = json.loads(group.detail)
    lag_family, seconds_family, offset_family = page["lag"], page["lag_seconds"], page["offset"]
    lag_lines, seconds_lines, offset_lines = lag_family.lines, seconds_family.lines, offset_family.lines
    lag_opening, seconds_opening, offset_opening = lag_family.opening, seconds_family.opening, offset_family.opening
    owners = [_owner_labels(owner) for owner in detail["owners"]] if per_partition else []
    max_lag = None
    for topic, partitions in detail["topics"].items():
        topic_labels = f'{labels},topic="{label_value(topic)}",partition="'
        for row in partitions:
            committed = row[_COMMITTED]
            if committed is None:
                continue
            lag = row[_LAG]
            if lag is not None and (max_lag is None or lag > max_lag):
                max_lag = lag
            if not per_partition:
                continue
            owner = row[_OWNER]
            # Everything from the labels to the value, shared by the partition's three lines.
            middle = f'{topic_labels}{row[_PARTITION]}",{_NO_OWNER if owner is None else owners[owner]}}} '
            offset_lines.append(f"{offset_opening}{middle}{committed}\n")
            if lag is not None:
                lag_lines.append(f"{lag_opening}{middle}{lag}\n")
            seconds = row[_LAG_SECONDS]
            if seconds is not None:
                seconds_lines.append(
                    f"{seconds_opening}{middle}{seconds!r}\n"
                    if -_INF < seconds < _INF
                    else f"{seconds_opening}{middle}{number(seconds)}\n"
                )
    lag_family.spill()
    seconds_family.spill()
    offset_family.spill()
    group_labels = f'{labels},is_simple_consumer="{"true" if group.members == 0 else "false"}"'
    if max_lag is not None:
        page["max_lag"].add(group_labels, max_lag)
    if group.lag_seconds is not None:
        page["max_lag_seconds"].add(group_labels, group.lag_seconds)
    if group.lag is not None:
        page["sum_lag"].add(labels, group.lag)
    if group.status:
        page["status"].add(f'{labels},status="{label_value(group.status)}"', 1)
    page["info"].add(f'{labels},type="{label_value(group.type)}",state="{label_value(group.state)}"', 1)
