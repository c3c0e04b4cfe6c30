"""The API's routes of the groups that are not consumer groups: share groups (KIP-932) and streams
groups (KIP-1071), read live, with what the last collection round made of them (groups.api.read)."""

from __future__ import annotations

from django.http import HttpRequest
from ninja import Router

from groups import share_reading, streams_reading
from groups.api import schemas
from groups.api.read import answers, collected, partition_collected
from groups.kafka import client_for, share_client_for
from groups.views.common import get_cluster, visible

router = Router(tags=["read"])


@router.get("/clusters/{cluster}/share-groups/", response=answers(schemas.ShareGroups), url_name="api_share_groups")
def share_groups(request: HttpRequest, cluster: str):
    """The cluster's share groups (KIP-932) the user may view, read live."""
    cluster_row = get_cluster(request, cluster)
    found = share_reading.share_groups(share_client_for(cluster_row), visible=visible(request, cluster_row))
    return {"share_groups": [{"group": g.group_id, "state": g.state} for g in found]}


@router.get(
    "/clusters/{cluster}/share-groups/{group_id:group}/",
    response=answers(schemas.ShareGroup),
    url_name="api_share_group",
)
def share_group(request: HttpRequest, cluster: str, group: str):
    """One share group read live: members, share-partitions with their start offsets and lag; with the
    status and lag in seconds of the last collection round, per share-partition only where that round saw
    the start offset and position this read sees (`collected_note` says why not elsewhere)."""
    cluster_row = get_cluster(request, cluster, group_id=group)
    detail = share_reading.share_group_detail(share_client_for(cluster_row), client_for(cluster_row), group)
    seen, observed = collected(cluster_row, group)
    d = detail.description
    return {
        "group": d.group_id,
        "type": "share",
        "state": d.state,
        **seen,
        "group_epoch": d.group_epoch,
        "assignment_epoch": d.assignment_epoch,
        "assignor": d.assignor,
        "coordinator": d.coordinator,
        "members": [
            {
                "member_id": m.member_id,
                "client_id": m.client_id,
                "host": m.host,
                "rack": m.rack,
                "member_epoch": m.member_epoch,
                "subscribed_topics": list(m.subscribed_topics),
                "assignment": [{"topic": tp.topic, "partition": tp.partition} for tp in m.assignment],
            }
            for m in d.members
        ],
        "partitions": [
            {
                "topic": r.topic,
                "partition": r.partition,
                "start_offset": r.start_offset,
                "leader_epoch": r.leader_epoch,
                "lag": r.lag,
                "log_start": r.log_start,
                "log_end": r.log_end,
                "consumers": [m.member_id for m in r.consumers],
                "error": r.error,
                **partition_collected(j.observed),
                "collected_note": j.note or None,
            }
            for r, j in detail.judged_rows(observed)
        ],
        "lag": detail.total_lag,
    }


def _tasks(assignment) -> dict:
    return {
        kind: [{"subtopology": t.subtopology_id, "partitions": list(t.partitions)} for t in getattr(assignment, kind)]
        for kind in ("active", "standby", "warmup")
    }


@router.get(
    "/clusters/{cluster}/streams-groups/{group_id:group}/",
    response=answers(schemas.StreamsGroup),
    url_name="api_streams_group",
)
def streams_group(request: HttpRequest, cluster: str, group: str):
    """One streams group (KIP-1071) read live: its topology, members with their tasks, and the committed
    offsets and lag of its input partitions; with the status and lag in seconds of the last collection round."""
    cluster_row = get_cluster(request, cluster, group_id=group)
    detail = streams_reading.streams_group_detail(cluster_row, client_for(cluster_row), group)
    seen, observed = collected(cluster_row, group)
    d = detail.description
    return {
        "group": d.group_id,
        "type": "streams",
        "state": d.state,
        **seen,
        "group_epoch": d.group_epoch,
        "assignment_epoch": d.assignment_epoch,
        "topology_epoch": d.topology_epoch,
        "coordinator": d.coordinator,
        "subtopologies": [
            {
                "id": s.subtopology_id,
                "source_topics": list(s.source_topics),
                "repartition_sink_topics": list(s.repartition_sink_topics),
                "repartition_source_topics": [t.name for t in s.repartition_source_topics],
                "state_changelog_topics": [t.name for t in s.state_changelog_topics],
            }
            for s in d.subtopologies
        ],
        "members": [
            {
                "member_id": m.member_id,
                "member_epoch": m.member_epoch,
                "process_id": m.process_id,
                "client_id": m.client_id,
                "host": m.display_host,
                "instance_id": m.instance_id,
                "rack": m.rack_id,
                "topology_epoch": m.topology_epoch,
                "is_classic": m.is_classic,
                "assignment": _tasks(m.assignment),
                "target_assignment": _tasks(m.target_assignment),
            }
            for m in d.members
        ],
        "partitions": [
            {
                "topic": r.topic,
                "partition": r.partition,
                "committed": r.committed,
                "log_start": r.log_start,
                "log_end": r.log_end,
                "lag": r.lag,
                "subtopology": r.subtopology,
                "member_id": r.member.member_id if r.member else None,
                **partition_collected(observed.get((r.topic, r.partition))),
            }
            for r in detail.rows
        ],
        "lag": detail.total_lag,
    }
