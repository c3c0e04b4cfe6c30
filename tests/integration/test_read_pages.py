"""The read side's pages and API against the real broker, including its failure modes.

The group list, topic pages and the list API read the collector's snapshot: these tests run a
collection round (`collect`) after setting the broker up, as the beat task would.
"""

import re
import socket
from urllib.parse import quote

import pytest
from django.urls import reverse

from groups.kafka import TP, GroupDescription, LogOffsets, Member, client_for
from groups.kafka.collect import ClusterReading, GroupReading, PartitionReading, TopicReading
from groups.models import Cluster
from groups.snapshot import store
from groups.snapshot.collector import COLLECTED, FAILED, collect
from groups.snapshot.evaluate import Carried, ConsoleFacts, evaluate
from groups.views import consumer_groups as views
from tests import kafkatools as kt

pytestmark = pytest.mark.django_db


def _collected(cluster) -> None:
    report = collect(cluster)
    assert report.outcome == COLLECTED, report.describe()


def test_unknown_cluster_is_a_404_page_with_a_way_back(viewer_client):
    response = viewer_client.get("/clusters/nope/groups/")
    assert response.status_code == 404
    assert b"nope" in response.content and b'href="/"' in response.content


def test_unknown_cluster_in_the_api_is_a_json_404(viewer_client):
    response = viewer_client.get("/api/clusters/nope/groups/")
    assert response.status_code == 404
    assert "nope" in response.json()["error"]


@pytest.mark.parametrize("query", ["sort=banana", "page=0", "page=abc", "sort=--lag"])
def test_malformed_list_parameters_are_a_400_with_the_reason(viewer_client, query):
    Cluster.objects.create(name="c", bootstrap_servers="127.0.0.1:1")
    response = viewer_client.get(f"/clusters/c/groups/?{query}")
    assert response.status_code == 400
    assert b"must be" in response.content


def test_unreachable_broker_shows_the_bootstrap_servers_and_keeps_retrying(viewer_client, settings, use_test_redis):
    settings.KAFKA_REQUEST_TIMEOUT = 1.5
    with socket.socket() as s:  # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    down = Cluster.objects.create(name="down", bootstrap_servers=f"127.0.0.1:{port}")
    assert collect(down).outcome == FAILED
    # The list reads the snapshot: there is none yet, and the page says why the collector has none.
    listing = viewer_client.get("/clusters/down/groups/")
    assert listing.status_code == 200
    body = listing.content.decode()
    assert 'id="no-snapshot"' in body and f"127.0.0.1:{port}" in body and "did not answer" in body
    assert 'hx-trigger="every 5s' in body and 'http-equiv="refresh"' in body
    api = viewer_client.get("/api/clusters/down/groups/")
    assert api.status_code == 503 and f"127.0.0.1:{port}" in api.json()["last_failure"]
    # The group page reads its own figures live, and says that it retries.
    response = viewer_client.get("/clusters/down/groups/some-group/")
    assert response.status_code == 503
    body = response.content.decode()
    assert f"127.0.0.1:{port}" in body and "did not answer" in body and "Cannot reach Kafka." in body
    assert 'hx-trigger="every 5s' in body and 'http-equiv="refresh"' in body
    # The page says it retries; the message itself does not, as workers and the CLI show it too.
    assert 'id="retry-note"' in body and "This page retries by itself every 5 seconds." in body
    assert body.count("retries") == 1
    api = viewer_client.get("/api/clusters/down/groups/some-group/")
    assert api.status_code == 503 and f"127.0.0.1:{port}" in api.json()["error"]
    assert "retries" not in api.json()["error"]


@pytest.mark.integration
def test_unknown_group_is_a_404_page_and_json_404(viewer_client, cluster, unique):
    group = unique("never-existed")
    page = viewer_client.get(f"/clusters/local/groups/{group}/")
    assert page.status_code == 404 and group.encode() in page.content, page.content.decode()
    assert b"Not found." in page.content and b"Back to the groups of local" in page.content
    assert b'id="retry-note"' not in page.content
    assert viewer_client.get(f"/api/clusters/local/groups/{group}/").status_code == 404


