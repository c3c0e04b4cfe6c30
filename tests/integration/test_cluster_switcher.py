"""The header's cluster switcher: only the clusters the user may see, each link keeping the page in view."""

import re

import pytest
from django.test import Client
from django.urls import reverse

from groups.models import Cluster, Grant

pytestmark = pytest.mark.django_db


def _switcher(body: str) -> tuple[str, list[tuple[str, str, bool]]]:
    """The switcher's summary text and its links as (name, href, current)."""
    found = re.search(r'<details class="cluster-switcher" id="cluster-switcher">(.*?)</details>', body, re.S)
    assert found, "no cluster switcher on the page"
    summary = re.sub(r"<[^>]+>", "", re.search(r"<summary>(.*?)</summary>", found.group(1), re.S).group(1))
    links = re.findall(r'<a href="([^"]+)"( aria-current="page")?>([^<]+)</a>', found.group(1))
    return " ".join(summary.split()), [(name, href, bool(current)) for href, current, name in links]


def _client_for(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def test_the_switcher_lists_only_the_clusters_the_user_may_see_and_keeps_the_page(make_user):
    blue = Cluster.objects.create(name="blue", bootstrap_servers="127.0.0.1:1")
    green = Cluster.objects.create(name="green", bootstrap_servers="127.0.0.1:1")
    Cluster.objects.create(name="red", bootstrap_servers="127.0.0.1:1")
    user = make_user("two-clusters", "Viewer", cluster=blue)
    Grant.objects.create(user=user, role="Viewer", cluster=green, group_pattern="*")
    client = _client_for(user)

    # Off a cluster's pages: each cluster's overview, none current.
    summary, links = _switcher(client.get(reverse("cluster_list")).content.decode())
    assert summary == "Clusters"
    assert links == [
        ("blue", reverse("cluster_overview", args=["blue"]), False),
        ("green", reverse("cluster_overview", args=["green"]), False),
    ]

    # On a cluster's list: the same list on the other cluster, this one marked current.
    summary, links = _switcher(client.get(reverse("topic_list", args=["blue"])).content.decode())
    assert summary == "Cluster blue"
    assert links == [
        ("blue", reverse("topic_list", args=["blue"]), True),
        ("green", reverse("topic_list", args=["green"]), False),
    ]


def test_a_user_who_may_see_no_cluster_gets_no_switcher(make_user):
    Cluster.objects.create(name="blue", bootstrap_servers="127.0.0.1:1")
    body = _client_for(make_user("nobody")).get(reverse("cluster_list")).content.decode()
    assert 'id="cluster-switcher"' not in body and 'id="signed-in-as"' in body
