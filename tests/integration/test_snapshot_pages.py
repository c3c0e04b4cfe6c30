"""The group list, topic list, topic page, overview and API read the collector's snapshot, never Kafka.

The scene is built and collected once for the module (one round against the real broker); a test
that changes the snapshot (a failed round, another round) does it inside its own transaction,
which is rolled back after it.
"""

from __future__ import annotations

import os
import re
import socket
import uuid

import pytest
from django.test import override_settings
from django.urls import reverse
from django.utils import timezone

from groups.models import Cluster, Operation, Replay, SnapshotGroup
from groups.snapshot import queries
from groups.snapshot.collector import COLLECTED, FAILED, collect
from groups.views.common import MAX_PAGE
from groups.views.filters import API_MAX_PER_PAGE
from tests import kafkatools as kt

pytestmark = [pytest.mark.integration, pytest.mark.django_db]

BULK = 26  # groups beside the named ones, so a page of 25 leaves a second page
NAMED = 5


@pytest.fixture(scope="module")
def scene(kafka_bootstrap, django_db_setup, django_db_blocker, redis_url):
    """Groups at known lags on three topics, one live (Stable) group, one committed past the log end (ERR
    from its first round), one replay checkpoint; collected once."""
    b = kafka_bootstrap
    tag = f"snap{os.getpid()}-{uuid.uuid4().hex[:6]}"
    wide, narrow, odd = f"{tag}-wide", f"{tag}-narrow", f"{tag}-odd"
    kt.create_topic(b, wide, 3)
    kt.create_topic(b, narrow, 1)
    kt.create_topic(b, odd, 1)
    # Outside the tag, so the lists searched by it stay as they are: a group ERR on every partition of 12.
    many = f"many{os.getpid()}-{uuid.uuid4().hex[:6]}"
    kt.create_topic(b, many, 12)
    kt.produce(b, many, dict.fromkeys(range(12), 1))
    kt.produce(b, wide, {0: 20, 1: 20, 2: 20})
    kt.produce(b, narrow, {0: 100})
    kt.produce(b, odd, {0: 10})
    groups = {
        "big": f"{tag}-g-big",
        "mid": f"{tag}-g-mid",
        "none": f"{tag}-g-none",
        "live": f"{tag}-g-live",
        "ahead": f"{tag}-g-ahead",
    }
    offsets = {
        groups["big"]: {(wide, p): 0 for p in range(3)},  # lag 60
        groups["mid"]: {(wide, p): 10 for p in range(3)},  # lag 30
        groups["none"]: {(wide, p): 20 for p in range(3)},  # caught up
        groups["ahead"]: {(odd, 0): 15},  # 5 past the log end
        **{f"{tag}-g-bulk{i:02d}": {(narrow, 0): 50 + i} for i in range(BULK)},  # lags 50 down to 25
    }
    offsets[f"{many}-g-ahead"] = {(many, p): 5 for p in range(12)}  # each 4 past the log end
    kt.commit_many(b, offsets)
    checkpoint = f"console-replay-{uuid.uuid4().hex[:16]}"
    kt.commit(b, checkpoint, {(narrow, 0): 40})
    member = kt.Member(b, groups["live"], [narrow], client_id="snap-live")
    with django_db_blocker.unblock():
        # Collected once for the whole module: with the default 15 s period its snapshot would turn stale
        # (3 periods) while a loaded machine runs the module's tests.
        cluster = Cluster.objects.create(name="local", bootstrap_servers=b, collect_every_seconds=3600)
        replay = Operation.objects.create(
            kind=Operation.Kind.REPLAY,
            cluster=cluster,
            reason="re-run",
            status=Operation.Status.RUNNING,
            started=timezone.now(),
        )
        Replay.objects.create(operation=replay, copy_group=checkpoint, topic=narrow, target_topic=f"{narrow}-copy")
        try:
            member.wait_assigned(60)
            kt.wait_for(
                lambda: (
                    kt.admin(b).describe_consumer_groups([groups["live"]])[groups["live"]].result(timeout=10).state.name
                    == "STABLE"
                ),
                timeout=60,
                what="the live group to be Stable",
            )
            with override_settings(REDIS_URL=redis_url):
                report = collect(cluster)
            assert report.outcome == COLLECTED, report.describe()
            yield {
                "tag": tag,
                "wide": wide,
                "narrow": narrow,
                "odd": odd,
                "many": many,
                "groups": groups,
                "checkpoint": checkpoint,
                "replay": replay.pk,
                "cluster": cluster,
                "bootstrap": b,
                "redis": redis_url,
            }
        finally:
            member.stop()
            Operation.objects.filter(cluster=cluster).delete()
            cluster.delete()


