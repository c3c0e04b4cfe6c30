"""`/metrics` against the real broker: its figures are the snapshot's and the API's, it needs a token or an
allowed address, and it serves the last snapshot (with its age) while the broker is down."""

from __future__ import annotations

import socket
import time

import pytest
from django.urls import reverse
from prometheus_client.parser import text_string_to_metric_families

from groups.models import Cluster, Operation, Replay, SnapshotGroup
from groups.snapshot import queries
from groups.snapshot.collector import COLLECTED, FAILED, collect
from tests import kafkatools as kt

pytestmark = [pytest.mark.integration, pytest.mark.django_db]

TOKEN = "integration-scrape-token-0123456789"
PER_PARTITION = (
    "kafka_consumergroup_group_offset",
    "kafka_consumergroup_group_lag",
    "kafka_consumergroup_group_lag_seconds",
)


@pytest.fixture
def scrape_token(settings):
    settings.METRICS_TOKEN, settings.METRICS_ALLOWED_IPS = TOKEN, []


def _fetch(client, **headers) -> str:
    response = client.get("/metrics", HTTP_AUTHORIZATION=f"Bearer {TOKEN}", **headers)
    assert response.status_code == 200, response.content
    return b"".join(response.streaming_content).decode()


def _parse(text: str) -> dict[str, list[tuple[dict[str, str], float]]]:
    return {
        family.name: [(s.labels, s.value) for s in family.samples] for family in text_string_to_metric_families(text)
    }


def _scrape(client, **headers) -> dict[str, list[tuple[dict[str, str], float]]]:
    return _parse(_fetch(client, **headers))


def _of(samples, name: str, cluster: str, group: str) -> list[tuple[dict[str, str], float]]:
    return [
        (labels, value)
        for labels, value in samples[name]
        if labels["cluster_name"] == cluster and labels["group"] == group
    ]


def _one(samples, name: str, cluster: str, group: str) -> float | None:
    found = _of(samples, name, cluster, group)
    assert len(found) <= 1, found
    return found[0][1] if found else None


def _partitions(samples, name: str, cluster: str, group: str) -> dict[tuple[str, int], tuple[dict, float]]:
    return {
        (labels["topic"], int(labels["partition"])): (labels, value)
        for labels, value in _of(samples, name, cluster, group)
    }


def _api_lags(client) -> dict[str, int]:
    """Every group's lag from the API, page by page: the session's broker holds other tests' groups too."""
    lags: dict[str, int] = {}
    page = 1
    while True:
        answer = client.get("/api/clusters/local/groups/", {"page": page, "per_page": 1000}).json()
        lags.update((g["group"], g["lag"]) for g in answer["groups"])
        if len(lags) >= answer["total"] or not answer["groups"]:
            return lags
        page += 1


