"""The replay pages and `manage.py replay`, driven through the Django test client and the command against the
real broker (and a real worker where a replay runs)."""

from __future__ import annotations

import html
import json
import os
import re
import subprocess
import sys
import time
from io import StringIO
from pathlib import Path

import pytest
from confluent_kafka import Consumer, Producer, TopicPartition
from django.core import signing
from django.core.management import CommandError, call_command
from django.test import Client
from django.urls import reverse

from groups.models import AuditEvent, Operation
from tests import kafkatools as kt
from tests.databases import shared_database_url

pytestmark = pytest.mark.integration

BASE_DIR = Path(__file__).resolve().parents[2]

# The source's records: partition 0 holds offsets 0-9, partition 1 offsets 0-5.
START_MS = 1_700_000_000_000  # 2023-11-14T22:13:20Z
SECOND = 1000


@pytest.fixture(autouse=True)
def operator(client, make_user):
    """These pages are used by an Operator of every cluster, unless a test signs in someone else."""
    user = make_user("operator", "Operator")
    client.force_login(user)
    return user


def _produce(bootstrap: str, topic: str, records: list[dict]) -> None:
    producer = Producer({"bootstrap.servers": bootstrap, "linger.ms": 5})
    for record in records:
        producer.produce(
            topic,
            partition=record["partition"],
            key=record.get("key"),
            value=record.get("value"),
            headers=record.get("headers"),
            timestamp=record.get("timestamp", 0),
        )
    assert producer.flush(30) == 0


def _source_records() -> list[dict]:
    """Partition 0: ten records a second apart, keys user-0..user-9, JSON values, every other one with a header.
    Partition 1: six records, the first a binary value, keys order-0..order-5."""
    records = [
        {
            "partition": 0,
            "key": f"user-{i}",
            "value": json.dumps({"n": i, "text": "é" * 3}).encode(),
            "headers": [("source", b"billing")] if i % 2 == 0 else [("source", b"shop")],
            "timestamp": START_MS + i * SECOND,
        }
        for i in range(10)
    ]
    records += [
        {
            "partition": 1,
            "key": f"order-{i}",
            "value": b"\x00\xff\x10" if i == 0 else f"plain {i}".encode(),
            "timestamp": START_MS + i * SECOND,
        }
        for i in range(6)
    ]
    return records


@pytest.fixture
def topics(kafka_bootstrap, unique):
    """A source with records and an empty two-partition target, both keeping their records forever (the
    records carry 2023 timestamps, which a time-based retention would delete at its next pass); (source, target)."""
    source, target = unique("replay-src"), unique("replay-dst")
    kt.create_topic(kafka_bootstrap, source, 2, config={"retention.ms": "-1"})
    kt.create_topic(kafka_bootstrap, target, 2, config={"retention.ms": "-1"})
    _produce(kafka_bootstrap, source, _source_records())
    return source, target


def _read(bootstrap: str, topic: str) -> list[tuple]:
    """Every committed record of `topic` as (partition, key, value, headers, timestamp)."""
    return [(p, *record[1:]) for p, records in kt.read_records(bootstrap, topic).items() for record in records]


def _ends(bootstrap: str, topic: str) -> dict[int, int]:
    consumer = Consumer({"bootstrap.servers": bootstrap, "group.id": "replay-test-ends"})
    try:
        partitions = consumer.list_topics(topic, timeout=10).topics[topic].partitions
        return {p: consumer.get_watermark_offsets(TopicPartition(topic, p), timeout=10)[1] for p in partitions}
    finally:
        consumer.close()


def _form_data(target: str, **changes) -> dict:
    data = {
        "partitions_mode": "all",
        "partitions": "",
        "range_mode": "offsets",
        "offsets": "0:2-7, 1:0-3",
        "time_from": "",
        "time_to": "",
        "key_filter": "none",
        "key": "",
        "header_filter": "none",
        "header_name": "",
        "header_value": "",
        "target_topic": target,
        "partitioning": "same",
        "timestamps": "keep",
        "throttle": "",
    }
    return {**data, **changes}


