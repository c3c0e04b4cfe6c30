"""The share-group pages and their JSON API against the real broker: what they show, who sees them, and
what a wrong id or an unreachable cluster gets."""

from __future__ import annotations

import re
import socket

import pytest
from django.test import override_settings

from groups import share_reading
from groups.kafka import ShareClient, ShareGroupNotFound
from groups.models import Cluster, SnapshotGroup
from groups.snapshot import queries
from groups.snapshot.collector import COLLECTED, collect
from tests import kafkatools as kt

pytestmark = [
    pytest.mark.django_db,
    pytest.mark.engine_neutral("share groups are read live from Kafka"),
]


@pytest.fixture
def live_share_group(kafka_bootstrap, unique):
    """A share group with one member reading a 2-partition topic (3 and 2 records, all acknowledged)."""
    topic, group = unique("share-page"), unique("share-page-group")
    kt.create_topic(kafka_bootstrap, topic, 2)
    kt.start_share_group_at_earliest(kafka_bootstrap, group)
    kt.produce(kafka_bootstrap, topic, {0: 3, 1: 2})
    member = kt.ShareMember(kafka_bootstrap, group, [topic], client_id="page-reader")
    client = ShareClient({"bootstrap.servers": kafka_bootstrap}, 10)

    def caught_up() -> bool:
        try:
            offsets = client.start_offsets(group)
            return member.received == 5 and len(offsets) == 2 and all(o.lag == 0 for o in offsets)
        except ShareGroupNotFound:
            return False

    try:
        kt.wait_for(caught_up, timeout=60, what="the share group to read every record")
        yield {"topic": topic, "group": group}
    finally:
        member.stop()


@pytest.mark.integration
def test_the_share_group_page_shows_state_epochs_members_and_start_offsets(viewer_client, cluster, live_share_group):
    topic, group = live_share_group["topic"], live_share_group["group"]
    response = viewer_client.get(f"/clusters/local/share-groups/{group}/")
    assert response.status_code == 200, response.content.decode()
    body = response.content.decode()
    assert '<span class="badge state-Stable" id="group-state">Stable</span>' in body
    assert "page-reader" in body and "127.0.0.1" in body and 'id="member-count">1<' in body
    detail = response.context["detail"]
    assert [(r.topic, r.partition, r.lag, r.log_end) for r in detail.rows] == [(topic, 0, 0, 3), (topic, 1, 0, 2)]
    assert all(r.consumers and r.consumers[0].client_id == "page-reader" for r in detail.rows)
    assert f'data-tp="{topic}-0"' in body and f'data-tp="{topic}-1"' in body
    assert 'id="total-lag">0<' in body
    # Each figure refreshes in place; the fragment alone comes back to htmx.
    fragment = viewer_client.get(f"/clusters/local/share-groups/{group}/", HTTP_HX_REQUEST="true").content.decode()
    assert fragment.lstrip().startswith('<div id="live"') and "<html" not in fragment


@pytest.mark.integration
def test_the_share_group_list_links_each_share_group_and_the_cluster_list_links_the_list(
    viewer_client, cluster, live_share_group
):
    group = live_share_group["group"]
    listing = viewer_client.get("/clusters/local/share-groups/")
    assert listing.status_code == 200
    assert f'href="/clusters/local/share-groups/{group}/"' in listing.content.decode()
    assert 'href="/clusters/local/share-groups/"' in viewer_client.get("/").content.decode()
    api = viewer_client.get("/api/clusters/local/share-groups/").json()["share_groups"]
    assert {"group": group, "state": "Stable"} in api


@pytest.mark.integration
def test_a_consumer_group_or_unknown_id_on_the_share_group_page_is_a_404_that_says_which(
    viewer_client, cluster, kafka_bootstrap, unique
):
    topic, consumer_group, nothing = unique("classic"), unique("classic-group"), unique("no-such-group")
    kt.create_topic(kafka_bootstrap, topic, 1)
    kt.commit(kafka_bootstrap, consumer_group, {(topic, 0): 0})

    page = viewer_client.get(f"/clusters/local/share-groups/{consumer_group}/")
    assert page.status_code == 404
    assert (
        f"Group &#x27;{consumer_group}&#x27; exists on this cluster but is not a share group" in page.content.decode()
    )
    missing = viewer_client.get(f"/clusters/local/share-groups/{nothing}/")
    assert missing.status_code == 404 and "Back to the share groups of local" in missing.content.decode()
    api = viewer_client.get(f"/api/clusters/local/share-groups/{nothing}/")
    assert api.status_code == 404 and api.json()["code"] == "GROUP_ID_NOT_FOUND"
    assert api.json()["error"].startswith(f"There is no share group '{nothing}' on this cluster")


