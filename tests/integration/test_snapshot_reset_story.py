"""A reset made through the console, seen by the collector: its status names the operation, never REWIND.

The reset runs on the real Celery worker; the rounds before and after it are collected in-process.
"""

from __future__ import annotations

import re

import pytest
from django.urls import reverse

from groups.kafka import client_for
from groups.models import Operation
from groups.operations import resets
from groups.snapshot import queries
from groups.snapshot.collector import COLLECTED, collect
from tests import kafkatools as kt

pytestmark = pytest.mark.integration


def _reset_to_earliest(cluster, group: str) -> Operation:
    preview = resets.preview_reset(client_for(cluster), group, "to-earliest")
    operation = resets.request_operation(
        cluster=cluster,
        group_id=group,
        kind=Operation.Kind.RESET,
        plan=resets.plan_rows(preview.plan),
        reason="replay yesterday",
        actor="tester",
        strategy="to-earliest",
    )

    def finished():
        operation.refresh_from_db()
        return operation.is_final

    kt.wait_for(finished, timeout=60, what=f"operation #{operation.pk} to finish")
    assert operation.status == Operation.Status.SUCCEEDED, operation.error
    return operation


def test_a_console_reset_shows_as_reset_by_its_operation_and_not_as_rewind(
    celery_worker, cluster, kafka_bootstrap, unique, viewer_client
):
    topic, group = unique("story"), unique("story-group")
    kt.create_topic(kafka_bootstrap, topic, 2)
    kt.produce(kafka_bootstrap, topic, {0: 50, 1: 50})
    kt.commit(kafka_bootstrap, group, {(topic, 0): 40, (topic, 1): 45})
    assert collect(cluster).outcome == COLLECTED

    operation = _reset_to_earliest(cluster, group)
    assert collect(cluster).outcome == COLLECTED

    row = queries.group_row(queries.latest_snapshot(cluster).snapshot, group)
    assert (row.lag, row.status, row.operation_id) == (100, "RESET", operation.pk)
    statuses = {(p.topic, p.partition): (p.status, p.operation_id) for p in queries.partition_details(row)}
    assert statuses == {(topic, 0): ("RESET", operation.pk), (topic, 1): ("RESET", operation.pk)}

    link = f'href="{reverse("operation_page", args=[operation.pk])}"'
    page = viewer_client.get(reverse("group_page", args=["local", group])).content.decode()
    assert re.search(rf'<a {link} id="reset-by">Its page</a> shows the plan and the undo.', page)
    # The reason names the operation once ("... reset by operation #N."), the link does not repeat it
    # (each partition's line below it names it again, for that partition).
    reason = re.search(r'id="status-reason">(.*?)(?:<ul|</div>)', page, re.S).group(1)
    assert reason.count(f"operation #{operation.pk}") == 1, reason
    assert "REWIND" not in page
    listing = viewer_client.get(reverse("group_list", args=["local"]), {"q": group}).content.decode()
    row_html = re.search(rf'<tr data-group="{group}".*?</tr>', listing, re.S).group(0)
    assert ">RESET</span>" in row_html and f'<a class="reset-by" {link}>#{operation.pk}</a>' in row_html
    api = viewer_client.get(reverse("api:api_groups", args=["local"]), {"q": group}).json()["groups"][0]
    assert (api["status"], api["reset_by_operation"]) == ("RESET", operation.pk)

    # The chart marks the reset and links it; its range links answer with the chart alone.
    chart = re.search(r'<figure id="history-chart".*?</figure>', page, re.S).group(0)
    assert re.search(rf'<a class="marker" {link} aria-label="reset #{operation.pk} at [^"]+">', chart)
    assert f"reset #{operation.pk}</a>" in chart  # the table's list of operations, for readers of the table
    hour = viewer_client.get(
        reverse("group_page", args=["local", group]),
        {"range": "1h"},
        HTTP_HX_REQUEST="true",
        HTTP_HX_TARGET="history-chart",
    )
    fragment = hour.content.decode()
    assert hour.status_code == 200 and fragment.lstrip().startswith('<figure id="history-chart"')
    assert 'aria-current="true">1 h</a>' in fragment and 'id="live"' not in fragment and link in fragment
    live = viewer_client.get(
        reverse("group_page", args=["local", group]), HTTP_HX_REQUEST="true", HTTP_HX_TARGET="live"
    ).content.decode()
    assert live.lstrip().startswith('<div id="live"') and "history-chart" not in live

    history = viewer_client.get(reverse("api:api_group_history", args=["local", group]), {"since": "PT1H"}).json()
    assert [(p["lag"], p["status"]) for p in history["points"]] == [(15, "NEW"), (100, "RESET")]
    assert history["operations"] == [{"id": operation.pk, "t": history["operations"][0]["t"], "kind": "reset"}]
    assert history["points"][0]["t"] < history["operations"][0]["t"] < history["points"][1]["t"]