def _dead_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _api(client, url: str, **params):
    response = client.get(url, params)
    return response.status_code, response.json()


def _api_groups(client, **params) -> dict:
    status, body = _api(client, reverse("api:api_groups", args=["local"]), **params)
    assert status == 200, body
    return body


def test_the_group_list_shows_the_snapshot_rows_and_their_age(viewer_client, scene):
    g = scene["groups"]
    response = viewer_client.get(reverse("group_list", args=["local"]), {"q": scene["tag"], "per_page": 100})
    assert response.status_code == 200
    body = response.content.decode()
    assert 'id="snapshot-age"' in body and "Figures from the collection round of" in body
    rows = {r.group_id: r for r in response.context["page"].object_list}
    assert (rows[g["big"]].lag, rows[g["mid"]].lag, rows[g["none"]].lag) == (60, 30, 0)
    assert rows[g["live"]].state == "Stable" and rows[g["live"]].members == 1
    # Sorted by lag, largest first, by default; and the header says so.
    lags = [r.lag for r in response.context["page"].object_list]
    known = [lag for lag in lags if lag is not None]
    assert lags == sorted(known, reverse=True) + [None] * (len(lags) - len(known))
    assert re.search(
        r'<th class="num col-lag" aria-sort="descending"><a href="[^"]*">Lag <span class="sort-arrow"', body
    )
    # Status and lag are coloured by severity; lag in seconds names its method in a title.
    assert re.search(rf'<tr data-group="{g["big"]}" class="sev-\w+">', body)
    assert re.search(r'<span class="lag-s[^"]*" title="[^"]+">', body)


def test_pages_and_api_answer_from_the_stale_snapshot_once_kafka_is_gone(viewer_client, scene, settings):
    """With the cluster pointing at a port nobody listens on, any read of Kafka would fail: the pages
    answering with the snapshot's figures is the proof that they do not read it."""
    settings.KAFKA_REQUEST_TIMEOUT = 1.5
    settings.REDIS_URL = scene["redis"]
    cluster = Cluster.objects.get(name="local")
    cluster.bootstrap_servers = f"127.0.0.1:{_dead_port()}"
    cluster.save()
    failed = collect(cluster)
    assert failed.outcome == FAILED and "did not answer" in failed.reason
    g = scene["groups"]

    pages = {
        "group list": reverse("group_list", args=["local"]) + f"?q={scene['tag']}",
        "topic list": reverse("topic_list", args=["local"]) + f"?q={scene['tag']}",
        "topic page": reverse("topic_page", args=["local", scene["wide"]]),
        "overview": reverse("cluster_overview", args=["local"]),
    }
    for name, url in pages.items():
        for htmx in (False, True):
            response = viewer_client.get(url, HTTP_HX_REQUEST="true") if htmx else viewer_client.get(url)
            body = response.content.decode()
            assert response.status_code == 200, (name, body[:2000])
            assert 'id="snapshot-stale"' in body and "did not answer" in body, name
            assert "This page keeps refreshing" in body and 'hx-trigger="every 5s' in body, name
    assert g["big"] in viewer_client.get(pages["group list"]).content.decode()
    assert g["mid"] in viewer_client.get(pages["topic page"]).content.decode()

    api = _api_groups(viewer_client, q=scene["tag"], sort="group")
    assert api["snapshot"]["stale"] is True and "did not answer" in api["snapshot"]["stale_reason"]
    assert {row["group"]: row["lag"] for row in api["groups"]}[g["big"]] == 60
    status, topics = _api(viewer_client, reverse("api:api_topics", args=["local"]), q=scene["tag"])
    assert status == 200 and topics["snapshot"]["stale"] is True
    assert {t["topic"]: t["partitions"] for t in topics["topics"]} == {
        scene["wide"]: 3,
        scene["narrow"]: 1,
        scene["odd"]: 1,
    }