@pytest.mark.integration
def test_share_groups_outside_a_users_grant_are_neither_listed_nor_shown(
    client, make_user, cluster, kafka_bootstrap, live_share_group
):
    group = live_share_group["group"]
    client.force_login(make_user("other-team", "Viewer", pattern="other-team-*"))
    assert group not in client.get("/clusters/local/share-groups/").content.decode()
    assert client.get("/api/clusters/local/share-groups/").json() == {"share_groups": []}
    assert client.get(f"/clusters/local/share-groups/{group}/").status_code == 403
    assert client.get(f"/api/clusters/local/share-groups/{group}/").status_code == 403


def test_an_unreachable_cluster_shows_its_bootstrap_servers_and_keeps_retrying(viewer_client, settings):
    settings.KAFKA_REQUEST_TIMEOUT = 1.5
    with socket.socket() as s:  # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    Cluster.objects.create(name="down", bootstrap_servers=f"127.0.0.1:{port}")
    for url in ("/clusters/down/share-groups/", "/clusters/down/share-groups/g/"):
        response = viewer_client.get(url)
        body = response.content.decode()
        assert response.status_code == 503 and f"127.0.0.1:{port}" in body and "did not answer" in body
        assert 'http-equiv="refresh"' in body
    api = viewer_client.get("/api/clusters/down/share-groups/g/")
    assert api.status_code == 503 and api.json()["code"] == "_TRANSPORT"


@pytest.mark.integration
def test_the_share_group_page_shows_what_the_collector_made_of_the_group_and_its_history(
    viewer_client, cluster, kafka_bootstrap, live_share_group, redis_url
):
    topic, group = live_share_group["topic"], live_share_group["group"]
    url = f"/clusters/local/share-groups/{group}/"
    before = viewer_client.get(url).content.decode()
    assert 'id="group-status"' not in before and 'id="history-chart"' in before  # no round yet: no status
    api = viewer_client.get(f"/api/clusters/local/share-groups/{group}/").json()
    assert (api["snapshot"], api["status"], api["lag_seconds"]) == (None, None, None)
    assert [p["status"] for p in api["partitions"]] == [None, None]
    assert {p["collected_note"] for p in api["partitions"]} == {share_reading.NOT_SEEN}

    with override_settings(REDIS_URL=redis_url):
        report = collect(cluster)
    assert report.outcome == COLLECTED, report.describe()
    row = SnapshotGroup.objects.get(group_id=group)
    assert (row.type, row.lag, row.status, row.lag_seconds) == ("share", 0, "OK", 0.0)
    partitions = [(p.topic, p.partition, p.lag, p.log_end) for p in queries.partition_details(row)]
    assert partitions == [(topic, 0, 0, 3), (topic, 1, 0, 2)]

    page = viewer_client.get(url).content.decode()
    assert '<span class="badge lag-status sev-ok" id="group-status">OK</span>' in page
    assert re.search(r'id="group-lag-seconds"><span class="lag-s" title="[^"]+">0s</span>', page)
    chart = viewer_client.get(url, {"range": "6h"}, HTTP_HX_REQUEST="true", HTTP_HX_TARGET="history-chart")
    fragment = chart.content.decode()
    assert chart.status_code == 200 and fragment.lstrip().startswith('<figure id="history-chart"')
    assert 'aria-current="true">6 h</a>' in fragment and 'id="live"' not in fragment
    assert viewer_client.get(url, {"range": "fortnight"}).status_code == 400
    api = viewer_client.get(f"/api/clusters/local/share-groups/{group}/").json()
    assert (api["status"], api["lag_seconds"], api["snapshot"]["stale"]) == ("OK", 0.0, False)
    assert [(p["start_offset"] is not None, p["status"], p["lag_seconds"]) for p in api["partitions"]] == [
        (True, "OK", 0.0),
        (True, "OK", 0.0),
    ]
    assert [p["collected_note"] for p in api["partitions"]] == [None, None]
    assert len(re.findall(r'<td class="partition-status"><span class="badge lag-status sev-ok"', page)) == 2

    # Read on after the round: the judgement of partition 0 was of its position then, so it is not shown beside now's.
    kt.produce(kafka_bootstrap, topic, {0: 2})

    def read_on() -> dict | None:
        answer = viewer_client.get(f"/api/clusters/local/share-groups/{group}/").json()
        return answer if [(p["log_end"], p["lag"]) for p in answer["partitions"]] == [(5, 0), (2, 0)] else None

    api = kt.wait_for(read_on, timeout=60, what="the share group to read the new records")
    moved, still = api["partitions"]
    assert (moved["log_end"], moved["lag"], moved["status"], moved["lag_seconds"]) == (5, 0, None, None)
    assert "position 3 (log end minus lag); this read finds" in moved["collected_note"]
    assert "and 5. Its status and lag in seconds were of those" in moved["collected_note"]
    assert (still["status"], still["lag_seconds"], still["collected_note"]) == ("OK", 0.0, None)
    assert api["status"] == "OK"  # the group's headline stays the round's, under its snapshot's time
    page = viewer_client.get(url).content.decode()
    cells = re.search(rf'data-tp="{topic}-0">.*?</tr>', page, re.S).group(0)
    assert 'class="muted not-judged" title="The last collection round saw start offset' in cells
    assert 'id="judged-note"' in page
    history = viewer_client.get(f"/api/clusters/local/groups/{group}/history/", {"since": "PT1H"}).json()
    assert [(p["lag"], p["lag_seconds"], p["status"]) for p in history["points"]] == [(0, 0.0, "OK")]