def _preview(client: Client, source: str, target: str, *, htmx: bool = False, **changes):
    headers = {"HTTP_HX_REQUEST": "true"} if htmx else {}
    return client.post(reverse("replay_preview", args=["local", source]), _form_data(target, **changes), **headers)


def _token(response) -> str:
    match = re.search(r'name="token" value="([^"]+)"', response.content.decode())
    assert match, "the page offers no confirm form"
    return match.group(1)


def _confirm(client: Client, source: str, token: str, reason: str = "rebuild the search index"):
    return client.post(reverse("replay_confirm", args=["local", source]), {"token": token, "reason": reason})


def _range_row(body: str, partition: int) -> tuple[str, str, str]:
    match = re.search(
        rf'<tr data-partition="{partition}">.*?<td class="num start">(\d+)</td>'
        r'<td class="num end">(\d+)</td><td class="num count">(\d+)</td>',
        body,
        re.S,
    )
    assert match, f"no range row for partition {partition}"
    return match.groups()


def _sample_row(body: str, partition: int, offset: int) -> str:
    match = re.search(rf'<tr data-record="{partition}-{offset}">(.*?)</tr>', body, re.S)
    assert match, f"no sample row for {partition}-{offset}"
    return match.group(1)


def _status_area(client: Client, operation: Operation) -> str:
    return client.get(reverse("operation_page", args=[operation.pk]), HTTP_HX_REQUEST="true").content.decode()


def _final_status_area(client: Client, operation: Operation, timeout: float = 60) -> str:
    """Poll the status area as htmx does until it stops asking to be polled."""

    def final():
        body = _status_area(client, operation)
        return None if "hx-trigger=" in body else body

    return kt.wait_for(final, timeout=timeout, interval=0.5, what=f"operation #{operation.pk} to finish")


def test_the_form_offers_partitions_ranges_filters_the_cluster_s_topics_as_targets_and_a_throttle(
    client, cluster, topics
):
    source, target = topics
    response = client.get(reverse("replay_form", args=["local", source]))
    assert response.status_code == 200
    body = response.content.decode()
    assert f'<option value="{target}">{target}</option>' in body and f'<option value="{source}">' in body
    assert "__consumer_offsets" not in body
    for name, value in [
        ("partitions_mode", "some"),
        ("range_mode", "offsets"),
        ("range_mode", "time"),
        ("partitioning", "same"),
        ("partitioning", "key-hash"),
        ("timestamps", "now"),
    ]:
        assert re.search(rf'name="{name}" value="{value}"', body), (name, value)
    for field in ("partitions", "offsets", "time_from", "time_to", "key", "header_name", "header_value", "throttle"):
        assert f'name="{field}"' in body, field
    assert f'hx-post="{reverse("replay_preview", args=["local", source])}"' in body


def test_a_viewer_cannot_open_the_replay_form_and_the_denial_is_recorded(client, cluster, topics, make_user):
    source, _ = topics
    client.force_login(make_user("viewer", "Viewer"))
    response = client.get(reverse("replay_form", args=["local", source]))
    assert response.status_code == 403
    message = "You may not replay records on cluster 'local': ask an admin for the Operator role on it."
    assert html.escape(message) in response.content.decode()
    assert AuditEvent.objects.filter(action="denied", actor="viewer", error=message).count() == 1


def test_the_topic_page_offers_replaying_only_to_who_may_replay(client, cluster, topics, make_user):
    source, _ = topics
    page = client.get(reverse("topic_page", args=["local", source])).content.decode()
    action_url = reverse("replay_action", args=["local", source])
    assert f'hx-get="{action_url}" hx-trigger="load"' in page

    offered = client.get(action_url, HTTP_HX_REQUEST="true").content.decode()
    assert f'id="replay-link" href="{reverse("replay_form", args=["local", source])}"' in offered
    assert 'id="replay-unavailable"' not in offered

    client.force_login(make_user("viewer", "Viewer"))
    refused = client.get(action_url, HTTP_HX_REQUEST="true")
    assert refused.status_code == 200
    body = refused.content.decode()
    assert 'id="replay-link"' not in body
    assert "You may not replay records on cluster &#x27;local&#x27;: ask an admin for the Operator role" in body
    assert not AuditEvent.objects.filter(action="denied").exists()