def test_filters_narrow_the_list_in_the_database(viewer_client, scene):
    g, tag = scene["groups"], scene["tag"]

    def ids(**params) -> set[str]:
        return {row["group"] for row in _api_groups(viewer_client, q=tag, per_page=1000, **params)["groups"]}

    everything = ids()
    assert len(everything) == NAMED + BULK
    assert ids(state="Stable") == {g["live"]}
    assert ids(type="classic") == everything
    assert ids(type="consumer") == set()
    assert ids(min_lag=50) == {g["big"]} | {f"{tag}-g-bulk{i:02d}" for i in range(BULK) if 50 - i >= 50}
    assert ids(min_lag=31) == {g["big"]} | {f"{tag}-g-bulk{i:02d}" for i in range(BULK) if 50 - i >= 31}
    statuses = {row["group"]: row["status"] for row in _api_groups(viewer_client, q=tag, per_page=1000)["groups"]}
    assert statuses[g["ahead"]] == "ERR" and statuses[g["big"]] == "NEW"
    for status in set(statuses.values()):
        assert ids(status=status) == {group for group, s in statuses.items() if s == status}
    seconds = {row["group"]: row["lag_seconds"] for row in _api_groups(viewer_client, q=tag, per_page=1000)["groups"]}
    assert ids(min_lag_seconds=0) == {group for group, s in seconds.items() if s is not None}
    # A filter on the HTML page keeps the others in its links.
    page = viewer_client.get(reverse("group_list", args=["local"]), {"q": tag, "min_lag": 31, "per_page": 25})
    assert page.context["total"] == 1 + 20
    assert "min_lag=31" in page.context["columns"][0].href and f"q={tag}" in page.context["columns"][0].href


@pytest.mark.parametrize(
    "key", ["group", "state", "type", "members", "partitions", "lag", "lag_seconds", "status", "catch_up", "retention"]
)
def test_every_column_sorts_both_ways_with_unknown_figures_last(viewer_client, scene, key):
    field = {
        "group": "group",
        "type": "protocol_type",
        "catch_up": "catch_up_seconds",
        "retention": "retention_margin_seconds",
    }.get(key, key)
    severity = ["OK", "NEW", "RESET", "WARN", "ERR"]
    rank = (lambda v: severity.index(v)) if key == "status" else (lambda v: v)
    for descending in (False, True):
        sort = ("-" if descending else "") + key
        rows = _api_groups(viewer_client, q=scene["tag"], per_page=1000, sort=sort)["groups"]
        known = [rank(r[field]) for r in rows if r[field] is not None]
        assert known == sorted(known, reverse=descending), (key, descending)
        unknown_at = [i for i, r in enumerate(rows) if r[field] is None]
        assert unknown_at == list(range(len(known), len(rows))), f"{key}: unknown figures must come last"


def test_pages_of_the_list_and_their_sizes(viewer_client, scene):
    url = reverse("group_list", args=["local"])
    first = viewer_client.get(url, {"q": scene["tag"], "per_page": 25, "sort": "group"})
    assert first.status_code == 200
    assert len(first.context["page"].object_list) == 25 and first.context["total"] == NAMED + BULK
    body = first.content.decode()
    assert "Page 1 of 2" in body and 'rel="next"' in body
    second = viewer_client.get(url, {"q": scene["tag"], "per_page": 25, "sort": "group", "page": 2})
    names = [r.group_id for r in [*first.context["page"].object_list, *second.context["page"].object_list]]
    assert names == sorted(names) and len(set(names)) == NAMED + BULK
    for size in (50, 100, 500):
        assert viewer_client.get(url, {"per_page": size}).status_code == 200

    api = reverse("api:api_groups", args=["local"])
    two = _api_groups(viewer_client, q=scene["tag"], per_page=7, page=2, sort="group")
    assert two["total"] == NAMED + BULK and two["page"] == 2 and len(two["groups"]) == 7
    assert [r["group"] for r in two["groups"]] == sorted(names)[7:14]
    assert _api(viewer_client, api, per_page=API_MAX_PER_PAGE)[0] == 200


