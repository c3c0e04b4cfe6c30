"""Streams groups (KIP-1071): one streams group as a page (with its live fragment) and as JSON, with the
same rights as consumer groups. They are listed with every other group, in the group list."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse, JsonResponse
from django.views.decorators.http import require_GET

from groups import streams_reading
from groups.kafka import ConsoleError, client_for
from groups.views.common import error_status, get_cluster, render_page


@require_GET
def streams_group_page(request: HttpRequest, cluster: str, group: str) -> HttpResponse:
    cluster_row = get_cluster(request, cluster, group_id=group)
    context: dict = {"cluster": cluster_row, "group_id": group}
    try:
        detail = streams_reading.streams_group_detail(cluster_row, client_for(cluster_row), group)
    except ConsoleError as error:
        return render_page(
            request, "groups/streams_group_page.html", "live", {**context, "error": error}, error_status(error)
        )
    return render_page(request, "groups/streams_group_page.html", "live", {**context, "detail": detail})


def _tasks(assignment) -> dict:
    return {
        kind: [{"subtopology": t.subtopology_id, "partitions": list(t.partitions)} for t in getattr(assignment, kind)]
        for kind in ("active", "standby", "warmup")
    }


@require_GET
def api_streams_group(request: HttpRequest, cluster: str, group: str) -> JsonResponse:
    cluster_row = get_cluster(request, cluster, group_id=group)
    try:
        detail = streams_reading.streams_group_detail(cluster_row, client_for(cluster_row), group)
    except ConsoleError as error:
        return JsonResponse({"error": error.message, "code": error.code}, status=error_status(error))
    d = detail.description
    return JsonResponse(
        {
            "group": d.group_id,
            "type": "streams",
            "state": d.state,
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
                    "host": m.client_host,
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
                }
                for r in detail.rows
            ],
            "lag": detail.total_lag,
        }
    )
