"""Which topics of a streams group are its application's internal topics, as kafka-streams-groups'
--delete-all-internal-topics picks them: the name rule, and the topology topics left alone with a reason."""

from __future__ import annotations

from types import SimpleNamespace

import pytest
from django.template.loader import render_to_string

from groups.planning.streams_topics import TopologyTopics, changed_since, is_internal_topic_name, plan_internal_topics


@pytest.mark.parametrize(
    ("topic", "internal"),
    [
        ("app-words-repartition", True),
        ("app-word-counts-changelog", True),
        ("app-KTABLE-FK-JOIN-SUBSCRIPTION-REGISTRATION-0000000006-topic", True),
        ("app-KTABLE-FK-JOIN-SUBSCRIPTION-RESPONSE-0000000012-topic", True),
        ("app-orders-subscription-registration-topic", True),
        ("app-orders-subscription-response-topic", True),
        # Another application's, or a prefix of this one's id that is not followed by "-".
        ("other-words-repartition", False),
        ("apple-words-repartition", False),
        ("app-changelog-archive", False),
        ("app-KTABLE-FK-JOIN-SUBSCRIPTION-REGISTRATION-x-topic", False),
        ("app-KTABLE-FK-JOIN-SUBSCRIPTION-REGISTRATION-0006-topics", False),
        ("words-repartition", False),
        # The id "app" followed by "-" and nothing before the ending is not a name Kafka Streams makes either way.
        ("app--repartition", True),
    ],
)
def test_a_topic_is_internal_only_when_named_after_the_application_with_an_internal_ending(topic, internal):
    assert is_internal_topic_name("app", topic) is internal


def test_an_application_id_with_regex_characters_is_taken_literally():
    assert is_internal_topic_name("a.b", "a.b-store-changelog")
    assert not is_internal_topic_name("a.b", "axb-store-changelog")


def test_the_plan_deletes_named_internal_topics_on_the_cluster_and_says_why_it_keeps_the_others():
    topology = TopologyTopics(
        source=frozenset({"lines", "app-shared-changelog"}),
        repartition=frozenset({"app-words-repartition", "shared-rekeyed"}),
        changelog=frozenset({"app-counts-changelog", "app-shared-changelog", "app-gone-changelog"}),
    )
    counts = {"app-words-repartition": 2, "app-counts-changelog": 2, "app-shared-changelog": 1, "shared-rekeyed": 4}
    plan = plan_internal_topics("app", topology, counts)
    assert plan.rows() == [
        {"topic": "app-counts-changelog", "partitions": 2, "role": "changelog"},
        {"topic": "app-words-repartition", "partitions": 2, "role": "repartition"},
    ]
    kept = {topic.name: topic.why for topic in plan.kept}
    assert set(kept) == {"app-shared-changelog", "shared-rekeyed", "app-gone-changelog"}
    assert "also reads it as a source topic" in kept["app-shared-changelog"]
    assert "would not delete it either" in kept["shared-rekeyed"]
    assert "not on the cluster" in kept["app-gone-changelog"]


def test_a_change_of_the_topics_since_the_request_is_told_and_an_equal_list_is_not():
    topology = TopologyTopics(frozenset({"in"}), frozenset({"app-a-repartition"}), frozenset({"app-b-changelog"}))
    now = plan_internal_topics("app", topology, {"app-a-repartition": 3, "app-b-changelog": 2})
    assert changed_since(now.rows(), now) is None
    requested = [{"topic": "app-a-repartition", "partitions": 2}, {"topic": "app-old-changelog", "partitions": 1}]
    told = changed_since(requested, now)
    assert told is not None
    assert "no longer internal topics to delete: app-old-changelog" in told
    assert "new internal topics: app-b-changelog" in told
    assert "partition count changed: app-a-repartition" in told


def test_an_operation_shows_which_internal_topics_went_and_why_the_others_did_not():
    operation = SimpleNamespace(
        is_final=True,
        is_awaiting_approval=False,
        internal_topics=[
            {"topic": "app-a-repartition", "partitions": 2, "role": "repartition", "deleted": True, "error": ""},
            {"topic": "app-b-changelog", "partitions": 2, "role": "changelog", "deleted": False, "error": "no ACL"},
        ],
    )
    body = render_to_string("groups/_internal_topics_outcome.html", {"operation": operation})
    assert '<td class="topic-outcome">deleted</td>' in body
    assert "<strong>not deleted</strong>: no ACL" in body