@pytest.mark.parametrize(
    "params, reason",
    [
        ({"state": "Sleeping"}, "state must be one of"),
        ({"status": "BAD"}, "status must be one of"),
        ({"type": "share-ish"}, "type must be one of"),
        ({"min_lag": "-1"}, "min_lag must be a whole number"),
        ({"min_lag": "ten"}, "min_lag must be a whole number"),
        ({"min_lag": "9" * 30}, "min_lag must be a whole number from 0 to 9223372036854775807"),
        ({"min_lag_seconds": "nan"}, "min_lag_seconds must be a number"),
        ({"sort": "banana"}, "sort must be one of"),
        ({"sort": "--lag"}, "sort must be one of"),
        ({"page": "0"}, "page must be a whole number"),
        ({"checkpoints": "yes"}, "checkpoints must be 1"),
        ({"per_page": "30"}, "per_page must be one of 25, 50, 100, 500"),
    ],
)
def test_bad_list_parameters_are_a_400_with_the_reason_on_the_page_and_in_the_api(viewer_client, scene, params, reason):
    page = viewer_client.get(reverse("group_list", args=["local"]), params)
    assert page.status_code == 400 and reason in page.content.decode()
    if "per_page" in params:
        return  # the API takes any page size up to its limit
    status, body = _api(viewer_client, reverse("api:api_groups", args=["local"]), **params)
    assert status == 400 and reason in body["error"] and body["code"] == "BAD_REQUEST"


def test_a_filter_that_matches_nothing_says_so_with_a_zero_count_and_the_refresh_line(viewer_client, scene):
    groups, topics = reverse("group_list", args=["local"]), reverse("topic_list", args=["local"])
    nothing = f"{scene['tag']}-zzzz"
    no_group, no_topic = "No group matches these filters.", f"No topic matches “{nothing}”."
    answers = [
        (viewer_client.get(groups, {"q": nothing}), no_group, "group-count"),
        (viewer_client.get(groups, {"q": scene["tag"], "type": "streams"}), no_group, "group-count"),
        (viewer_client.get(groups, {"q": nothing}, HTTP_HX_REQUEST="true"), no_group, "group-count"),
        (viewer_client.get(topics, {"q": nothing}), no_topic, "topic-count"),
        (viewer_client.get(topics, {"q": nothing}, HTTP_HX_REQUEST="true"), no_topic, "topic-count"),
    ]
    for response, message, count in answers:
        body = response.content.decode()
        assert response.status_code == 200 and message in body, body
        assert re.search(rf'<strong id="{count}">0</strong>', body) and "Refreshed" in body


def test_the_api_refuses_a_page_size_over_its_limit(viewer_client, scene):
    for size in ("0", str(API_MAX_PER_PAGE + 1), "x"):
        status, body = _api(viewer_client, reverse("api:api_groups", args=["local"]), per_page=size)
        assert status == 400 and f"from 1 to {API_MAX_PER_PAGE}" in body["error"]


@pytest.mark.parametrize("page", ["200000000000000000", "99999999999999999999999", str(MAX_PAGE + 1), "9" * 5000])
def test_a_page_number_past_any_list_is_a_400_naming_the_range_in_the_api_and_the_last_page_said_so_on_the_pages(
    viewer_client, scene, page
):
    """Its offset would overflow the database's 64-bit integers: the API says what it takes instead."""
    for name in ("api_groups", "api_topics"):
        status, body = _api(viewer_client, reverse(f"api:{name}", args=["local"]), page=page)
        assert status == 400 and body["code"] == "BAD_REQUEST", (name, body)
        assert f"page must be a whole number from 1 to {MAX_PAGE}" in body["error"], name
    for name in ("group_list", "topic_list"):
        response = viewer_client.get(reverse(name, args=["local"]), {"q": scene["tag"], "page": page})
        assert response.status_code == 200 and response.context["page"].number == 1, name  # one page: the last
        assert "There is no such page: " in response.content.decode(), name
        assert " 1 page; this is page 1." in response.content.decode(), name


def test_a_page_past_the_end_shows_the_last_page_and_says_so(viewer_client, scene):
    url = reverse("group_list", args=["local"])
    past = viewer_client.get(url, {"q": scene["tag"], "per_page": 25, "page": 99})
    assert past.status_code == 200 and past.context["page"].number == 2
    assert 'id="past-last-page"' in past.content.decode()
    assert f"There is no page 99: {past.context['page'].paginator.count} groups make 2 pages; this is page 2." in (
        past.content.decode()
    )
    assert (
        'id="past-last-page"'
        not in viewer_client.get(url, {"q": scene["tag"], "page": 2, "per_page": 25}).content.decode()
    )


