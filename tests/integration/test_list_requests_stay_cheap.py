"""The group list and its API answer each request from the served snapshot at a fixed cost: a few
queries, no writes, the rows read and drawn once per snapshot (groups.snapshot.memo); and a new
round, or another reader's rights, shows at once."""

from __future__ import annotations

import re

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from groups.models import ApiToken
from groups.snapshot.collector import COLLECTED, collect
from tests import kafkatools as kt

pytestmark = [pytest.mark.integration, pytest.mark.django_db]

# Session, user, cluster, grants, served snapshot (a token instead of the first two in the API); a page
# also reads the reader's time preference and the clusters of the header's switcher.
MOST_QUERIES = 7


@pytest.fixture
def lagging(kafka_bootstrap, cluster, unique, use_test_redis):
    """Two groups on one topic, 40 and 10 behind, collected once."""
    topic = unique("cheap")
    kt.create_topic(kafka_bootstrap, topic, 1)
    kt.produce(kafka_bootstrap, topic, {0: 50})
    groups = {"far": f"{topic}-far", "near": f"{topic}-near"}
    kt.commit_many(kafka_bootstrap, {groups["far"]: {(topic, 0): 10}, groups["near"]: {(topic, 0): 40}})
    report = collect(cluster)
    assert report.outcome == COLLECTED, report.describe()
    return {"topic": topic, "groups": groups, "cluster": cluster, "bootstrap": kafka_bootstrap}


def _writes(queries) -> list[str]:
    return [q["sql"] for q in queries if re.match(r"\s*(INSERT|UPDATE|DELETE)", q["sql"], re.IGNORECASE)]


def _lags_on_page(client, topic: str, **headers) -> dict[str, str]:
    response = client.get(reverse("group_list", args=["local"]), {"q": topic}, **headers)
    assert response.status_code == 200
    cells = re.findall(
        r'<tr data-group="([^"]+)".*?<td class="num lag[^"]*">([^<]+)</td>', response.content.decode(), re.S
    )
    return dict(cells)


def _lags_in_api(client, topic: str, **headers) -> dict[str, int]:
    response = client.get(reverse("api:api_groups", args=["local"]), {"q": topic}, **headers)
    assert response.status_code == 200, response.content
    return {row["group"]: row["lag"] for row in response.json()["groups"]}


def test_a_repeated_request_makes_a_few_queries_and_writes_nothing(client, make_user, lagging):
    user = make_user("reader", "Viewer")
    client.force_login(user)
    token = {"HTTP_AUTHORIZATION": f"Token {ApiToken.issue(user)}"}
    page = reverse("group_list", args=["local"]) + f"?q={lagging['topic']}"
    api = reverse("api:api_groups", args=["local"]) + f"?q={lagging['topic']}"
    for url, headers in ((page, {}), (page, {"HTTP_HX_REQUEST": "true"}), (api, token)):
        assert client.get(url, **headers).status_code == 200
        with CaptureQueriesContext(connection) as again:
            assert client.get(url, **headers).status_code == 200
        assert len(again.captured_queries) <= MOST_QUERIES, [q["sql"] for q in again.captured_queries]
        assert _writes(again.captured_queries) == [], url
    assert ApiToken.objects.get(user=user).last_used is not None  # noted once, on the first use


def test_a_new_round_shows_on_the_list_and_in_the_api_at_once(viewer_client, lagging):
    topic, g = lagging["topic"], lagging["groups"]
    assert _lags_on_page(viewer_client, topic) == {g["far"]: "40", g["near"]: "10"}
    assert _lags_on_page(viewer_client, topic, HTTP_HX_REQUEST="true") == {g["far"]: "40", g["near"]: "10"}
    assert _lags_in_api(viewer_client, topic) == {g["far"]: 40, g["near"]: 10}

    kt.commit(lagging["bootstrap"], g["far"], {(topic, 0): 45})
    assert collect(lagging["cluster"]).outcome == COLLECTED
    assert _lags_on_page(viewer_client, topic) == {g["near"]: "10", g["far"]: "5"}
    assert _lags_on_page(viewer_client, topic, HTTP_HX_REQUEST="true") == {g["near"]: "10", g["far"]: "5"}
    assert _lags_in_api(viewer_client, topic) == {g["far"]: 5, g["near"]: 10}


def test_a_reader_of_some_groups_never_gets_the_page_kept_for_a_reader_of_all(client, make_user, lagging):
    topic, g = lagging["topic"], lagging["groups"]
    everyone = make_user("everyone", "Viewer")
    client.force_login(everyone)
    assert set(_lags_on_page(client, topic)) == set(g.values())
    assert set(_lags_in_api(client, topic)) == set(g.values())

    some = make_user("some", "Viewer", pattern=g["near"])
    client.force_login(some)
    assert set(_lags_on_page(client, topic)) == {g["near"]}
    assert set(_lags_in_api(client, topic)) == {g["near"]}
