"""How the collector reads committed offsets of many groups: answers read per group, each group's error its own.

The answers are real wire messages: built with kafka-python's message classes, encoded and decoded at
the versions the collector asks (FindCoordinator v4, OffsetFetch v8).
"""

import kafka.errors
import pytest
from kafka.protocol.consumer.group import OffsetFetchResponse
from kafka.protocol.metadata.find_coordinator import FindCoordinatorResponse

from groups.kafka import TP, ConsoleError
from groups.kafka.collect import console_error, group_errors, kafka_python_config
from groups.kafka.committed_offsets import CommittedOffsets, coordinators_from, fetch_request, offsets_from

_Group = OffsetFetchResponse.OffsetFetchResponseGroup
_Topic = _Group.OffsetFetchResponseTopics
_Partition = _Topic.OffsetFetchResponsePartitions


def _wire(message, version):
    return type(message).decode(message.encode(version=version), version=version)


def _fetched(groups: dict[str, dict | int]) -> OffsetFetchResponse:
    """An OffsetFetch v8 answer: per group either {(topic, partition): offset or (offset, error)} or an error code."""
    rows = []
    for group_id, answer in groups.items():
        if isinstance(answer, int):
            rows.append(_Group(group_id=group_id, topics=[], error_code=answer))
            continue
        by_topic: dict[str, list] = {}
        for (topic, partition), value in answer.items():
            offset, error = value if isinstance(value, tuple) else (value, 0)
            by_topic.setdefault(topic, []).append(
                _Partition(
                    partition_index=partition,
                    committed_offset=offset,
                    committed_leader_epoch=-1,
                    metadata="",
                    error_code=error,
                )
            )
        topics = [_Topic(name=name, partitions=parts) for name, parts in by_topic.items()]
        rows.append(_Group(group_id=group_id, topics=topics, error_code=0))
    return _wire(OffsetFetchResponse(throttle_time_ms=0, groups=rows), 8)


def _located(coordinators: dict[str, int | tuple[int, int]]) -> FindCoordinatorResponse:
    """A FindCoordinator v4 answer: per group its coordinator's node id, or (-1, error code)."""
    rows = [
        FindCoordinatorResponse.Coordinator(
            key=key,
            node_id=node if isinstance(node, int) else node[0],
            host="b",
            port=9092,
            error_code=0 if isinstance(node, int) else node[1],
            error_message=None,
        )
        for key, node in coordinators.items()
    ]
    return _wire(FindCoordinatorResponse(throttle_time_ms=0, coordinators=rows), 4)


def test_every_group_of_one_answer_is_read_and_uncommitted_partitions_are_left_out():
    found = CommittedOffsets()
    tps: dict = {}
    offsets_from(_fetched({f"g{i}": {("t", 0): i, ("t", 1): -1, ("u", 3): 5} for i in range(100)}), found, tps)
    assert len(found.offsets) == 100 and not found.failures
    assert found.offsets["g7"] == {TP("t", 0): 7, TP("u", 3): 5}


def test_groups_on_the_same_partition_share_one_tp():
    found = CommittedOffsets()
    tps: dict = {}
    offsets_from(_fetched({"a": {("t", 0): 1}}), found, tps)
    offsets_from(_fetched({"b": {("t", 0): 2}}), found, tps)
    [a], [b] = found.offsets["a"], found.offsets["b"]
    assert a is b and a == TP("t", 0)


def test_a_group_refused_or_with_a_failed_partition_has_its_error_and_the_others_are_read():
    found = CommittedOffsets()
    error = kafka.errors.GroupAuthorizationFailedError.errno
    unstable = kafka.errors.UnstableOffsetCommitError.errno
    offsets_from(
        _fetched({"ok": {("t", 0): 3}, "refused": error, "half": {("t", 0): 4, ("t", 1): (-1, unstable)}}),
        found,
        {},
    )
    assert found.offsets == {"ok": {TP("t", 0): 3}}
    assert isinstance(found.failures["refused"], kafka.errors.GroupAuthorizationFailedError)
    assert isinstance(found.failures["half"], kafka.errors.UnstableOffsetCommitError)


def test_groups_go_to_their_coordinator_and_one_without_a_coordinator_fails_alone():
    found = CommittedOffsets()
    unavailable = kafka.errors.CoordinatorNotAvailableError.errno
    by_node = coordinators_from(_located({"a": 1, "b": 2, "c": 1, "d": (-1, unavailable)}), found)
    assert by_node == {1: ["a", "c"], 2: ["b"]}
    assert isinstance(found.failures["d"], kafka.errors.CoordinatorNotAvailableError)


def test_one_request_asks_every_partition_of_every_group():
    request = _wire(fetch_request(["a", "b"]), 8)
    assert [g.group_id for g in request.groups] == ["a", "b"] and all(g.topics is None for g in request.groups)
    assert not request.require_stable


def test_a_refused_group_is_told_with_what_to_fix_and_the_rest_stands():
    found = CommittedOffsets(offsets={"g0": {}}, failures={"g13": kafka.errors.GroupAuthorizationFailedError()})
    errors = group_errors(found, "b:9092")
    assert set(errors) == {"g13"} and "ACL" in errors["g13"] and errors["g13"].count("'g13'") == 1


def test_a_retriable_failure_fails_the_round_instead_of_dropping_the_group():
    found = CommittedOffsets(failures={"g1": kafka.errors.CoordinatorLoadInProgressError()})
    with pytest.raises(ConsoleError) as caught:
        group_errors(found, "b:9092")
    assert caught.value.retriable and "coordinator" in caught.value.message


def test_a_broker_too_old_for_the_batched_requests_is_told_with_the_version_needed():
    refusal = kafka.errors.IncompatibleBrokerVersion(
        "No version of the 'OffsetFetch' Kafka protocol is supported by both the client [8-9] and broker [0-7]."
    )
    told = console_error(refusal, "reading committed offsets", "old-broker:9092")
    assert "old-broker:9092 is too old" in told.message and "Kafka 3.0 or later" in told.message
    assert "OffsetFetch" in told.message and not told.retriable


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