def test_a_preview_shows_ranges_the_total_a_sample_and_the_target_and_writes_nothing(
    client, cluster, topics, kafka_bootstrap
):
    source, target = topics
    response = _preview(client, source, target, offsets="0:2-7, 1:0-3")
    assert response.status_code == 200
    body = response.content.decode()
    assert _range_row(body, 0) == ("2", "7", "5") and _range_row(body, 1) == ("0", "3", "3")
    assert '<td class="num" id="total">8</td>' in body

    json_row = _sample_row(body, 0, 2)
    assert "user-2" in json_row and "2023-11-14 22:13:22.000" in json_row
    assert "source: billing" in json_row and ">json<" in json_row
    binary_row = _sample_row(body, 1, 0)
    assert "order-0" in binary_row and ">hex<" in binary_row and "00ff10" in binary_row.replace(" ", "").lower()
    assert ">utf-8<" in _sample_row(body, 1, 1) and "plain 1" in _sample_row(body, 1, 1)
    assert 'id="target-partitions">2' in body and 'id="target-timestamp-type">CreateTime' in body
    assert 'id="confirm-form"' in body and "Replay these records" in body

    assert _ends(kafka_bootstrap, target) == {0: 0, 1: 0}
    assert not Operation.objects.exists() and not AuditEvent.objects.exists()


def test_with_htmx_the_preview_and_its_errors_come_back_as_the_fragment_alone(client, cluster, topics):
    source, target = topics
    preview = _preview(client, source, target, htmx=True)
    assert preview.status_code == 200
    body = preview.content.decode()
    assert body.lstrip().startswith('<div id="preview">') and "<html" not in body and 'id="ranges"' in body
    error = _preview(client, source, target, offsets="7-2", htmx=True)
    assert error.status_code == 200
    assert error.content.decode().lstrip().startswith('<div id="preview">')
    assert "is reversed" in error.content.decode()


def test_a_single_range_applies_to_every_chosen_partition(client, cluster, topics):
    source, target = topics
    body = _preview(client, source, target, offsets="1-4").content.decode()
    assert _range_row(body, 0) == ("1", "4", "3") and _range_row(body, 1) == ("1", "4", "3")
    only_one = _preview(client, source, target, offsets="1-4", partitions_mode="some", partitions="1")
    assert 'data-partition="0"' not in only_one.content.decode()
    assert _range_row(only_one.content.decode(), 1) == ("1", "4", "3")


def test_a_time_window_is_turned_into_offsets_and_utc_is_assumed_without_a_zone(client, cluster, topics):
    source, target = topics
    # [22:13:23, 22:13:26) holds offsets 3, 4, 5 of both partitions.
    response = _preview(
        client,
        source,
        target,
        range_mode="time",
        offsets="",
        time_from="2023-11-14T22:13:23",
        time_to="2023-11-14T23:13:26+01:00",
    )
    assert response.status_code == 200
    body = response.content.decode()
    assert _range_row(body, 0) == ("3", "6", "3") and _range_row(body, 1) == ("3", "6", "3")
    assert 'id="zone-assumed"' in body
    with_zones = _preview(
        client,
        source,
        target,
        range_mode="time",
        offsets="",
        time_from="2023-11-14T22:13:23Z",
        time_to="2023-11-14T22:13:26Z",
    )
    assert 'id="zone-assumed"' not in with_zones.content.decode()


