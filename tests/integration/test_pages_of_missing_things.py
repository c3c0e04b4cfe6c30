"""Pages of a group or topic that does not exist offer no actions, and the actions answer in words if called."""

import html

import pytest
from django.urls import reverse

from groups.models import AuditEvent, Operation
from groups.snapshot.collector import COLLECTED, collect
from tests import kafkatools as kt

pytestmark = [
    pytest.mark.integration,
    pytest.mark.engine_neutral("the answer to unknown clusters, groups and topics"),
]


@pytest.fixture
def admin(client, make_user):
    """An Admin may reset, delete and replay: whatever is not offered is withheld for the missing thing."""
    client.force_login(make_user("admin", "Admin"))
    return client


@pytest.fixture
def topic_and_group(kafka_bootstrap, unique):
    topic, group = unique("missing-things"), unique("missing-things-group")
    kt.create_topic(kafka_bootstrap, topic, 1)
    kt.produce(kafka_bootstrap, topic, {0: 10})
    kt.commit(kafka_bootstrap, group, {(topic, 0): 4})
    return topic, group


def _text(response) -> str:
    return html.unescape(response.content.decode())


def test_the_page_of_a_group_that_does_not_exist_offers_no_reset_and_no_delete(admin, cluster, unique, topic_and_group):
    _, existing = topic_and_group
    missing = unique("deleted-group")
    shown = admin.get(reverse("group_page", args=["local", existing])).content.decode()
    assert f'href="{reverse("reset_form", args=["local", existing])}"' in shown
    assert f'href="{reverse("delete_group", args=["local", existing])}"' in shown

    response = admin.get(reverse("group_page", args=["local", missing]))
    assert response.status_code == 404
    body = _text(response)
    assert f"Consumer group '{missing}' does not exist" in body
    assert reverse("reset_form", args=["local", missing]) not in body
    assert reverse("delete_group", args=["local", missing]) not in body
    assert 'id="no-actions"' in body


def test_the_page_of_a_share_group_that_does_not_exist_offers_no_reset_and_no_delete(admin, cluster, unique):
    missing = unique("no-share-group")
    response = admin.get(reverse("share_group_page", args=["local", missing]))
    assert response.status_code == 404
    body = _text(response)
    assert reverse("share_reset_form", args=["local", missing]) not in body
    assert reverse("share_group_delete", args=["local", missing]) not in body
    assert "Nothing to reset or delete: local has no share group by this id." in body


def test_the_page_of_a_streams_group_that_does_not_exist_offers_no_reset_and_no_delete(admin, cluster, unique):
    missing = unique("no-streams-group")
    response = admin.get(reverse("streams_group_page", args=["local", missing]))
    assert response.status_code == 404
    body = _text(response)
    for action in ("reset_form", "delete_offsets", "delete_group"):
        assert reverse(action, args=["local", missing]) not in body, action
    assert "Nothing to reset or delete: local has no streams group by this id." in body


def test_a_consumer_group_opened_as_a_streams_group_links_to_its_own_page(
    admin, cluster, topic_and_group, use_test_redis
):
    _, group = topic_and_group
    assert collect(cluster).outcome == COLLECTED
    response = admin.get(reverse("streams_group_page", args=["local", group]))
    assert response.status_code == 404
    body = _text(response)
    assert "Nothing to reset or delete" in body
    assert f'href="{reverse("group_page", args=["local", group])}">open its page</a>' in body


def test_a_consumer_group_opened_as_a_share_group_links_to_its_own_page(
    admin, cluster, topic_and_group, use_test_redis
):
    _, group = topic_and_group
    report = collect(cluster)
    assert report.outcome == COLLECTED, report.describe()
    response = admin.get(reverse("share_group_page", args=["local", group]))
    assert response.status_code == 404
    body = _text(response)
    assert "is not a share group" in body
    assert f"The last collection round saw {group} as a consumer group" in body or (
        f"The last collection round saw {group} as a classic group" in body
    )
    assert f'href="{reverse("group_page", args=["local", group])}">open its page</a>' in body

    form = admin.get(reverse("share_reset_form", args=["local", group]))
    assert form.status_code == 404
    body = _text(form)
    assert f"Group '{group}' exists on this cluster but is not a share group" in body
    assert 'id="reset-form"' not in body and "Nothing was changed." in body
    assert f"<h1>No share group {group}</h1>" in body and "Recent operations" not in body
    assert f'href="{reverse("group_page", args=["local", group])}">open its page</a>' in body
    assert f'href="{reverse("reset_form", args=["local", group])}">reset its committed offsets</a>' in body


def test_the_page_of_a_topic_that_does_not_exist_offers_no_replay(
    admin, cluster, unique, topic_and_group, use_test_redis
):
    existing, _ = topic_and_group
    missing = unique("deleted-topic")
    # The topic page reads the collector's snapshot: only a round that did not see the topic proves it missing.
    report = collect(cluster)
    assert report.outcome == COLLECTED, report.describe()
    shown = admin.get(reverse("topic_page", args=["local", existing])).content.decode()
    assert reverse("replay_action", args=["local", existing]) in shown

    response = admin.get(reverse("topic_page", args=["local", missing]))
    assert response.status_code == 404
    body = _text(response)
    assert f"Topic '{missing}' does not exist" in body
    assert reverse("replay_action", args=["local", missing]) not in body
    assert reverse("replay_form", args=["local", missing]) not in body