def test_a_page_past_the_end_but_within_the_range_is_an_empty_page_in_the_api(viewer_client, scene):
    groups = _api_groups(viewer_client, q=scene["tag"], page=MAX_PAGE, per_page=API_MAX_PER_PAGE)
    assert (groups["groups"], groups["total"], groups["page"]) == ([], NAMED + BULK, MAX_PAGE)
    status, topics = _api(
        viewer_client, reverse("api:api_topics", args=["local"]), q=scene["tag"], page=MAX_PAGE, per_page=1000
    )
    assert status == 200 and (topics["topics"], topics["total"]) == ([], 3)


def test_replay_checkpoint_groups_are_hidden_unless_asked_for_and_name_their_operation(viewer_client, scene):
    checkpoint, replay = scene["checkpoint"], scene["replay"]
    url = reverse("group_list", args=["local"])
    assert viewer_client.get(url, {"q": checkpoint}).context["total"] == 0
    shown = viewer_client.get(url, {"q": checkpoint, "checkpoints": 1})
    assert shown.context["total"] == 1
    row = re.search(rf'<tr data-group="{checkpoint}".*?</tr>', shown.content.decode(), re.S).group(0)
    assert "replay checkpoint" in row and f'href="{reverse("operation_page", args=[replay])}"' in row
    assert _api_groups(viewer_client, q=checkpoint)["total"] == 0
    assert _api_groups(viewer_client, q=checkpoint, checkpoints=1)["groups"][0]["replay_operation"] == replay

    topic_url = reverse("topic_page", args=["local", scene["narrow"]])
    hidden = viewer_client.get(topic_url)
    assert checkpoint not in [r.group_id for r in hidden.context["readers"]]
    assert "1 replay checkpoint group hidden" in hidden.content.decode()
    assert checkpoint in [r.group_id for r in viewer_client.get(topic_url, {"checkpoints": 1}).context["readers"]]


def test_the_topic_list_shows_every_topic_with_its_readers_and_lag(viewer_client, scene):
    response = viewer_client.get(reverse("topic_list", args=["local"]), {"q": scene["tag"], "sort": "-lag"})
    assert response.status_code == 200
    lines = {t.topic: t for t in response.context["lines"]}
    wide, narrow = lines[scene["wide"]], lines[scene["narrow"]]
    assert (wide.partitions, wide.messages, wide.groups, wide.lag) == (3, 60, 3, 90)
    # The replay checkpoint (60 behind) counts in none of the figures, as in every other list; the live group
    # never committed.
    assert (narrow.partitions, narrow.messages, narrow.groups) == (1, 100, BULK)
    assert narrow.lag == sum(50 - i for i in range(BULK))
    assert [t.topic for t in response.context["lines"]] == [scene["narrow"], scene["wide"], scene["odd"]]
    assert lines[scene["odd"]].lag == 0  # its one group committed 5 past the log end: nothing unread
    assert f'href="{reverse("topic_page", args=["local", scene["wide"]])}"' in response.content.decode()
    assert viewer_client.get(reverse("topic_list", args=["local"]), {"sort": "size"}).status_code == 400


def test_the_topic_page_shows_partitions_and_the_groups_reading_it(viewer_client, scene):
    g = scene["groups"]
    response = viewer_client.get(reverse("topic_page", args=["local", scene["wide"]]))
    assert response.status_code == 200
    assert [(p.partition, p.log_start, p.log_end, p.span) for p in response.context["partitions"]] == [
        (0, 0, 20, 20),
        (1, 0, 20, 20),
        (2, 0, 20, 20),
    ]
    assert all(p.newest_ms is not None for p in response.context["partitions"])
    readers = {r.group_id: (r.partitions, r.lag, r.state) for r in response.context["readers"]}
    assert readers == {g["big"]: (3, 60, "Empty"), g["mid"]: (3, 30, "Empty"), g["none"]: (3, 0, "Empty")}
    missing = viewer_client.get(reverse("topic_page", args=["local", f"{scene['tag']}-never"]))
    assert missing.status_code == 404 and "does not exist on this cluster" in missing.content.decode()


