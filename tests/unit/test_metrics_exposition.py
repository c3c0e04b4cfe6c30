"""The Prometheus text `/metrics` writes: escaping, left-out partitions, the snapshot layout it reads. Pure."""

import math

import pytest
from prometheus_client.parser import text_string_to_metric_families

from groups.metrics import series
from groups.metrics.exposition import Exposition, Family, label_value, number
from groups.snapshot import rows

CLUSTER = 'cluster_name="prod"'


def _detail(**overrides) -> rows.PartitionDetail:
    values = {
        "topic": "orders",
        "partition": 0,
        "committed": 10,
        "log_start": 0,
        "log_end": 15,
        "lag": 5,
        "lag_seconds": 2.5,
        "status": "OK",
        "owner": None,
    }
    return rows.PartitionDetail(**{**values, **overrides})


def _group(
    group_id: str,
    details: list[rows.PartitionDetail],
    *,
    members: int = 0,
    status: str = "OK",
    lag_seconds: float | None = None,
    kind: str = "consumer",
    state: str = "Stable",
) -> series.GroupFigures:
    lags = [d.lag for d in details if d.lag is not None]
    return series.GroupFigures(
        group_id,
        members,
        sum(lags) if lags else None,
        lag_seconds,
        status,
        rows.encode_group_detail(details),
        kind,
        state,
    )


def _text(*groups: series.GroupFigures, per_partition: bool = True) -> str:
    page = series.new_page()
    for group in groups:
        series.add_group(page, CLUSTER, group, per_partition=per_partition)
    return b"".join(page.chunks()).decode()


def _samples(text: str) -> dict[str, list[tuple[dict[str, str], float]]]:
    """Samples by family name, as prometheus-client's own parser reads the page."""
    return {
        family.name: [(s.labels, s.value) for s in family.samples] for family in text_string_to_metric_families(text)
    }


def test_label_values_escape_backslashes_quotes_and_newlines():
    assert label_value('a\\b"c\nd') == 'a\\\\b\\"c\\nd'
    assert label_value("plain-id.v2") == "plain-id.v2"


def test_a_group_id_with_quotes_backslashes_and_newlines_reads_back_unchanged():
    odd = 'billing "eu"\\west\nretry'
    text = _text(_group(odd, [_detail(topic='t"\\\n')], status="WARN"))
    samples = _samples(text)
    assert [labels["group"] for labels, _ in samples["kafka_consumergroup_group_lag"]] == [odd]
    assert [labels["topic"] for labels, _ in samples["kafka_consumergroup_group_offset"]] == ['t"\\\n']
    assert samples["kafka_console_group_status"] == [({"cluster_name": "prod", "group": odd, "status": "WARN"}, 1)]
    # One sample per line: the newline in the id is escaped, not written.
    assert sum(1 for line in text.splitlines() if line.startswith("kafka_consumergroup_group_lag{")) == 1


def test_each_group_has_one_info_series_with_its_type_and_state_and_a_share_group_no_status():
    share = series.GroupFigures("workers", 2, 7, None, "", rows.encode_group_detail([]), "share", "Stable")
    consumer = _group("orders", [_detail()], status="OK", state="Empty")
    samples = _samples(_text(share, consumer))
    assert samples["kafka_console_group_info"] == [
        ({"cluster_name": "prod", "group": "workers", "type": "share", "state": "Stable"}, 1),
        ({"cluster_name": "prod", "group": "orders", "type": "consumer", "state": "Empty"}, 1),
    ]
    assert [labels["group"] for labels, _ in samples["kafka_console_group_status"]] == ["orders"]
    assert samples["kafka_consumergroup_group_sum_lag"][0] == ({"cluster_name": "prod", "group": "workers"}, 7)


def test_a_partition_without_a_committed_offset_is_left_out_not_reported_as_minus_one():
    group = _group(
        "g",
        [
            _detail(partition=0, committed=10, lag=5),
            _detail(partition=1, committed=None, lag=None, lag_seconds=None, log_end=40),
        ],
    )
    samples = _samples(_text(group))
    for name in (
        "kafka_consumergroup_group_offset",
        "kafka_consumergroup_group_lag",
        "kafka_consumergroup_group_lag_seconds",
    ):
        assert [labels["partition"] for labels, _ in samples[name]] == ["0"], name
    assert all(value >= 0 for family in samples.values() for _, value in family)
    assert samples["kafka_consumergroup_group_max_lag"][0][1] == 5
    assert samples["kafka_consumergroup_group_sum_lag"][0][1] == 5


def test_a_committed_partition_with_an_unknown_log_end_keeps_its_offset_and_drops_its_lag():
    samples = _samples(_text(_group("g", [_detail(committed=7, log_end=None, lag=None, lag_seconds=None)])))
    assert [value for _, value in samples["kafka_consumergroup_group_offset"]] == [7]
    assert samples["kafka_consumergroup_group_lag"] == []
    assert samples["kafka_consumergroup_group_max_lag"] == [] and samples["kafka_consumergroup_group_sum_lag"] == []