@pytest.fixture
def idle_share_group(kafka_bootstrap, unique):
    """A share group with no member, 4 records behind on a 1-partition topic (it read the first 2)."""
    topic, group = unique("share-behind"), unique("share-behind-group")
    kt.create_topic(kafka_bootstrap, topic, 1)
    kt.start_share_group_at_earliest(kafka_bootstrap, group)
    kt.produce(kafka_bootstrap, topic, {0: 2})
    member = kt.ShareMember(kafka_bootstrap, group, [topic], client_id="behind-reader")
    try:
        kt.wait_for(lambda: member.received == 2, timeout=60, what="the share group to read the first records")
    finally:
        member.stop()
    kt.produce(kafka_bootstrap, topic, {0: 4})
    client = ShareClient({"bootstrap.servers": kafka_bootstrap}, 10)
    kt.wait_for(
        lambda: [o.lag for o in client.start_offsets(group)] == [4], timeout=60, what="the share group to be 4 behind"
    )
    return {"topic": topic, "group": group}


@pytest.mark.integration
def test_a_share_group_is_linked_to_its_own_pages_and_the_consumer_group_routes_point_there(
    client, make_user, cluster, idle_share_group, redis_url
):
    topic, group = idle_share_group["topic"], idle_share_group["group"]
    with override_settings(REDIS_URL=redis_url):
        report = collect(cluster)
    assert report.outcome == COLLECTED, report.describe()
    client.force_login(make_user("share-team", "Viewer", pattern=group))  # the overview shows this group only
    own_page = f"/clusters/local/share-groups/{group}/"

    overview = client.get("/clusters/local/")
    assert [r.group_id for r in overview.context["behind"]] == [group]
    row = re.search(rf'<tr data-group="{group}">.*?</tr>', overview.content.decode(), re.S)
    assert row is not None and f'<a href="{own_page}">{group}</a>' in row.group(0)
    assert f'href="{own_page}"' in client.get("/clusters/local/groups/").content.decode()
    assert f'href="{own_page}"' in client.get(f"/clusters/local/topics/{topic}/").content.decode()

    page = client.get(f"/clusters/local/groups/{group}/", {"range": "24h"})
    assert page.status_code == 302 and page["Location"] == f"{own_page}?range=24h"
    api = client.get(f"/api/clusters/local/groups/{group}/")
    assert api.status_code == 404
    assert api.json() == {
        "error": f"Group '{group}' is a share group, not a consumer group: "
        f"read it at /api/clusters/local/share-groups/{group}/.",
        "code": "GROUP_ID_NOT_FOUND",
    }
    assert client.get(f"/api/clusters/local/share-groups/{group}/").status_code == 200