def test_the_overview_shows_brokers_version_counts_and_the_groups_furthest_behind(viewer_client, scene):
    response = viewer_client.get(reverse("cluster_overview", args=["local"]))
    assert response.status_code == 200
    body = response.content.decode()
    facts = response.context["facts"]
    port = int(scene["bootstrap"].rsplit(":", 1)[1])
    assert [(b["node_id"], b["port"]) for b in facts["brokers"]] == [(1, port)] and facts["controller_id"] == 1
    assert re.match(r"^\d+\.\d+( or later)?$", facts["version"])
    assert re.search(rf'<strong id="kafka-version"[^>]*>{re.escape(facts["version"])}</strong>', body)
    assert "controller</span>" in body
    counts = response.context["counts"]
    assert (
        counts.total
        == SnapshotGroup.objects.filter(
            snapshot=queries.latest_snapshot(scene["cluster"]).snapshot, replay_operation_id__isnull=True
        ).count()
    )
    # Unreadable groups get no status: they are counted apart.
    assert sum(n for _, n in response.context["by_status"]) + response.context["unjudged"] == counts.total
    assert counts.by_state["Stable"] >= 1 and counts.checkpoints >= 1
    # Group partitions count the same groups as Groups: the checkpoint's partition is left out of both.
    snapshot = queries.latest_snapshot(scene["cluster"]).snapshot
    counted = SnapshotGroup.objects.filter(snapshot=snapshot, replay_operation_id__isnull=True)
    partitions = sum(counted.values_list("partitions", flat=True))
    assert partitions < snapshot.partition_count
    assert re.search(rf'<strong id="overview-partition-count">{partitions:,}</strong>', body)
    assert re.search(r"Not counted in groups or group partitions: \d+ replay checkpoint group", body)
    assert f'href="{reverse("group_list", args=["local"])}?status=OK"' in body
    behind = list(response.context["behind"])
    assert 0 < len(behind) <= 10 and all(r.lag > 0 for r in behind)
    known = [r.lag_seconds for r in behind if r.lag_seconds is not None]
    assert known == sorted(known, reverse=True)


def test_the_api_lists_groups_with_the_snapshot_lag_seconds_and_status(viewer_client, scene):
    body = _api_groups(viewer_client, q=scene["tag"], sort="group")
    snapshot = body["snapshot"]
    assert set(snapshot) >= {"taken_at", "age_s", "duration_s", "stale"} and snapshot["stale"] is False
    assert snapshot["age_s"] >= 0 and snapshot["duration_s"] > 0
    assert body["total"] == NAMED + BULK
    big = {row["group"]: row for row in body["groups"]}[scene["groups"]["big"]]
    assert {
        "group",
        "state",
        "protocol_type",
        "members",
        "topics",
        "partitions",
        "lag",
        "lag_seconds",
        "status",
    } <= set(big)
    assert (big["lag"], big["partitions"], big["topics"], big["state"]) == (60, 3, [scene["wide"]], "Empty")
    assert big["status"] in ("NEW", "WARN", "ERR")


def test_a_member_host_in_the_api_has_no_leading_slash(viewer_client, scene):
    """Kafka reports a client's address as '/127.0.0.1' (Java's form); the API says '127.0.0.1', as the page does."""
    response = viewer_client.get(reverse("api:api_group", args=["local", scene["groups"]["live"]]))
    assert response.status_code == 200
    hosts = [m["host"] for m in response.json()["members"]]
    assert hosts == ["127.0.0.1"]


def test_the_group_page_adds_the_collectors_status_and_lag_seconds_to_its_live_figures(viewer_client, scene):
    group = scene["groups"]["big"]
    response = viewer_client.get(reverse("group_page", args=["local", group]))
    assert response.status_code == 200
    body = response.content.decode()
    row = response.context["row"]
    assert row.group_id == group and f'id="group-status">{row.status}</span>' in body
    assert 'id="group-lag-seconds"' in body and 'id="retention-margin"' in body
    pairs = response.context["rows"]
    assert [(live.partition, live.lag, seen.lag) for live, seen in pairs] == [(0, 20, 20), (1, 20, 20), (2, 20, 20)]
    assert body.count('class="partition-status"') == 3
    api = viewer_client.get(reverse("api:api_group", args=["local", group])).json()
    assert api["status"] == row.status
    assert all("status" in p and "lag_seconds" in p for p in api["partitions"])
    # The collector's figure comes with how it was told, as in the list API.
    assert (api["lag_seconds"], api["lag_seconds_method"], api["lag_seconds_doubtful"]) == (
        row.lag_seconds,
        row.lag_seconds_method or None,
        row.lag_seconds_doubtful,
    )
    observed = {p.partition: p for p in queries.partition_details(row)}
    assert [(p["lag_seconds_method"], p["lag_seconds_doubtful"]) for p in api["partitions"]] == [
        (observed[p["partition"]].lag_seconds_method or None, observed[p["partition"]].lag_seconds_doubtful)
        for p in api["partitions"]
    ]