def test_the_reader_sees_what_the_snapshot_rows_hold():
    """series reads SnapshotGroup.detail's lists by position; this fails when rows.py changes that layout."""
    alice = rows.Owner("consumer-1-5f0c", "orders-app", "/10.0.0.5", "instance-a")
    bob = rows.Owner("consumer-2-77aa", "orders-app-2", "10.0.0.6", None)
    details = [
        _detail(
            topic="orders",
            partition=3,
            committed=100,
            log_start=7,
            log_end=130,
            lag=30,
            lag_seconds=12.25,
            status="WARN",
            owner=alice,
            status_reason="slow",
            operation_id=9,
            lag_seconds_method="interpolated",
            lag_seconds_doubtful=True,
            retention_seconds=50.0,
            retention_state="warning",
        ),
        _detail(topic="orders", partition=4, committed=55, log_end=55, lag=0, lag_seconds=0.0, owner=bob),
        _detail(topic="payments", partition=0, committed=3, log_end=9, lag=6, lag_seconds=None),
    ]
    text = _text(_group("g", details, members=2, lag_seconds=12.25))
    samples = _samples(text)
    by_partition = {
        (labels["topic"], labels["partition"]): labels for labels, _ in samples["kafka_consumergroup_group_offset"]
    }
    for d in rows.decode_group_detail(rows.encode_group_detail(details)):
        labels = by_partition[(d.topic, str(d.partition))]
        owner = d.owner or rows.Owner("", "", "", None)
        assert (labels["member_host"], labels["consumer_id"], labels["client_id"]) == (
            owner.host.removeprefix("/"),
            owner.member_id,
            owner.client_id,
        )
        assert ({**labels}, d.committed) in samples["kafka_consumergroup_group_offset"]
        assert ({**labels}, d.lag) in samples["kafka_consumergroup_group_lag"]
        if d.lag_seconds is not None:
            assert ({**labels}, d.lag_seconds) in samples["kafka_consumergroup_group_lag_seconds"]
    assert len(samples["kafka_consumergroup_group_lag_seconds"]) == 2
    assert list(by_partition[("orders", "3")]) == [
        "cluster_name",
        "group",
        "topic",
        "partition",
        "member_host",
        "consumer_id",
        "client_id",
    ]
    group_labels = {"cluster_name": "prod", "group": "g", "is_simple_consumer": "false"}
    assert samples["kafka_consumergroup_group_max_lag"] == [(group_labels, 30)]
    assert samples["kafka_consumergroup_group_max_lag_seconds"] == [(group_labels, 12.25)]
    assert samples["kafka_consumergroup_group_sum_lag"] == [({"cluster_name": "prod", "group": "g"}, 36)]


def test_a_group_without_members_is_a_simple_consumer():
    samples = _samples(_text(_group("g", [_detail()], members=0, lag_seconds=2.5)))
    assert samples["kafka_consumergroup_group_max_lag"][0][0]["is_simple_consumer"] == "true"


def test_with_per_partition_series_off_only_each_groups_figures_remain():
    samples = _samples(
        _text(_group("g", [_detail(partition=p, lag=p) for p in range(4)], lag_seconds=2.5), per_partition=False)
    )
    for name in (
        "kafka_consumergroup_group_offset",
        "kafka_consumergroup_group_lag",
        "kafka_consumergroup_group_lag_seconds",
    ):
        assert samples[name] == []
    assert samples["kafka_consumergroup_group_max_lag"][0][1] == 3
    assert samples["kafka_consumergroup_group_sum_lag"][0][1] == 6
    assert samples["kafka_consumergroup_group_max_lag_seconds"][0][1] == 2.5


def test_every_family_has_help_and_type_once_and_its_samples_together():
    groups = [_group(f"g{i}", [_detail(partition=p) for p in range(3)], lag_seconds=1.0) for i in range(3)]
    text = _text(*groups)
    seen_order = []
    for line in text.splitlines():
        name = line.split()[2] if line.startswith("# ") else line.split("{")[0]
        if not seen_order or seen_order[-1] != name:
            seen_order.append(name)
    assert len(seen_order) == len(set(seen_order)), "a family's lines are split apart"
    helps = [line.split()[2] for line in text.splitlines() if line.startswith("# HELP ")]
    types = [line.split()[2] for line in text.splitlines() if line.startswith("# TYPE ")]
    assert helps == types == [family.name for family in series.new_page().families.values()]
    assert all(len(line.split(" ", 3)[3]) > 20 for line in text.splitlines() if line.startswith("# HELP "))


def test_a_page_larger_than_the_memory_spool_comes_out_whole_and_in_order(monkeypatch):
    monkeypatch.setattr("groups.metrics.exposition.SPOOL_BYTES", 1000)
    groups = [
        _group(f"group-{i:04d}", [_detail(partition=p, committed=i * 10 + p) for p in range(5)]) for i in range(500)
    ]
    samples = _samples(_text(*groups))
    offsets = [
        (labels["group"], labels["partition"], value) for labels, value in samples["kafka_consumergroup_group_offset"]
    ]
    assert offsets == [(f"group-{i:04d}", str(p), i * 10 + p) for i in range(500) for p in range(5)]


def test_a_closed_page_releases_its_buffers_even_if_not_read_to_the_end():
    family = Family("x", "gauge", "help")
    family.add('a="1"', 1)
    page = Exposition({"x": family})
    chunks = page.chunks()
    next(chunks)
    chunks.close()
    with pytest.raises(ValueError, match="closed file"):
        list(family.chunks())


def test_numbers_are_written_exactly_and_special_floats_as_prometheus_spells_them():
    assert number(2**63 - 1) == "9223372036854775807"
    assert number(0.1) == "0.1" and number(3600.0) == "3600.0"
    assert number(math.inf) == "+Inf" and number(-math.inf) == "-Inf" and number(math.nan) == "NaN"


def test_a_counter_must_be_named_total():
    with pytest.raises(ValueError, match="_total"):
        Family("kafka_console_rounds", "counter", "help")
