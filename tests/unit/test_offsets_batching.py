"""How the collector reads committed offsets of many groups: one call, split only around failing groups."""

import kafka.errors
import pytest
from kafka.structs import OffsetAndMetadata, TopicPartition

from groups.kafka import TP, ConsoleError
from groups.kafka.collect import committed_in_batches, kafka_python_config


class Fetch:
    """Plays kafka-python's list_group_offsets: raises as it does when any group in the batch fails."""

    def __init__(self, offsets, failing=(), error=kafka.errors.GroupAuthorizationFailedError):
        self.offsets, self.failing, self.error, self.calls = offsets, set(failing), error, []

    def __call__(self, group_ids):
        self.calls.append(list(group_ids))
        if self.failing & set(group_ids):
            raise self.error("OffsetFetchResponse failed")
        return {
            g: {TopicPartition(t, p): OffsetAndMetadata(o, "", -1) for (t, p), o in self.offsets.get(g, {}).items()}
            for g in group_ids
        }


def test_all_groups_are_read_in_one_call_and_uncommitted_partitions_are_left_out():
    fetch = Fetch({f"g{i}": {("t", 0): i, ("t", 1): -1} for i in range(100)})
    offsets, errors, calls = committed_in_batches(fetch, [f"g{i}" for i in range(100)], "b:9092")
    assert calls == 1 and len(fetch.calls[0]) == 100
    assert offsets["g7"] == {TP("t", 0): 7} and not errors


def test_a_group_kafka_refuses_is_isolated_and_every_other_group_is_read():
    groups = [f"g{i}" for i in range(64)]
    fetch = Fetch({g: {("t", 0): 1} for g in groups}, failing={"g13"})
    offsets, errors, calls = committed_in_batches(fetch, groups, "b:9092")
    assert set(errors) == {"g13"} and "ACL" in errors["g13"]
    assert set(offsets) == set(groups) - {"g13"}
    assert calls <= 2 * 6 + 1  # halving: two calls per level of a 64-group batch, plus the first


def test_a_retriable_failure_fails_the_round_instead_of_being_split():
    fetch = Fetch({}, failing={"g1"}, error=kafka.errors.CoordinatorLoadInProgressError)
    with pytest.raises(ConsoleError) as caught:
        committed_in_batches(fetch, ["g0", "g1", "g2"], "b:9092")
    assert caught.value.retriable and "coordinator" in caught.value.message
    assert len(fetch.calls) == 1


def test_an_unreachable_cluster_says_to_check_the_brokers():
    fetch = Fetch({}, failing={"g0"}, error=kafka.errors.KafkaTimeoutError)
    with pytest.raises(ConsoleError) as caught:
        committed_in_batches(fetch, ["g0"], "broker-1:9092")
    assert "broker-1:9092 did not answer" in caught.value.message and caught.value.retriable


def test_no_groups_need_no_call():
    fetch = Fetch({})
    assert committed_in_batches(fetch, [], "b:9092") == ({}, {}, 0) and not fetch.calls


def test_the_clusters_client_settings_become_kafka_pythons():
    config = kafka_python_config(
        {
            "bootstrap.servers": "a:1,b:2",
            "security.protocol": "SASL_SSL",
            "sasl.mechanism": "SCRAM-SHA-512",
            "sasl.username": "u",
            "sasl.password": "p",
            "ssl.ca.location": "/ca.pem",
        },
        timeout=7.5,
    )
    assert config["bootstrap_servers"] == "a:1,b:2" and config["sasl_plain_password"] == "p"
    assert config["ssl_cafile"] == "/ca.pem" and config["request_timeout_ms"] == 7500


def test_a_client_setting_the_collector_cannot_translate_is_named():
    with pytest.raises(ConsoleError, match="ssl.keystore.location"):
        kafka_python_config({"bootstrap.servers": "a:1", "ssl.keystore.location": "/k"}, timeout=5)