def _dead_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def test_metrics_equal_the_snapshot_and_the_api_for_every_group_of_a_scenario(
    viewer_client, cluster, kafka_bootstrap, situations, unique, use_test_redis, scrape_token
):
    topic = unique("metrics-odd")
    kt.create_topic(kafka_bootstrap, topic, 2)
    kt.produce(kafka_bootstrap, topic, {0: 12, 1: 4})
    odd = unique('billing "eu"\\west\nretry')  # quotes, a backslash and a newline in a group id
    checkpoint = unique("console-replay-checkpoint")
    kt.commit(kafka_bootstrap, odd, {(topic, 0): 2})
    kt.commit(kafka_bootstrap, checkpoint, {(topic, 1): 1})
    replay = Operation.objects.create(
        kind=Operation.Kind.REPLAY,
        cluster=cluster,
        group_id="",
        reason="test",
        status=Operation.Status.RUNNING,
        plan=[{"topic": topic}],
    )
    Replay.objects.create(operation=replay, copy_group=checkpoint, topic=topic, target_topic=f"{topic}-copy")
    assert collect(cluster).outcome == COLLECTED
    snapshot = queries.latest_snapshot(cluster).snapshot

    samples = _scrape(viewer_client)
    # Every group of the snapshot with a status but the replay's checkpoint, once each. A share group
    # (other tests on this broker leave some) has no status: the rules judge committed offsets.
    listed = [labels["group"] for labels, _ in samples["kafka_console_group_status"]]
    rows = SnapshotGroup.objects.filter(snapshot=snapshot)
    expected = set(rows.exclude(status="").values_list("group_id", flat=True)) - {checkpoint}
    assert sorted(listed) == sorted(expected)
    unjudged = rows.filter(status="").values_list("group_id", "type", "error")
    assert all(kind == "share" or error for _, kind, error in unjudged), list(unjudged)
    # Every group, share groups too, has one info series with its type and state.
    info = {labels["group"]: (labels["type"], labels["state"]) for labels, _ in samples["kafka_console_group_info"]}
    assert len(info) == len(samples["kafka_console_group_info"])
    assert info == {
        g: (kind, state) for g, kind, state in rows.values_list("group_id", "type", "state") if g != checkpoint
    }
    assert queries.group_row(snapshot, checkpoint).replay_operation_id == replay.pk
    for name in ("kafka_consumergroup_group_sum_lag", *PER_PARTITION):
        assert not _of(samples, name, "local", checkpoint), name

    api_lag = _api_lags(viewer_client)
    for group in [*situations.values(), odd]:
        row = queries.group_row(snapshot, group)
        details = queries.partition_details(row)
        committed = [d for d in details if d.committed is not None]
        offsets = _partitions(samples, "kafka_consumergroup_group_offset", "local", group)
        lags = _partitions(samples, "kafka_consumergroup_group_lag", "local", group)
        seconds = _partitions(samples, "kafka_consumergroup_group_lag_seconds", "local", group)
        # Partitions without a committed offset (assigned, never committed) give no series.
        assert set(offsets) == {(d.topic, d.partition) for d in committed}, group
        for d in committed:
            labels, offset = offsets[(d.topic, d.partition)]
            assert offset == d.committed and lags[(d.topic, d.partition)][1] == d.lag, (group, d)
            assert seconds[(d.topic, d.partition)][1] == d.lag_seconds, (group, d)
            owner = (d.owner.host.removeprefix("/"), d.owner.member_id, d.owner.client_id) if d.owner else ("", "", "")
            assert (labels["member_host"], labels["consumer_id"], labels["client_id"]) == owner, (group, d)
        assert _one(samples, "kafka_consumergroup_group_sum_lag", "local", group) == row.lag
        assert _one(samples, "kafka_consumergroup_group_max_lag", "local", group) == max(d.lag for d in committed)
        assert _one(samples, "kafka_consumergroup_group_max_lag_seconds", "local", group) == row.lag_seconds
        [(status_labels, one)] = _of(samples, "kafka_console_group_status", "local", group)
        assert (status_labels["status"], one) == (row.status, 1)
        [(group_labels, _)] = _of(samples, "kafka_consumergroup_group_max_lag", "local", group)
        assert group_labels["is_simple_consumer"] == ("true" if row.members == 0 else "false")

        # The API reads Kafka live; the scenario stands still, so it agrees with the snapshot's figures.
        assert api_lag[group] == row.lag, group
        api = viewer_client.get(reverse("api:api_group", args=["local", group])).json()
        api_committed = {(p["topic"], p["partition"]): p for p in api["partitions"] if p["committed"] is not None}
        assert {tp: p["committed"] for tp, p in api_committed.items()} == {tp: v for tp, (_, v) in offsets.items()}
        assert {tp: p["lag"] for tp, p in api_committed.items()} == {tp: v for tp, (_, v) in lags.items()}
        # One group's route gives the forecasts its page and the list give.
        assert (api["lag"], api["catch_up_seconds"], api["catch_up_note"]) == (
            row.lag,
            row.catch_up_seconds,
            row.catch_up_note or None,
        )
        assert (api["retention_margin_seconds"], api["retention_note"]) == (
            row.retention_margin_seconds,
            row.retention_note or None,
        )

    # The scenario's own facts, so a fixture that built something else cannot pass.
    assert _one(samples, "kafka_consumergroup_group_sum_lag", "local", odd) == 10
    assert len(_partitions(samples, "kafka_consumergroup_group_offset", "local", situations["stable_classic"])) == 2
    assert _one(samples, "kafka_consumergroup_group_sum_lag", "local", situations["below_start"]) == 35
    stable = _partitions(samples, "kafka_consumergroup_group_offset", "local", situations["stable_classic"])
    assert all(labels["client_id"] in ("orders-a", "orders-b") for labels, _ in stable.values())


def test_an_unauthenticated_scrape_is_refused_and_a_token_or_an_allowed_address_lets_it_in(
    client, make_user, cluster, kafka_bootstrap, unique, use_test_redis, settings
):
    topic, group = unique("metrics-access"), unique("metrics-access-group")
    kt.create_topic(kafka_bootstrap, topic, 1)
    kt.produce(kafka_bootstrap, topic, {0: 8})
    kt.commit(kafka_bootstrap, group, {(topic, 0): 3})
    assert collect(cluster).outcome == COLLECTED

    settings.METRICS_TOKEN, settings.METRICS_ALLOWED_IPS = "", []
    off = client.get("/metrics", HTTP_AUTHORIZATION=f"Bearer {TOKEN}")
    assert off.status_code == 403 and off.content.decode().startswith("Metrics are off")

    settings.METRICS_TOKEN = TOKEN
    assert client.get("/metrics").status_code == 403
    assert client.get("/metrics", HTTP_AUTHORIZATION="Bearer not-the-token").status_code == 403
    client.force_login(make_user("admin-user", "Admin"))  # a session is not a scrape token
    refused = client.get("/metrics")
    assert refused.status_code == 403 and b"kafka_consumergroup" not in refused.content
    client.logout()
    assert _one(_scrape(client), "kafka_consumergroup_group_sum_lag", "local", group) == 5

    settings.METRICS_TOKEN, settings.METRICS_ALLOWED_IPS = "", ["10.20.0.0/16"]
    assert client.get("/metrics", REMOTE_ADDR="10.21.0.1").status_code == 403
    allowed = client.get("/metrics", REMOTE_ADDR="10.20.30.40")
    assert allowed.status_code == 200
    assert f'group="{group}"'.encode() in b"".join(allowed.streaming_content)