@pytest.mark.integration
def test_group_list_searches_sorts_and_renders_lag(viewer_client, cluster, kafka_bootstrap, unique, use_test_redis):
    topic = unique("search")
    kt.create_topic(kafka_bootstrap, topic, 2)
    kt.produce(kafka_bootstrap, topic, {0: 10, 1: 10})
    small, big = unique("needle-small"), unique("needle-big")
    kt.commit(kafka_bootstrap, small, {(topic, 0): 9, (topic, 1): 10})
    kt.commit(kafka_bootstrap, big, {(topic, 0): 0, (topic, 1): 2})
    _collected(cluster)
    response = viewer_client.get("/clusters/local/groups/?q=NEEDLE&sort=-lag")
    assert response.status_code == 200
    body = response.content.decode()
    assert body.index(big) < body.index(small)
    rows = response.context["page"].object_list
    assert [(g.group_id, g.lag) for g in rows if g.group_id in (small, big)] == [(big, 18), (small, 1)]


@pytest.mark.integration
def test_htmx_refresh_returns_only_the_live_fragment(viewer_client, cluster, kafka_bootstrap, unique):
    topic, group = unique("frag"), unique("frag-group")
    kt.create_topic(kafka_bootstrap, topic, 1)
    kt.produce(kafka_bootstrap, topic, {0: 3})
    kt.commit(kafka_bootstrap, group, {(topic, 0): 1})
    response = viewer_client.get(f"/clusters/local/groups/{group}/", HTTP_HX_REQUEST="true")
    body = response.content.decode()
    assert response.status_code == 200
    assert body.lstrip().startswith('<div id="live"') and "<html" not in body
    assert '<td class="num lag">2' in body


@pytest.mark.integration
def test_the_group_page_names_the_partitions_where_the_group_has_no_offset(
    viewer_client, cluster, kafka_bootstrap, unique
):
    topic, other, group = unique("cover"), unique("cover-all"), unique("cover-group")
    kt.create_topic(kafka_bootstrap, topic, 4)
    kt.create_topic(kafka_bootstrap, other, 1)
    kt.commit(kafka_bootstrap, group, {(topic, 0): 0, (topic, 1): 0, (other, 0): 0})
    response = viewer_client.get(f"/clusters/local/groups/{group}/")
    assert response.context["uncovered"] == [(topic, [2, 3], 4)]
    section = response.content.decode().split('id="uncovered"')[1].split("</section>")[0]
    assert "partitions 2, 3 of 4" in section and other not in section
    # The refreshed part leaves it alone: it is outside the live fragment.
    refreshed = viewer_client.get(f"/clusters/local/groups/{group}/", HTTP_HX_REQUEST="true").content.decode()
    assert 'id="uncovered"' not in refreshed


@pytest.mark.integration
def test_topic_page_lists_partitions_and_groups_with_their_lag(
    viewer_client, cluster, kafka_bootstrap, unique, use_test_redis
):
    topic, group = unique("topicpage"), unique("topicpage-group")
    kt.create_topic(kafka_bootstrap, topic, 3)
    kt.produce(kafka_bootstrap, topic, {0: 5, 1: 6, 2: 7})
    kt.commit(kafka_bootstrap, group, {(topic, 0): 1, (topic, 2): 7})
    _collected(cluster)
    response = viewer_client.get(f"/clusters/local/topics/{topic}/")
    assert response.status_code == 200
    assert {p.partition: (p.log_start, p.log_end) for p in response.context["partitions"]} == {
        0: (0, 5),
        1: (0, 6),
        2: (0, 7),
    }
    assert [(g.group_id, g.partitions, g.lag) for g in response.context["readers"]] == [(group, 2, 4)]


@pytest.mark.integration
def test_a_topic_deleted_while_its_pages_are_open_is_reported(
    viewer_client, cluster, kafka_bootstrap, unique, use_test_redis
):
    topic, group = unique("doomed"), unique("doomed-group")
    kt.create_topic(kafka_bootstrap, topic, 1)
    kt.produce(kafka_bootstrap, topic, {0: 2})
    kt.commit(kafka_bootstrap, group, {(topic, 0): 1})
    _collected(cluster)
    assert viewer_client.get(f"/clusters/local/topics/{topic}/").status_code == 200
    kt.admin(kafka_bootstrap).delete_topics([topic])[topic].result(timeout=30)
    kt.wait_for(lambda: topic not in kt.admin(kafka_bootstrap).list_topics(timeout=10).topics, what="deletion")
    _collected(cluster)  # the topic page follows the snapshot: the next round no longer sees the topic

    refresh = viewer_client.get(f"/clusters/local/topics/{topic}/", HTTP_HX_REQUEST="true")
    assert refresh.status_code == 200, "htmx only swaps 2xx answers in"
    assert f"Topic '{topic}' does not exist" in refresh.content.decode()
    assert "Not found." in refresh.content.decode()
    assert viewer_client.get(f"/clusters/local/topics/{topic}/").status_code == 404

    # Kafka drops a group's offsets on a deleted topic; the page must follow, not fail.
    def group_page_without_topic():
        response = viewer_client.get(f"/clusters/local/groups/{group}/")
        assert response.status_code in (200, 404), response.context["error"].message
        return response.status_code == 404 or topic not in [r.topic for r in response.context["detail"].rows]

    kt.wait_for(group_page_without_topic, what="the group page to drop the deleted topic")