def test_a_commit_past_the_log_end_is_a_status_of_its_own_with_the_reason(viewer_client, scene):
    response = viewer_client.get(reverse("group_page", args=["local", scene["groups"]["ahead"]]))
    body = response.content.decode()
    assert 'id="group-status">ERR</span>' in body
    reason = r'Committed offset 15 is past the log end 10[^"]*'
    assert re.search(rf'<span class="badge lag-status sev-bad" title="{reason}">AHEAD</span>', body)
    assert "past the log end" in re.search(r'id="status-reason">(.*?)</div>', body, re.S).group(1)


def test_the_status_box_says_how_many_more_partitions_it_does_not_list(viewer_client, scene):
    response = viewer_client.get(reverse("group_page", args=["local", f"{scene['many']}-g-ahead"]))
    found = re.search(r'id="status-reason">(.*?)</div>', response.content.decode(), re.S)
    assert found is not None
    box = found.group(1)
    assert "ERR: 12 partitions AHEAD." in box
    assert box.count("<li><span") == 10
    assert re.search(r'<li class="muted" id="more-causes">and 2 more: the partitions table shows', box)
    # A group whose every cause is listed says no more.
    ahead = viewer_client.get(reverse("group_page", args=["local", scene["groups"]["ahead"]])).content.decode()
    assert 'id="status-reason"' in ahead and 'id="more-causes"' not in ahead


def test_the_overviews_topic_count_is_what_its_link_lists(viewer_client, scene):
    overview = viewer_client.get(reverse("cluster_overview", args=["local"]))
    body = overview.content.decode()
    listed = viewer_client.get(reverse("topic_list", args=["local"]))
    everything = viewer_client.get(reverse("topic_list", args=["local"]), {"internal": 1})
    internal = everything.context["total"] - listed.context["total"]
    assert internal >= 1  # __consumer_offsets at least
    snapshot = queries.latest_snapshot(scene["cluster"]).snapshot
    assert snapshot is not None and everything.context["total"] == snapshot.topic_count
    link = f'<a href="{reverse("topic_list", args=["local"])}">{listed.context["total"]}</a>'
    assert f'<strong id="overview-topic-count">{link}</strong>' in body
    # Words, not a second link beside the count's: two small links side by side are too close to tap.
    assert re.search(rf'id="overview-internal-topics"[^>]*>and {internal} internal</small>', body)


def test_a_group_the_last_round_did_not_see_says_so(viewer_client, scene, unique):
    group = unique(f"{scene['tag']}-late")
    kt.commit(scene["bootstrap"], group, {(scene["wide"], 0): 1})
    body = viewer_client.get(reverse("group_page", args=["local", group])).content.decode()
    assert 'id="not-collected"' in body and "after the next round" in body


def test_a_cluster_never_collected_says_how_to_collect_rather_than_failing(viewer_client, scene):
    Cluster.objects.create(name="fresh", bootstrap_servers=f"127.0.0.1:{_dead_port()}")
    for name in ("group_list", "topic_list", "cluster_overview"):
        response = viewer_client.get(reverse(name, args=["fresh"]))
        body = response.content.decode()
        assert response.status_code == 200, name
        assert 'id="no-snapshot"' in body and "collect_lag --cluster fresh" in body and "collection" in body, name
    status, body = _api(viewer_client, reverse("api:api_groups", args=["fresh"]))
    assert status == 503 and body["code"] == "NO_SNAPSHOT" and "collect_lag --cluster fresh" in body["error"]
    assert _api(viewer_client, reverse("api:api_topics", args=["fresh"]))[0] == 503


