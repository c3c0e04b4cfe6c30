"""A topic's readers on its page and in the API include share groups (with the broker's lag) beside consumer
groups, each with its type and linked to its own page; a reader scoped to some groups sees only those."""

from __future__ import annotations

import json

import pytest
from django.test import override_settings
from django.urls import reverse

from groups.kafka import ShareClient, ShareGroupNotFound
from groups.models import SnapshotGroup
from groups.snapshot import queries
from groups.snapshot.collector import COLLECTED, collect
from tests import kafkatools as kt

pytestmark = [pytest.mark.integration, pytest.mark.django_db]


@pytest.fixture
def read_two_ways(kafka_bootstrap, unique, cluster, redis_url):
    """A 2-partition topic (5 records) read by a classic group committed at 1 and 0 and by a share
    group that read all 5 before 3 more arrived (lags then 7 and 3); one collection round taken after."""
    b = kafka_bootstrap
    topic, classic, share = unique("readers"), unique("readers-classic"), unique("readers-share")
    kt.create_topic(b, topic, 2)
    kt.start_share_group_at_earliest(b, share)
    kt.produce(b, topic, {0: 3, 1: 2})
    kt.commit(b, classic, {(topic, 0): 1, (topic, 1): 0})
    member = kt.ShareMember(b, share, [topic], client_id="topic-reader")
    client = ShareClient({"bootstrap.servers": b}, 10)

    def caught_up() -> bool:
        try:
            offsets = client.start_offsets(share)
            return member.received == 5 and len(offsets) == 2 and all(o.lag == 0 for o in offsets)
        except ShareGroupNotFound:
            return False

    try:
        kt.wait_for(caught_up, timeout=60, what="the share group to read every record")
    finally:
        member.stop()
    kt.produce(b, topic, {0: 3})
    kt.wait_for_share_lag(b, share, 3)
    _collect(cluster, redis_url)
    return {"topic": topic, "classic": classic, "share": share}


def _collect(cluster, redis_url) -> None:
    with override_settings(REDIS_URL=redis_url):
        report = collect(cluster)
    assert report.outcome == COLLECTED, report.describe()


def test_a_topic_shows_its_share_and_consumer_readers_with_types_lags_and_links(viewer_client, read_two_ways):
    topic, classic, share = read_two_ways["topic"], read_two_ways["classic"], read_two_ways["share"]
    share_row = SnapshotGroup.objects.get(group_id=share)
    assert share_row.type == "share" and share_row.lag == 3
    page = viewer_client.get(reverse("topic_page", args=["local", topic]))
    assert page.status_code == 200
    readers = {r.group_id: (r.type, r.partitions, r.lag) for r in page.context["readers"]}
    assert readers == {classic: ("classic", 2, 7), share: ("share", 2, 3)}
    body = page.content.decode()
    assert f'href="/clusters/local/share-groups/{share}/"' in body
    assert f'href="/clusters/local/groups/{classic}/"' in body
    assert 'id="reader-count">2<' in body
    # The topic's row, which the topic list and its API read, counts the share group and its lag too.
    listed = viewer_client.get(reverse("api:api_topics", args=["local"]) + f"?q={topic}")
    assert listed.status_code == 200
    (row,) = [t for t in json.loads(listed.content)["topics"] if t["topic"] == topic]
    assert (row["groups"], row["lag"]) == (2, 10)
    api = viewer_client.get(reverse("api:api_topic", args=["local", topic]))
    assert api.status_code == 200
    by_group = {r["group"]: r for r in json.loads(api.content)["readers"]}
    assert {g: (r["type"], r["partitions"], r["lag"]) for g, r in by_group.items()} == readers
    # A share group is judged on its start offsets as a consumer group is on its commits: after one
    # round, 3 behind: NEW (not judged) while its window fills.
    assert by_group[share]["status"] == "NEW" and by_group[share]["replay_operation"] is None
    assert by_group[classic]["status"] != ""


def test_a_reader_scoped_to_some_groups_sees_only_those_among_a_topics_readers(client, make_user, read_two_ways):
    topic, classic, share = read_two_ways["topic"], read_two_ways["classic"], read_two_ways["share"]
    client.force_login(make_user("share-team", "Viewer", pattern=share))
    page = client.get(reverse("topic_page", args=["local", topic]))
    assert [(r.group_id, r.type) for r in page.context["readers"]] == [(share, "share")]
    assert classic not in page.content.decode()
    api = json.loads(client.get(reverse("api:api_topic", args=["local", topic])).content)
    assert [r["group"] for r in api["readers"]] == [share]


def test_a_share_group_is_caught_up_once_a_member_has_read_what_waited(
    cluster, kafka_bootstrap, read_two_ways, redis_url
):
    """Judged on the broker's lag, not on the start offset it keeps (which can stay behind records already
    acknowledged): once a member has read the 3 waiting records the group is OK with lag 0 and lag in
    seconds 0. (tests/integration/test_share_group_deletion.py has one left waiting: STOP, then RESET.)"""
    topic, share = read_two_ways["topic"], read_two_ways["share"]
    waiting = queries.group_row(queries.latest_snapshot(cluster).snapshot, share)
    assert waiting.lag == 3 and waiting.lag_seconds is not None and waiting.lag_seconds > 0
    member = kt.ShareMember(kafka_bootstrap, share, [topic], client_id="topic-reader-again")
    try:
        kt.wait_for_share_lag(kafka_bootstrap, share, 0)
        _collect(cluster, redis_url)
    finally:
        member.stop()
    caught_up = queries.group_row(queries.latest_snapshot(cluster).snapshot, share)
    assert (caught_up.status, caught_up.lag, caught_up.lag_seconds) == ("OK", 0, 0.0), caught_up.status_reason