@pytest.mark.integration
def test_lag_in_time_is_the_age_of_the_first_unread_record(viewer_client, cluster, kafka_bootstrap, unique):
    import time

    topic, group = unique("timelag"), unique("timelag-group")
    kt.create_topic(kafka_bootstrap, topic, 2)
    hour_ago = int(time.time() * 1000) - 3_600_000
    kt.produce(kafka_bootstrap, topic, {0: 3}, timestamp_ms=hour_ago)
    kt.produce(kafka_bootstrap, topic, {0: 2, 1: 4})
    kt.commit(kafka_bootstrap, group, {(topic, 0): 1, (topic, 1): 4})
    partitions = {
        p["partition"]: p for p in viewer_client.get(f"/api/clusters/local/groups/{group}/").json()["partitions"]
    }
    assert 3_600_000 <= partitions[0]["lag_ms"] < 3_600_000 + 60_000  # offset 1 is an hour-old record
    assert partitions[1]["lag_ms"] == 0  # caught up
    page = viewer_client.get(f"/clusters/local/groups/{group}/").content.decode()
    assert '<strong id="time-lag">1h 00m</strong>' in page


@pytest.mark.integration
@pytest.mark.parametrize("name", ["bad:name", "ü"])
def test_an_invalid_topic_name_is_not_found_rather_than_kafka_unreachable(viewer_client, cluster, name, use_test_redis):
    assert client_for(cluster).topic_partition_counts([name, ""]) == {}
    _collected(cluster)
    url = reverse("topic_page", args=["local", name])
    page = viewer_client.get(url)
    assert page.status_code == 404
    body = page.content.decode()
    assert "Not found." in body and "Cannot reach Kafka" not in body and "does not exist" in body
    assert "Back to the groups of local" in body and 'id="retry-note"' not in body
    refresh = viewer_client.get(url, HTTP_HX_REQUEST="true")
    assert refresh.status_code == 200 and "Not found." in refresh.content.decode()


def test_a_group_id_with_a_nul_character_is_no_page_rather_than_an_outage(viewer_client, cluster):
    for path in ("/clusters/local/groups/a%00b/", "/clusters/local/share-groups/%00/"):
        page = viewer_client.get(path)
        body = page.content.decode()
        assert page.status_code == 404 and "holds a NUL character" in body and "Cannot reach Kafka" not in body
    api = viewer_client.get("/api/clusters/local/groups/a%00b/")
    assert api.status_code == 404 and "holds a NUL character" in api.json()["error"]


@pytest.mark.integration
def test_groups_named_with_a_newline_or_unicode_have_working_pages(
    viewer_client, cluster, kafka_bootstrap, unique, use_test_redis
):
    topic = unique("oddnames")
    kt.create_topic(kafka_bootstrap, topic, 1)
    kt.produce(kafka_bootstrap, topic, {0: 4})
    newline, accented = unique("odd") + "\nline", unique("grün-ø-∂")
    for group in (newline, accented):
        kt.commit(kafka_bootstrap, group, {(topic, 0): 1})
    _collected(cluster)

    topic_page = viewer_client.get(reverse("topic_page", args=["local", topic]))
    assert topic_page.status_code == 200
    assert {g.group_id: g.lag for g in topic_page.context["readers"]} == {newline: 3, accented: 3}
    for group in (newline, accented):
        url = reverse("group_page", args=["local", group])
        # Searched: other tests leave many groups on the shared broker, past the list's first page.
        listing = viewer_client.get("/clusters/local/groups/", {"q": group.split("\n")[0]})
        assert listing.status_code == 200
        assert f'href="{url}"' in listing.content.decode() and f'href="{url}"' in topic_page.content.decode()
        page = viewer_client.get(url)
        assert page.status_code == 200, page.content
        assert page.context["detail"].description.group_id == group
        assert [(r.topic, r.committed, r.lag) for r in page.context["detail"].rows] == [(topic, 1, 3)]
        assert viewer_client.get(url, HTTP_HX_REQUEST="true").status_code == 200
        api = viewer_client.get(reverse("api:api_group", args=["local", group]))
        assert api.status_code == 200 and api.json()["group"] == group
        assert [(p["topic"], p["lag"]) for p in api.json()["partitions"]] == [(topic, 3)]
    for group in (newline, accented):
        listed = viewer_client.get("/api/clusters/local/groups/", {"q": group.split("\n")[0]}).json()["groups"]
        assert [g["group"] for g in listed] == [group]
    searched = viewer_client.get("/clusters/local/groups/?q=" + quote(accented.upper()))
    assert searched.status_code == 200
    assert [g.group_id for g in searched.context["page"].object_list] == [accented]