def test_a_reader_of_some_groups_sees_only_those_in_lists_counts_and_topics(client, make_user, scene):
    tag, g = scene["tag"], scene["groups"]
    client.force_login(make_user("team", "Viewer", pattern=f"{tag}-g-b*"))
    listed = {row["group"] for row in _api_groups(client, per_page=1000)["groups"]}
    assert listed == {g["big"]} | {f"{tag}-g-bulk{i:02d}" for i in range(BULK)}
    overview = client.get(reverse("cluster_overview", args=["local"]))
    assert overview.context["counts"].total == len(listed)
    topics = client.get(reverse("topic_list", args=["local"]), {"q": tag})
    assert {t.topic: (t.groups, t.lag) for t in topics.context["lines"]} == {
        scene["wide"]: (1, 60),
        scene["narrow"]: (BULK, sum(50 - i for i in range(BULK))),
        scene["odd"]: (0, None),
    }
    assert "lag_seconds" not in [c.key for c in topics.context["columns"]]
    refused = client.get(reverse("topic_list", args=["local"]), {"sort": "-lag"})
    assert refused.status_code == 400 and "view right on every group" in refused.content.decode()
    readers = client.get(reverse("topic_page", args=["local", scene["wide"]])).context["readers"]
    assert [r.group_id for r in readers] == [g["big"]]


def test_each_row_of_the_list_has_its_last_hour_of_lag_as_a_sparkline(viewer_client, scene):
    g = scene["groups"]
    page = viewer_client.get(reverse("group_list", args=["local"]), {"q": scene["tag"], "per_page": 100})
    body = page.content.decode()
    assert "<th>Last hour</th>" in body
    rows = dict(re.findall(r'<tr data-group="([^"]+)" class="[^"]*">(.*?)</tr>', body, re.S))
    assert len(rows) == NAMED + BULK
    for group, lag in ((g["big"], "60"), (g["mid"], "30"), (g["none"], "0")):
        spark = re.search(r'<td class="spark"><svg [^>]*class="sparkline"[^>]*aria-label="([^"]+)"', rows[group])
        assert spark.group(1) == f"Lag of {group}, last hour: first {lag}, last {lag}, max {lag}"
    # The live group has never committed: no lag, so its line says there is no data.
    assert "last hour: no data" in rows[g["live"]]


def test_the_history_api_and_the_chart_range_refuse_what_they_cannot_answer(viewer_client, scene):
    group = scene["groups"]["big"]
    status, body = _api(viewer_client, reverse("api:api_group_history", args=["local", group]), since="P2M")
    assert status == 400 and "since must be an ISO 8601 duration" in body["error"]
    status, body = _api(viewer_client, reverse("api:api_group_history", args=["local", group]), since="PT1H")
    assert status == 200 and [p["lag"] for p in body["points"]] == [60] and body["operations"] == []
    page = viewer_client.get(reverse("group_page", args=["local", group]), {"range": "2h"})
    assert page.status_code == 400 and "use one of 1h, 6h, 24h, 7d, 30d" in page.content.decode()


def test_the_history_of_a_group_never_seen_is_a_404_like_the_groups_own(viewer_client, scene, unique):
    group = unique(f"{scene['tag']}-never")
    own = viewer_client.get(reverse("api:api_group", args=["local", group]))
    status, body = _api(viewer_client, reverse("api:api_group_history", args=["local", group]), since="PT1H")
    assert (own.status_code, status) == (404, 404)
    assert set(body) == set(own.json()) == {"error", "code"} and body["code"] == own.json()["code"]
    assert f"Group '{group}' is not in the latest snapshot of cluster 'local'" in body["error"]
    assert "check the group id" in body["error"]


def test_a_group_deleted_between_rounds_keeps_its_history_readable(viewer_client, scene, unique, settings):
    settings.REDIS_URL = scene["redis"]
    group = unique(f"{scene['tag']}-deleted")
    kt.commit(scene["bootstrap"], group, {(scene["wide"], 0): 5})
    assert collect(scene["cluster"]).outcome == COLLECTED
    kt.admin(scene["bootstrap"]).delete_consumer_groups([group])[group].result(timeout=30)
    assert collect(scene["cluster"]).outcome == COLLECTED
    assert queries.served_group(scene["cluster"], group)[1] is None  # gone from the snapshot
    assert viewer_client.get(reverse("api:api_group", args=["local", group])).status_code == 404

    status, body = _api(viewer_client, reverse("api:api_group_history", args=["local", group]), since="PT1H")
    assert status == 200 and [p["lag"] for p in body["points"]] == [15]