@pytest.mark.engine_neutral("the broker stopped; the scrape reads the snapshot as every metrics test does")
def test_a_scrape_works_while_the_broker_is_down_serving_the_last_snapshot_with_its_age(
    client, cluster, kafka_bootstrap, unique, use_test_redis, scrape_token, settings
):
    topic, group = unique("metrics-down"), unique("metrics-down-group")
    kt.create_topic(kafka_bootstrap, topic, 2)
    kt.produce(kafka_bootstrap, topic, {0: 10, 1: 10})
    kt.commit(kafka_bootstrap, group, {(topic, 0): 4, (topic, 1): 9})
    assert collect(cluster).outcome == COLLECTED
    collected_at = time.monotonic()
    started = time.monotonic()
    before_text = _fetch(client)
    took_up = time.monotonic() - started
    before = _parse(before_text)

    settings.KAFKA_REQUEST_TIMEOUT = 3.0
    cluster.bootstrap_servers = f"127.0.0.1:{_dead_port()}"
    cluster.save()
    assert collect(cluster).outcome == FAILED  # the collector cannot reach it: the snapshot is now stale

    started = time.monotonic()
    after_text = _fetch(client)
    took = time.monotonic() - started
    after = _parse(after_text)
    # Any Kafka request would have waited out KAFKA_REQUEST_TIMEOUT for the dead port. The broker is
    # the session's, so the snapshot holds every group other tests left on it: a scrape of it costs
    # what the one before the outage cost, and the parsing of the page is left out of both.
    assert took < took_up + settings.KAFKA_REQUEST_TIMEOUT, f"the scrape took {took:.1f} s, {took_up:.1f} s before"
    for name in ("kafka_consumergroup_group_sum_lag", *PER_PARTITION):
        assert _of(after, name, "local", group) == _of(before, name, "local", group), name
    assert _one(after, "kafka_consumergroup_group_sum_lag", "local", group) == 7
    assert ({"cluster_name": "local"}, 1) in after["kafka_console_snapshot_stale"]
    assert ({"cluster_name": "local"}, 0) in before["kafka_console_snapshot_stale"]
    [(_, age)] = after["kafka_console_snapshot_age_seconds"]
    assert age >= started - collected_at - 1  # taken_at is when the round started reading, before collected_at
    assert ({"cluster_name": "local", "outcome": "failed"}, 1) in after["kafka_console_collection_rounds"]


def test_per_partition_series_can_be_switched_off_per_cluster(
    client, cluster, kafka_bootstrap, unique, use_test_redis, scrape_token
):
    topic, group = unique("metrics-switch"), unique("metrics-switch-group")
    kt.create_topic(kafka_bootstrap, topic, 3)
    kt.produce(kafka_bootstrap, topic, {0: 5, 1: 5, 2: 5})
    kt.commit(kafka_bootstrap, group, {(topic, p): p for p in range(3)})
    quiet = Cluster.objects.create(name="local-quiet", bootstrap_servers=kafka_bootstrap, metrics_per_partition=False)
    assert collect(cluster).outcome == COLLECTED and collect(quiet).outcome == COLLECTED

    samples = _scrape(client)
    for name in PER_PARTITION:
        assert len(_of(samples, name, "local", group)) == 3, name
        assert _of(samples, name, "local-quiet", group) == [], name
    for name in ("kafka_consumergroup_group_sum_lag", "kafka_consumergroup_group_max_lag"):
        assert (
            _one(samples, name, "local", group)
            == _one(samples, name, "local-quiet", group)
            == {"kafka_consumergroup_group_sum_lag": 12, "kafka_consumergroup_group_max_lag": 5}[name]
        )

    # The switch acts on the next scrape, without waiting for a collection round.
    Cluster.objects.filter(pk=cluster.pk).update(metrics_per_partition=False)
    samples = _scrape(client)
    assert all(samples[name] == [] for name in PER_PARTITION)
    assert _one(samples, "kafka_consumergroup_group_sum_lag", "local", group) == 12