@pytest.mark.parametrize(
    "changes, message",
    [
        ({"offsets": "0:7-2"}, "The range 7-2 of partition 0 is reversed"),
        ({"offsets": "3-3"}, "The range 3-3 of partition 0 is empty"),
        ({"throttle": "fast"}, "The throttle is a whole number of records per second"),
        (
            {"range_mode": "time", "time_from": "2023-11-14T22:13:26", "time_to": "2023-11-14T22:13:23"},
            "is reversed: the start must come before the end",
        ),
        ({"offsets": "0:0-5, 7:0-1"}, "has 2 partitions (0 to 1): partition 7 does not exist"),
        ({"partitions_mode": "some", "partitions": "0,x"}, "'x' is not one"),
        ({"target_topic": "{source}"}, "would overlap its own copies"),
        ({"offsets": "0:100-200"}, "outside the logs"),
        ({"key_filter": "regex", "key": "user-(\\d+"}, "does not compile"),
        ({"throttle": "0"}, "The throttle must be at least 1 record per second"),
        ({"throttle": "-5"}, "The throttle must be at least 1 record per second"),
        ({"target_topic": "{unknown}"}, "{unknown}"),
        ({"offsets": "0:a-b"}, "Cannot read the offsets"),
    ],
)
def test_bad_input_is_a_400_with_the_reason_and_nothing_is_started(
    client, cluster, topics, unique, kafka_bootstrap, changes, message
):
    source, target = topics
    unknown = unique("no-such-topic")
    changes = {key: value.format(source=source, unknown=unknown) for key, value in changes.items()}
    response = _preview(client, source, target, **changes)
    assert response.status_code == 400
    body = html.unescape(response.content.decode())
    assert message.format(unknown=unknown) in body
    assert 'id="error"' in body and body.index('id="error"') < body.index('id="replay-form"')
    assert 'name="token"' not in body
    if "offsets" in changes:
        assert f'name="offsets" value="{changes["offsets"]}"' in body  # the form comes back as it was filled
    assert not Operation.objects.exists()
    assert _ends(kafka_bootstrap, target) == {0: 0, 1: 0}


def test_an_unknown_source_topic_is_refused_with_its_name(client, cluster, topics, unique):
    _, target = topics
    unknown = unique("no-such-source")
    page = client.get(reverse("replay_form", args=["local", unknown]))
    assert page.status_code == 404 and f"Topic &#x27;{unknown}&#x27; does not exist" in page.content.decode()
    for offsets in ("0-5", "0:0-5"):
        response = _preview(client, unknown, target, offsets=offsets)
        assert response.status_code == 400, offsets
        assert unknown in html.unescape(response.content.decode()), offsets
    assert not Operation.objects.exists()


def test_internal_topics_are_not_offered_for_replay_and_their_replay_page_says_why(client, cluster, topics):
    _, target = topics
    internal = "__consumer_offsets"
    why = "is one of Kafka&#x27;s internal topics"
    action = client.get(reverse("replay_action", args=["local", internal]), HTTP_HX_REQUEST="true").content.decode()
    assert 'id="replay-link"' not in action and why in action
    page = client.get(reverse("replay_form", args=["local", internal]))
    assert page.status_code == 400 and why in page.content.decode() and "does not exist" not in page.content.decode()
    preview = _preview(client, internal, target, offsets="0:0-1")
    assert preview.status_code == 400 and why in preview.content.decode()
    # Nor is one ever a target: only the brokers write there.
    source, _ = topics
    for into in (internal, "__share_group_state", "__transaction_state"):
        preview = _preview(client, source, into, offsets="0:0-1", partitioning="key-hash")
        body = html.unescape(preview.content.decode())
        assert preview.status_code == 400 and f"'{into}' is one of Kafka's internal topics, which only" in body
        assert 'name="token"' not in body
    assert not Operation.objects.exists()
    # Without JavaScript the topic page links to the replay form itself, but never to a refusal.
    for topic, linked in ((internal, False), (target, True)):
        page = client.get(reverse("topic_page", args=["local", topic])).content.decode()
        assert (reverse("replay_form", args=["local", topic]) in page) is linked, topic


def test_warnings_come_first_and_the_target_is_compared_with_the_source(
    client, cluster, topics, kafka_bootstrap, unique
):
    source, _ = topics
    wider = unique("replay-wide")
    kt.create_topic(kafka_bootstrap, wider, 3)  # default retention: 7 days, far shorter than the records' age
    body = html.unescape(_preview(client, source, wider).content.decode())
    retention = re.search(r"the target's retention \(7 days\) deletes copies that old at once", body)
    partitions = body.find(f"Target '{wider}' has 3 partitions and the source 2")
    assert retention and partitions > 0
    assert max(retention.start(), partitions) < body.index('id="ranges"')
    assert 'id="target-partitions">3 <span class="muted">(source: 2)</span>' in body
    assert 'id="target-retention">7 days<' in body