def test_deleting_a_group_that_does_not_exist_is_refused_in_words_and_requests_nothing(admin, cluster, unique):
    missing = unique("deleted-group")
    url = reverse("delete_group", args=["local", missing])
    for response in (admin.get(url), admin.post(url, {"reason": "tidy up"})):
        assert response.status_code == 404
        body = _text(response)
        assert f"Consumer group '{missing}' does not exist on cluster 'local': there is nothing to delete." in body
        assert 'id="delete-form"' not in body
    assert not Operation.objects.exists() and not AuditEvent.objects.exists()


def test_a_reset_of_a_group_that_does_not_exist_says_so(admin, cluster, unique, topic_and_group):
    topic, _ = topic_and_group
    missing = unique("new-group")
    url = reverse("reset_preview", args=["local", missing])
    everything = admin.post(url, {"strategy": "to-earliest", "scope_mode": "all"})
    assert everything.status_code == 200
    body = _text(everything)
    assert f"Consumer group '{missing}' does not exist on this cluster, so it has no offsets to reset" in body
    assert 'name="token"' not in body

    # Giving a new group its first offsets is what kafka-consumer-groups does too; the preview says it creates it.
    named = _text(admin.post(url, {"strategy": "to-earliest", "scope_mode": "topics", "scope": topic}))
    assert f"Consumer group '{missing}' does not exist on this cluster yet: applying this plan creates it" in named
    assert 'name="token"' in named


def test_replaying_from_a_topic_that_does_not_exist_is_refused_in_words(admin, cluster, unique, topic_and_group):
    target, _ = topic_and_group
    missing = unique("deleted-topic")
    form = admin.get(reverse("replay_form", args=["local", missing]))
    assert form.status_code == 404 and f"Topic '{missing}' does not exist" in _text(form)
    preview = admin.post(
        reverse("replay_preview", args=["local", missing]),
        {
            "partitions_mode": "all",
            "range_mode": "offsets",
            "offsets": "0-5",
            "key_filter": "none",
            "header_filter": "none",
            "target_topic": target,
            "partitioning": "same",
            "timestamps": "keep",
        },
    )
    assert preview.status_code == 400 and f"Topic '{missing}' does not exist" in _text(preview)
    assert not Operation.objects.exists()


def test_a_share_group_is_refused_a_consumer_groups_reset_and_deletions_in_words(
    admin, cluster, unique, kafka_bootstrap, use_test_redis
):
    # Kafka's DescribeGroups calls a share group a Dead classic one: the review's reset "created" it and failed.
    topic, group = unique("share-as-consumer"), unique("share-as-consumer-group")
    kt.create_topic(kafka_bootstrap, topic, 1)
    member = kt.ShareMember(kafka_bootstrap, group, [topic])
    try:
        said = f"Group '{group}' is a share group, not a consumer group"
        kt.wait_for(
            lambda: (
                said
                in _text(
                    admin.post(
                        reverse("reset_preview", args=["local", group]),
                        {"strategy": "to-earliest", "scope_mode": "topics", "scope": topic},
                    )
                )
            ),
            what="the share group to be known to its coordinator",
        )
        copy = _text(
            admin.post(
                reverse("reset_preview", args=["local", unique("copier")]),
                {"strategy": "from-group", "value": group, "scope_mode": "all"},
            )
        )
        assert f"Group '{group}' is a share group: its share-partitions have start offsets" in copy
        preview = _text(
            admin.post(
                reverse("reset_preview", args=["local", group]),
                {"strategy": "to-earliest", "scope_mode": "topics", "scope": topic},
            )
        )
        assert "Reset or delete it from its share-group page." in preview and 'name="token"' not in preview
        assert "applying this plan creates it" not in preview
        api = admin.post(
            reverse("api:api_reset_preview", args=["local", group]),
            {"strategy": "to-earliest", "scope": topic},
            content_type="application/json",
        )
        assert api.status_code == 404 and said in api.json()["error"]
        for name in ("delete_group", "delete_offsets_preview"):
            response = admin.post(reverse(name, args=["local", group]), {"reason": "tidy", "topics": topic})
            assert response.status_code == 404 and said in _text(response), name
        share_link = f'<a href="{reverse("share_reset_form", args=["local", group])}" id="go-instead">'
        # No round has seen it yet: the consumer reset form asks Kafka, as its preview does, and does not open.
        form = admin.get(reverse("reset_form", args=["local", group]))
        assert form.status_code == 404 and f"Group '{group}' is a share group, as Kafka describes it now" in _text(form)
        assert share_link in _text(form) and 'name="strategy"' not in _text(form)
        # Once a round has seen it, the round's type answers.
        assert collect(cluster).outcome == COLLECTED
        form = admin.get(reverse("reset_form", args=["local", group]))
        assert form.status_code == 404 and "is a share group, as the last collection round saw it" in _text(form)
        assert share_link in _text(form)
    finally:
        member.stop()
    assert not Operation.objects.exists()


def test_an_undo_link_naming_no_reset_of_the_group_answers_in_words(admin, cluster, topic_and_group):
    _, group = topic_and_group
    elsewhere = Operation.objects.create(kind=Operation.Kind.RESET, cluster=cluster, group_id="another", plan=[])
    for name in ("reset_form", "share_reset_form"):
        for value in ("abc", str(elsewhere.pk), "٣", "9" * 40):
            response = admin.get(reverse(name, args=["local", group]), {"undo": value})
            assert response.status_code == 404, (name, value)
            assert f"'{value}' names no reset of group '{group}' on cluster 'local' to undo" in _text(response)