@pytest.mark.integration
def test_the_list_shows_only_the_groups_matching_the_search_that_the_user_may_see(
    client, make_user, cluster, kafka_bootstrap, unique, use_test_redis
):
    topic = unique("filtered")
    kt.create_topic(kafka_bootstrap, topic, 1)
    kt.produce(kafka_bootstrap, topic, {0: 5})
    tag = unique("needle")
    shown, hidden, other = f"team-a-{tag}-x", f"team-b-{tag}-y", unique("team-a-elsewhere")
    for group in (shown, hidden, other):
        kt.commit(kafka_bootstrap, group, {(topic, 0): 2})
    _collected(cluster)
    client.force_login(make_user("team-a", "Viewer", pattern="team-a-*"))

    response = client.get(f"/clusters/local/groups/?q={tag.upper()}&sort=-lag")
    assert response.status_code == 200
    assert [(g.group_id, g.lag) for g in response.context["page"].object_list] == [(shown, 3)]
    assert response.context["total"] == 1
    assert [g["group"] for g in client.get(f"/api/clusters/local/groups/?q={tag}").json()["groups"]] == [shown]


class StubClient:
    """Stands in for Kafka where the real broker cannot produce the case (static members)."""

    def __init__(self, description=None):
        self.description = description

    def describe_groups(self, group_ids):
        assert "" not in group_ids, "the admin API cannot describe an empty group id"
        return {g: self.description or GroupDescription(g, "Empty", "classic", "", "-", ()) for g in group_ids}

    def committed_offsets(self, group_ids):
        assert "" not in group_ids, "the admin API refuses an empty group id"
        return {g: {TP("t", 0): 1} for g in group_ids}

    def log_offsets(self, partitions):
        return {tp: LogOffsets(0, 4) for tp in partitions}

    def record_timestamps(self, positions):
        return {}


def test_an_empty_group_id_is_listed_without_a_link(viewer_client):
    """Only old clients can make a group with an empty id, so the snapshot the collector would write
    for one is written here from a round's reading."""
    cluster = Cluster.objects.create(name="local", bootstrap_servers="127.0.0.1:1")
    reading = ClusterReading(
        t_ms=1_700_000_000_000,
        groups={
            "": GroupReading("", "Empty", "classic", (), {}),
            "app": GroupReading("app", "Empty", "classic", (), {TP("t", 0): 1}),
        },
        topics={"t": TopicReading("t", 1, False)},
        partitions={TP("t", 0): PartitionReading(0, 4)},
    )
    evaluated = evaluate(reading, Carried(), ConsoleFacts(), window_rounds=10)
    store.write_snapshot(cluster, evaluated, taken_at_ms=reading.t_ms, read_seconds=0.1)
    response = viewer_client.get("/clusters/local/groups/?sort=group")
    assert response.status_code == 200
    assert [(g.group_id, g.state, g.lag) for g in response.context["page"].object_list] == [
        ("", "Empty", None),
        ("app", "Empty", 3),
    ]
    body = response.content.decode()
    assert 'class="muted empty-group-id"' in body and "empty group id" in body
    assert f'href="{reverse("group_page", args=["local", "app"])}"' in body
    assert viewer_client.get("/api/clusters/local/groups/").status_code == 200


def test_the_instance_id_column_shows_when_any_member_is_static(viewer_client, monkeypatch):
    Cluster.objects.create(name="local", bootstrap_servers="127.0.0.1:1")
    members = (Member("m-1", "app", "/10.0.0.1", None, (TP("t", 0),)), Member("m-2", "app", "/10.0.0.2", "pod-2", ()))
    stub = StubClient(description=GroupDescription("app", "Stable", "classic", "range", "-", members))
    monkeypatch.setattr(views, "client_for", lambda cluster_row: stub)
    body = viewer_client.get("/clusters/local/groups/app/").content.decode()
    table = re.search(r'<table id="members">(.*?)</table>', body, re.S).group(1)
    assert "<th>Instance id</th>" in table
    assert "<td>pod-2</td>" in table and "<td>—</td>" in table