def test_at_least_once_is_chosen_explicitly_shown_with_its_cost_and_carried_to_the_operation(
    client, cluster, topics, django_capture_on_commit_callbacks
):
    source, target = topics
    default = html.unescape(_preview(client, source, target).content.decode())
    assert 'id="delivery">exactly once (transactional)<' in default and "At least once:" not in default

    preview = _preview(client, source, target, delivery="at-least-once")
    body = html.unescape(preview.content.decode())
    assert 'id="delivery">at least once (no transactions)<' in body
    assert (
        "At least once: no transactions. If the worker stops mid-copy, the records it copied since its last "
        "checkpoint (one is taken every 0.5 s or 200,000 records copied) are copied again"
    ) in body
    assert body.index("At least once:") < body.index('id="ranges"')  # a warning, shown first
    with django_capture_on_commit_callbacks(execute=False):
        assert _confirm(client, source, _token(preview)).status_code == 302
    assert Operation.objects.get().replay.exactly_once is False

    refused = _preview(client, source, target, delivery="sometimes")
    assert refused.status_code == 400 and "sometimes is not one of the available choices" in html.unescape(
        refused.content.decode()
    )


def test_the_ranges_are_fixed_at_preview_and_the_confirm_does_not_plan_again(
    client, cluster, topics, kafka_bootstrap, django_capture_on_commit_callbacks
):
    source, target = topics
    preview = _preview(
        client,
        source,
        target,
        range_mode="time",
        offsets="",
        time_from="2023-11-14T22:13:23Z",
        time_to="2100-01-01T00:00:00Z",
    )
    assert _range_row(preview.content.decode(), 0) == ("3", "10", "7")
    _produce(kafka_bootstrap, source, [{"partition": 0, "key": "late", "value": b"x", "timestamp": START_MS + 60_000}])
    with django_capture_on_commit_callbacks(execute=False):
        assert _confirm(client, source, _token(preview)).status_code == 302
    operation = Operation.objects.get()
    assert [(row["partition"], row["start"], row["end"]) for row in operation.plan] == [(0, 3, 10), (1, 3, 6)]
    assert operation.progress_total == 10


def test_record_contents_are_shown_as_text_never_as_markup(client, cluster, topics, kafka_bootstrap):
    source, target = topics
    _produce(
        kafka_bootstrap,
        source,
        [
            {
                "partition": 1,
                "key": "<b>k</b>",
                "value": b"<script>alert(1)</script>",
                "headers": [("<i>h</i>", b"<u>v</u>")],
                "timestamp": START_MS,
            }
        ],
    )
    body = _preview(client, source, target, offsets="1:6-7").content.decode()
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in body and "&lt;b&gt;k&lt;/b&gt;" in body
    assert "&lt;i&gt;h&lt;/i&gt;: &lt;u&gt;v&lt;/u&gt;" in body
    assert "<script>alert" not in body and "<b>k</b>" not in body


def test_confirm_without_a_reason_is_refused_and_keeps_the_preview(client, cluster, topics):
    source, target = topics
    token = _token(_preview(client, source, target))
    response = _confirm(client, source, token, reason="  ")
    assert response.status_code == 400
    body = response.content.decode()
    assert "a reason is required" in body and _token(response) == token
    assert _range_row(body, 0) == ("2", "7", "5")
    assert not Operation.objects.exists()


def test_a_tampered_token_or_one_for_another_topic_is_refused(client, cluster, topics, unique):
    source, target = topics
    token = _token(_preview(client, source, target))
    payload, _, signature = token.rpartition(":")
    tampered = _confirm(client, source, f"{payload}x:{signature}")
    assert tampered.status_code == 400 and b"The preview expired" in tampered.content
    elsewhere = _confirm(client, target, token)
    assert elsewhere.status_code == 400 and b"The preview expired" in elsewhere.content
    assert not Operation.objects.exists()


