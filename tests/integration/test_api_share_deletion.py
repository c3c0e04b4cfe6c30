"""Deleting a share group through the JSON API, against the real broker and worker: the preview shows the
start offsets Kafka's own `kafka-share-groups --describe --offsets` prints, the request's operation deletes
the group as the page's does, an active share group is refused with nothing written, and a Viewer is
refused in JSON."""

from __future__ import annotations

import time

import pytest
from django.test import Client

from groups.kafka import ShareClient, ShareGroupNotFound
from groups.models import ApiToken, AuditEvent, Operation
from localkafka.broker import run_tool
from tests import kafkatools as kt

pytestmark = pytest.mark.integration


def _api(user) -> Client:
    return Client(headers={"Authorization": f"Token {ApiToken.issue(user)}"})


def _tool_lists(bootstrap: str) -> set[str]:
    result = run_tool("share-groups", ["--list"], bootstrap)
    assert result.returncode == 0, result.stderr
    return set(result.stdout.split())


def _tool_start_offsets(bootstrap: str, group: str) -> dict[tuple[str, int], int]:
    tool = run_tool("share-groups", ["--describe", "--offsets", "--group", group], bootstrap)
    assert tool.returncode == 0, tool.stderr
    rows = [line.split() for line in tool.stdout.splitlines() if line.split()[:1] == [group]]
    return {(topic, int(partition)): int(start) for _, topic, partition, start, _lag in rows}


def _empty_share_group(bootstrap: str, topic: str, group: str) -> ShareClient:
    """A share group that read every record of `topic` (2 partitions, 3 + 2 records) and left: Empty."""
    kt.create_topic(bootstrap, topic, 2)
    kt.start_share_group_at_earliest(bootstrap, group)
    kt.produce(bootstrap, topic, {0: 3, 1: 2})
    reader = kt.ShareMember(bootstrap, group, [topic], client_id="reader")
    try:
        kt.wait_for(lambda: reader.received == 5, timeout=60, what="the reader to get all 5 records")
    finally:
        reader.stop()
    share = ShareClient({"bootstrap.servers": bootstrap}, 10)
    kt.wait_for(lambda: share.describe(group).state == "Empty", what="the share group to be Empty")
    return share


def _finished(client: Client, operation_id: int, timeout: float = 60) -> dict:
    deadline = time.monotonic() + timeout
    while True:
        answer = client.get(f"/api/operations/{operation_id}/").json()
        if answer["status"] in ("succeeded", "failed", "cancelled") or time.monotonic() > deadline:
            return answer
        time.sleep(0.3)


def test_deleting_an_empty_share_group_through_the_api_removes_it_from_kafka(
    celery_worker, cluster, make_user, kafka_bootstrap, unique
):
    topic, group = unique("api-share-del"), unique("api-share-del-group")
    share = _empty_share_group(kafka_bootstrap, topic, group)
    api = _api(make_user("admin", "Admin"))

    preview = api.get(f"/api/clusters/local/share-delete-preview/{group}/")
    assert preview.status_code == 200, preview.content.decode()
    shown = preview.json()
    assert (shown["group"], shown["state"], shown["members"], shown["blocked_reason"]) == (group, "Empty", 0, None)
    offsets = {(o["topic"], o["partition"]): o["start_offset"] for o in shown["start_offsets"]}
    assert offsets == _tool_start_offsets(kafka_bootstrap, group)
    assert set(offsets) == {(topic, 0), (topic, 1)}
    assert shown["request_url"] == f"/api/clusters/local/share-delete/{group}/"

    missing = api.post(shown["request_url"], {"reason": ""}, content_type="application/json")
    assert missing.status_code == 400 and missing.json()["code"] == "BAD_REQUEST"
    assert not Operation.objects.filter(group_id=group).exists()

    response = api.post(shown["request_url"], {"reason": "the app was retired"}, content_type="application/json")
    assert response.status_code == 201, response.content.decode()
    requested = response.json()
    assert (requested["kind"], requested["group"], requested["requested_via"]) == ("share_delete", group, "api")
    done = _finished(api, requested["id"])
    assert done["status"] == "succeeded", done["error"]

    with pytest.raises(ShareGroupNotFound):
        share.describe(group)
    assert group not in _tool_lists(kafka_bootstrap)
    events = AuditEvent.objects.filter(operation_id=requested["id"]).order_by("id")
    assert [e.action for e in events] == ["requested", "started", "succeeded"]
    assert events[0].reason == "the app was retired"
    gone = api.get(f"/api/clusters/local/share-delete-preview/{group}/")
    assert gone.status_code == 404 and group in gone.json()["error"]


def test_an_active_share_group_is_refused_with_409_and_nothing_changes(
    transactional_db, use_test_redis, cluster, make_user, kafka_bootstrap, unique
):
    topic, group = unique("api-share-del-active"), unique("api-share-del-active-group")
    kt.create_topic(kafka_bootstrap, topic, 1)
    member = kt.ShareMember(kafka_bootstrap, group, [topic], client_id="still-reading")
    share = ShareClient({"bootstrap.servers": kafka_bootstrap}, 10)
    api = _api(make_user("admin", "Admin"))
    try:
        kt.wait_for(
            lambda: group in _tool_lists(kafka_bootstrap) and share.describe(group).state == "Stable",
            timeout=60,
            what="the share group to be Stable",
        )
        preview = api.get(f"/api/clusters/local/share-delete-preview/{group}/").json()
        assert (preview["state"], preview["members"]) == ("Stable", 1)
        assert "Deleting an active share group is refused" in preview["blocked_reason"]
        assert "still-reading" in preview["blocked_reason"]

        refused = api.post(preview["request_url"], {"reason": "try anyway"}, content_type="application/json")
        assert refused.status_code == 409
        assert refused.json() == {"error": preview["blocked_reason"], "code": "GROUP_ACTIVE"}
        assert not Operation.objects.filter(group_id=group).exists()
        assert not AuditEvent.objects.filter(group_id=group).exists()
        assert share.describe(group).state == "Stable" and group in _tool_lists(kafka_bootstrap)
    finally:
        member.stop()


def test_a_viewer_is_refused_share_group_deletion_with_403_json(
    transactional_db, use_test_redis, cluster, make_user, kafka_bootstrap, unique
):
    topic, group = unique("api-share-del-viewer"), unique("api-share-del-viewer-group")
    _empty_share_group(kafka_bootstrap, topic, group)
    api = _api(make_user("viewer", "Viewer"))

    for response in (
        api.get(f"/api/clusters/local/share-delete-preview/{group}/"),
        api.post(f"/api/clusters/local/share-delete/{group}/", {"reason": "no"}, content_type="application/json"),
    ):
        assert response.status_code == 403 and response["Content-Type"].startswith("application/json")
        assert response.json()["code"] == "FORBIDDEN" and response.json()["error"]
    assert not Operation.objects.filter(group_id=group).exists()
    assert group in _tool_lists(kafka_bootstrap)