def test_a_preview_older_than_15_minutes_cannot_be_confirmed(client, cluster, topics, monkeypatch):
    source, target = topics
    # Sign as if the preview had been shown 15 minutes and a second ago.
    monkeypatch.setattr(signing.TimestampSigner, "timestamp", lambda self: signing.b62_encode(int(time.time()) - 901))
    token = _token(_preview(client, source, target))
    monkeypatch.undo()
    response = _confirm(client, source, token)
    assert response.status_code == 400 and b"The preview expired" in response.content
    assert 'id="replay-form"' in response.content.decode()
    assert not Operation.objects.exists()


def test_on_a_cluster_requiring_approval_the_confirm_button_requests_approval(client, cluster, topics):
    source, target = topics
    cluster.require_approval = True
    cluster.save()
    preview = _preview(client, source, target)
    body = preview.content.decode()
    assert ">Request approval</button>" in body and "Replay these records</button>" not in body
    confirmed = _confirm(client, source, _token(preview))
    operation = Operation.objects.get()
    assert operation.status == "awaiting_approval" and operation.started is None
    page = client.get(confirmed.url).content.decode()
    assert 'id="operation-status">Awaiting approval<' in page and 'id="cancel-form"' in page
    assert 'id="cancel-replay-form"' not in page  # withdrawn as a request, not stopped as a copy


def test_a_replay_runs_through_the_pages_and_copies_exactly_the_range(
    client, operator, celery_worker, cluster, topics, kafka_bootstrap
):
    source, target = topics
    confirmed = _confirm(client, source, _token(_preview(client, source, target, offsets="0:2-7, 1:0-3")))
    assert confirmed.status_code == 302
    operation = Operation.objects.get()
    assert confirmed.url == reverse("operation_page", args=[operation.pk])
    assert (operation.kind, operation.requester, operation.reason) == ("replay", operator, "rebuild the search index")
    page = client.get(confirmed.url)
    assert page.status_code == 200 and 'id="replay-progress"' in page.content.decode()

    status = _final_status_area(client, operation)
    assert 'id="operation-status">Succeeded<' in status
    assert 'id="replay-copied">8 / 8<' in status
    copied = _read(kafka_bootstrap, target)
    assert sorted((p, k.decode()) for p, k, *_ in copied) == (
        [(0, f"user-{i}") for i in range(2, 7)] + [(1, f"order-{i}") for i in range(3)]
    )
    originals = {(r["partition"], r["key"]): r for r in _source_records()}
    for partition, key, value, headers, timestamp in copied:
        original = originals[(partition, key.decode())]
        assert (value, timestamp) == (original["value"], original["timestamp"])
        assert headers == original.get("headers", [])
    assert AuditEvent.objects.filter(operation=operation, action="requested", actor="operator").exists()


def test_a_filtered_replay_stamped_now_copies_only_matching_records(
    client, celery_worker, cluster, topics, kafka_bootstrap
):
    source, target = topics
    before = int(time.time() * 1000)
    preview = _preview(
        client,
        source,
        target,
        offsets="0-10",
        partitions_mode="some",
        partitions="0",
        key_filter="regex",
        key="user-[0-5]$",
        header_filter="equals",
        header_name="source",
        header_value="billing",
        timestamps="now",
        partitioning="key-hash",
    )
    assert preview.status_code == 200
    body = preview.content.decode()
    assert '<td class="filter">copied</td>' in _sample_row(body, 0, 0)
    assert '<td class="filter"><span class="muted">skipped</span></td>' in _sample_row(body, 0, 1)
    confirmed = _confirm(client, source, _token(preview))
    operation = Operation.objects.get()
    assert 'id="operation-status">Succeeded<' in _final_status_area(client, operation)
    copied = _read(kafka_bootstrap, target)
    assert sorted(k.decode() for _, k, *_ in copied) == ["user-0", "user-2", "user-4"]
    assert all(timestamp >= before for *_, timestamp in copied)
    assert confirmed.status_code == 302


def test_a_slow_replay_is_cancelled_from_its_page_within_seconds_and_shows_what_it_copied(
    client, celery_worker, cluster, topics, kafka_bootstrap
):
    source, target = topics
    _produce(
        kafka_bootstrap,
        source,
        [{"partition": 0, "key": f"bulk-{i}", "value": b"x", "timestamp": START_MS} for i in range(200)],
    )
    confirmed = _confirm(client, source, _token(_preview(client, source, target, offsets="0:0-210", throttle="5")))
    operation = Operation.objects.get()
    page = client.get(confirmed.url).content.decode()
    assert f'action="{reverse("cancel_replay", args=[operation.pk])}"' in page

    def copying():
        operation.refresh_from_db()
        return operation.status == "running" and operation.progress_copied > 0

    kt.wait_for(copying, timeout=60, interval=0.2, what="the replay to start copying")
    running = kt.wait_for(
        lambda: (lambda body: body if "records/s" in body else None)(_status_area(client, operation)),
        timeout=10,
        interval=0.3,
        what="the page to show a rate",
    )
    rate = float(re.search(r'id="replay-rate">([0-9.]+) records/s', running).group(1))
    assert 2 <= rate <= 8, rate  # throttled to 5 records a second
    eta = int(re.search(r'id="replay-eta">about (\d+) s', running).group(1))
    assert 15 <= eta <= 120, eta  # ~200 records left at ~5 a second

    asked = time.monotonic()
    assert client.post(reverse("cancel_replay", args=[operation.pk])).status_code == 302
    status = _final_status_area(client, operation, timeout=10)
    stopped_after = time.monotonic() - asked
    operation.refresh_from_db()
    assert operation.status == "cancelled" and stopped_after < 3, stopped_after
    assert 0 < operation.progress_copied < 210
    assert f'id="replay-copied">{operation.progress_copied} / 210<' in status
    assert f'<td class="num copied">{operation.progress_copied}</td>' in status  # partition 0's outcome
    assert 'action="' + reverse("cancel_replay", args=[operation.pk]) not in status
    time.sleep(1)  # nothing more arrives once it says it stopped
    assert len(_read(kafka_bootstrap, target)) == operation.progress_copied


def test_only_the_requester_or_an_admin_may_cancel_a_replay(
    client, operator, cluster, topics, make_user, django_capture_on_commit_callbacks
):
    source, target = topics
    with django_capture_on_commit_callbacks(execute=False):  # no worker: it stays pending
        _confirm(client, source, _token(_preview(client, source, target)))
    operation = Operation.objects.get()
    own = _status_area(client, operation)
    assert "hx-trigger=\"every 2s [document.visibilityState === 'visible']\"" in own
    assert 'id="cancel-replay-form"' in own and 'id="replay-copied">0 / 8<' in own
    other = Client()
    other.force_login(make_user("colleague", "Operator"))
    page = other.get(reverse("operation_page", args=[operation.pk])).content.decode()
    assert 'id="cancel-replay-form"' not in page and "operator, who requested it, or an admin" in page
    refused = other.post(reverse("cancel_replay", args=[operation.pk]))
    assert refused.status_code == 403
    assert "You may not cancel operation" in html.unescape(refused.content.decode())
    assert AuditEvent.objects.filter(action="denied", actor="colleague", operation=operation).exists()
    operation.refresh_from_db()
    assert operation.status == "pending" and not operation.cancel_requested

    admin = Client()
    admin.force_login(make_user("admin", "Admin"))  # the Admin role by grant, not a superuser
    assert 'id="cancel-replay-form"' in admin.get(reverse("operation_page", args=[operation.pk])).content.decode()
    assert admin.post(reverse("cancel_replay", args=[operation.pk])).status_code == 302
    operation.refresh_from_db()
    assert operation.status == "cancelled" and "Cancelled by admin before a worker started it" in operation.error
    again = admin.post(reverse("cancel_replay", args=[operation.pk]))
    assert again.status_code == 409 and b"there is nothing to cancel" in again.content
    reset = Operation.objects.create(
        kind="reset", cluster=cluster, group_id="g", plan=[], reason="r", requester=operator
    )
    not_a_replay = client.post(reverse("cancel_replay", args=[reset.pk]))
    assert not_a_replay.status_code == 400 and b"is not a replay" in not_a_replay.content


def test_the_cli_previews_without_writing_and_executes_a_small_range(cluster, topics, kafka_bootstrap, operator):
    source, target = topics
    base = ["replay", "--as", "operator", "--cluster", "local", "--topic", source, "--target", target]
    out = StringIO()
    call_command(*base, "--offsets", "0:2-7,1:0-3", "--dry-run", stdout=out)
    text = out.getvalue()
    assert re.search(r"^0\s+2\s+7\s+5$", text, re.M) and re.search(r"^1\s+0\s+3\s+3$", text, re.M)
    assert "Total: 8 records in range." in text and "user-2" in text and "Dry run: nothing was written" in text
    assert _ends(kafka_bootstrap, target) == {0: 0, 1: 0} and not Operation.objects.exists()

    out = StringIO()
    call_command(
        *base,
        "--partitions",
        "1",
        "--from-offset",
        "1",
        "--to-offset",
        "4",
        "--execute",
        "--at-least-once",
        "--reason",
        "backfill",
        "--output",
        "json",
        stdout=out,
        stderr=StringIO(),
    )
    shown = json.loads(out.getvalue())
    assert shown["total"] == 3 and [r["partition"] for r in shown["ranges"]] == [1]
    assert shown["request"]["exactly_once"] is False
    operation = Operation.objects.get()
    assert (operation.status, operation.requested_via, operation.requester) == ("succeeded", "cli", operator)
    assert sorted(k.decode() for _, k, *_ in _read(kafka_bootstrap, target)) == ["order-1", "order-2", "order-3"]


@pytest.mark.parametrize(
    "arguments, message",
    [
        (["--offsets", "0:5-2"], r"^The range 5-2 of partition 0 is reversed"),
        (["--from-offset", "3"], r"^--from-offset needs --to-offset"),
        (["--offsets", "0:0-5", "--key-regex", "("], r"does not compile"),
        (["--offsets", "0:0-5", "--throttle", "0"], r"^The throttle must be at least 1 record per second"),
        (["--offsets", "0:0-5", "--header-equals", "novalue"], r"^Write the header to match as name=value"),
    ],
)
def test_the_cli_refuses_bad_input_in_one_line_and_starts_nothing(cluster, topics, operator, arguments, message):
    source, target = topics
    with pytest.raises(CommandError, match=message) as refused:
        call_command(
            "replay",
            "--as",
            "operator",
            "--cluster",
            "local",
            "--topic",
            source,
            "--target",
            target,
            *arguments,
            "--execute",
            "--reason",
            "r",
            stdout=StringIO(),
        )
    assert "\n" not in str(refused.value)
    assert not Operation.objects.exists()


def test_the_cli_needs_a_user_allowed_to_replay(cluster, topics, make_user):
    source, target = topics
    make_user("viewer", "Viewer")
    with pytest.raises(
        CommandError,
        match=r"^You may not replay records on cluster 'local': ask an admin for the "
        r"Operator role on it\.$",
    ):
        call_command(
            "replay",
            "--as",
            "viewer",
            "--cluster",
            "local",
            "--topic",
            source,
            "--target",
            target,
            "--offsets",
            "0:0-5",
            "--dry-run",
            stdout=StringIO(),
        )
    assert AuditEvent.objects.filter(action="denied", actor="viewer").count() == 1


@pytest.mark.django_db(transaction=True)
def test_from_a_shell_bad_input_is_one_line_on_stderr_and_exit_1(cluster, topics, operator):
    source, target = topics
    result = subprocess.run(
        [
            sys.executable,
            "manage.py",
            "replay",
            "--as",
            "operator",
            "--cluster",
            "local",
            "--topic",
            source,
            "--target",
            target,
            "--offsets",
            "0:0-5",
            "--key-regex",
            "(",
            "--execute",
            "--reason",
            "should not run",
        ],
        cwd=BASE_DIR,
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, "DATABASE_URL": shared_database_url()},
    )
    assert (result.returncode, result.stdout) == (1, "")
    assert result.stderr == (
        "CommandError: The key regular expression '(' does not compile: missing ), "
        "unterminated subpattern at position 0.\n"
    )
    assert not Operation.objects.exists()
