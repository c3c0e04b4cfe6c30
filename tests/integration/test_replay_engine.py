"""Replays carried out by a real Celery worker against the real broker: what a copy preserves, what it
selects, how it survives a killed worker and how it stops when cancelled."""

from __future__ import annotations

import time
from collections import Counter
from datetime import UTC, datetime, timedelta

import pytest
from confluent_kafka import Producer

from groups.kafka import TP, client_for
from groups.models import AuditEvent, Operation
from groups.operations import replays as replay
from localkafka.broker import run_tool
from tests import kafkatools as kt

pytestmark = pytest.mark.integration

# An hour ago, to the millisecond: older records would be deleted by the broker's first retention
# pass (7 days by default) in the middle of the run, copies included, since a copy keeps its timestamp.
BASE_MS = (int(time.time()) - 3600) * 1000
SECOND = 1000


def _request(source: str, target: str, **fields) -> replay.ReplayRequest:
    fields.setdefault("partitions", None)
    fields.setdefault("offsets", None)
    fields.setdefault("time_from_ms", None)
    fields.setdefault("time_to_ms", None)
    return replay.ReplayRequest(topic=source, target_topic=target, **fields)


def _replay(cluster, request: replay.ReplayRequest, **kwargs) -> Operation:
    """Preview and request the replay as the pages do; a worker picks it up after commit."""
    preview = replay.preview_replay(client_for(cluster), request)
    return replay.request_replay(
        cluster=cluster, request=request, preview=preview, reason="test", actor="tester", **kwargs
    )


def _wait_final(operation: Operation, timeout: float = 60) -> Operation:
    def final():
        operation.refresh_from_db()
        return operation.is_final

    kt.wait_for(final, timeout=timeout, interval=0.1, what=f"operation #{operation.pk} to finish")
    return operation


def _copies(records: dict[int, list[tuple]]) -> dict[int, list[tuple]]:
    """The preserved part of each record (key, value, headers, timestamp), per partition in order."""
    return {p: [record[1:] for record in rows] for p, rows in records.items()}


def _actions(operation: Operation) -> list[str]:
    return list(AuditEvent.objects.filter(operation=operation).order_by("id").values_list("action", flat=True))


@pytest.fixture
def topics(kafka_bootstrap, unique):
    def make(
        partitions: int = 2,
        target_partitions: int | None = None,
        target_config: dict | None = None,
        source_config: dict | None = None,
    ):
        source, target = unique("replay-src"), unique("replay-dst")
        kt.create_topic(kafka_bootstrap, source, partitions, source_config)
        kt.create_topic(kafka_bootstrap, target, target_partitions or partitions, target_config)
        return source, target

    return make


def _produce(bootstrap: str, topic: str, records: list[dict]) -> None:
    """Write the records; fails if the broker refused any (flush alone drops refused ones silently)."""
    producer = Producer({"bootstrap.servers": bootstrap, "linger.ms": 5})
    refused = []

    def delivered(error, message) -> None:
        if error is not None:
            refused.append(f"{message.partition()}: {error}")

    for r in records:
        producer.produce(
            topic,
            partition=r["partition"],
            key=r.get("key"),
            value=r.get("value"),
            headers=r.get("headers"),
            timestamp=r.get("timestamp", 0),
            on_delivery=delivered,
        )
    assert producer.flush(30) == 0
    assert not refused, f"the broker refused records of {topic}: {refused}"


def test_a_copy_keeps_keys_values_headers_in_order_with_duplicates_and_timestamps_and_stops_on_markers(
    celery_worker, cluster, kafka_bootstrap, topics
):
    source, target = topics(2)
    plain = [
        {
            "partition": 0,
            "key": b"a",
            "value": b"1",
            "timestamp": BASE_MS,
            "headers": [("h", b"x"), ("dup", b"first"), ("h", b"y"), ("dup", b"second"), ("none", None)],
        },
        {"partition": 0, "key": None, "value": b"keyless", "timestamp": BASE_MS + 5 * SECOND},
        {
            "partition": 0,
            "key": b"tombstone",
            "value": None,
            "timestamp": BASE_MS - 7 * SECOND,
            "headers": [("z", b""), ("a", b"\x00\xff")],
        },
        {"partition": 1, "key": b"\x00binary", "value": bytes(range(256)), "timestamp": BASE_MS + 1},
    ]
    _produce(kafka_bootstrap, source, plain)
    # Then transactions: partition 0 gets a committed one (its marker at offset 6) and partition 1 an aborted one.
    producer = Producer({"bootstrap.servers": kafka_bootstrap, "transactional.id": f"{source}-writer"})
    producer.init_transactions()
    producer.begin_transaction()
    for i in range(3):
        producer.produce(
            source,
            partition=0,
            key=f"txn-{i}".encode(),
            value=b"committed",
            timestamp=BASE_MS + i,
            headers=[("txn", b"yes")],
        )
    producer.commit_transaction()
    producer.begin_transaction()
    producer.produce(source, partition=1, key=b"aborted", value=b"never seen")
    producer.flush(10)
    producer.abort_transaction()
    producer.begin_transaction()
    producer.produce(source, partition=0, key=b"after", value=b"out of range", timestamp=BASE_MS)
    producer.produce(source, partition=1, key=b"after", value=b"in range", timestamp=BASE_MS)
    producer.commit_transaction()
    # The commit returns before the brokers write its markers; until they do, the last stable offset
    # stays below the log end and the plan ends a range there, as it should (a transaction is open).
    client = client_for(cluster)
    tps = [TP(source, 0), TP(source, 1)]
    kt.wait_for(
        lambda: client.stable_offsets(tps) == {tp: ends.end for tp, ends in client.log_offsets(tps).items()},
        what=f"the commit markers of {source}",
    )
    # Partition 0: 0-2 plain, 3-5 committed, 6 its marker, 7 "after", 8 marker. The range ends on the
    # marker (offset 6), which is never delivered: the copy must stop by position, not wait for it.
    request = _request(source, target, offsets={0: (0, 7), 1: (0, 5)})
    operation = _wait_final(_replay(cluster, request), timeout=30)
    assert operation.status == "succeeded", operation.error

    expected = kt.read_records(kafka_bootstrap, source, ranges={0: (0, 7), 1: (0, 5)})
    assert [r[1] for r in expected[0]] == [b"a", None, b"tombstone", b"txn-0", b"txn-1", b"txn-2"]
    assert [r[1] for r in expected[1]] == [b"\x00binary", b"after"]
    copied = kt.read_records(kafka_bootstrap, target)
    assert _copies(copied) == _copies(expected)
    assert copied[0][0][3] == [("h", b"x"), ("dup", b"first"), ("h", b"y"), ("dup", b"second"), ("none", None)]
    assert (operation.progress_copied, operation.progress_total, operation.progress_scanned) == (8, 12, 12)
    assert _actions(operation) == ["requested", "started", "succeeded"]
    started, finished = (AuditEvent.objects.get(operation=operation, action=a) for a in ("started", "succeeded"))
    assert [(r["partition"], r["start"], r["end"]) for r in started.plan] == [(0, 0, 7), (1, 0, 5)]
    assert [(r["partition"], r["copied"]) for r in finished.plan] == [(0, 6), (1, 2)]
    assert "copied 6 records" in finished.plan[0]["note"] and finished.outcome == "succeeded"


@pytest.mark.parametrize(
    "filters, expected_keys",
    [
        ({"key_equals": "user-3"}, ["user-3"]),
        ({"key_regex": "^user-[0-2]$"}, ["user-0", "user-1", "user-2"]),
        ({"header_present": "vip"}, ["user-4", "user-8", "user-12"]),
        ({"header_equals": ("source", "billing")}, ["user-1", "user-3", "user-5", "user-7", "user-9", "user-11"]),
        ({"key_regex": "1", "header_equals": ("source", "web")}, ["user-10", "user-12"]),
    ],
)
def test_filters_select_exactly_the_matching_records(
    celery_worker, cluster, kafka_bootstrap, topics, filters, expected_keys
):
    source, target = topics(1, target_partitions=3)
    records = []
    for i in range(14):
        headers = [("source", b"shop"), ("source", b"billing" if i % 2 else b"web")]
        if i % 4 == 0 and i:
            headers.append(("vip", None))
        records.append(
            {
                "partition": 0,
                "key": f"user-{i}".encode(),
                "value": f"v{i}".encode(),
                "headers": headers,
                "timestamp": BASE_MS + i,
            }
        )
    _produce(kafka_bootstrap, source, records)
    request = _request(source, target, offsets={0: (0, 13)}, partitioning="key-hash", **filters)
    operation = _wait_final(_replay(cluster, request), timeout=30)
    assert operation.status == "succeeded", operation.error
    by_partition = kt.read_records(kafka_bootstrap, target)
    copied = [row for rows in by_partition.values() for row in rows]
    assert sorted(row[1].decode() for row in copied) == sorted(expected_keys)
    # Placed as Java producers place keys (the default partitioner), not by librdkafka's CRC32 default.
    assert all(_java_partition(row[1], 3) == p for p, rows in by_partition.items() for row in rows)
    originals = {r["key"]: r for r in records}
    assert all(
        (row[2], row[3], row[4])
        == (originals[row[1]]["value"], originals[row[1]]["headers"], originals[row[1]]["timestamp"])
        for row in copied
    )
    assert (operation.progress_copied, operation.progress_scanned) == (len(expected_keys), 13)


def _java_partition(key: bytes, partitions: int) -> int:
    """Where Kafka's default partitioner puts a key: toPositive(murmur2(key)) % partitions (Utils.murmur2)."""
    m = 0x5BD1E995
    h = (0x9747B28C ^ len(key)) & 0xFFFFFFFF
    whole = len(key) - len(key) % 4
    for i in range(0, whole, 4):
        k = (int.from_bytes(key[i : i + 4], "little") * m) & 0xFFFFFFFF
        k = ((k ^ (k >> 24)) * m) & 0xFFFFFFFF
        h = ((h * m) & 0xFFFFFFFF) ^ k
    tail = key[whole:]
    if len(tail) == 3:
        h ^= tail[2] << 16
    if len(tail) >= 2:
        h ^= tail[1] << 8
    if tail:
        h = ((h ^ tail[0]) * m) & 0xFFFFFFFF
    h = ((h ^ (h >> 13)) * m) & 0xFFFFFFFF
    h ^= h >> 15
    return (h & 0x7FFFFFFF) % partitions


def test_the_java_partition_of_a_key_is_computed_as_kafka_does():
    # Kafka's UtilsTest.testMurmur2 values, as unsigned hashes: -973932308 and -790332482.
    assert _java_partition(b"21", 2**31) == (-973932308) & 0x7FFFFFFF
    assert _java_partition(b"foobar", 2**31) == (-790332482) & 0x7FFFFFFF


def _tool_time(epoch_ms: int) -> str:
    moment = datetime.fromtimestamp(epoch_ms / 1000, UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}"


def _tool_offsets(bootstrap: str, topic: str, epoch_ms: int) -> dict[int, int]:
    result = run_tool(
        "consumer-groups",
        [
            "--reset-offsets",
            "--group",
            f"{topic}-probe",
            "--topic",
            topic,
            "--to-datetime",
            _tool_time(epoch_ms),
            "--dry-run",
        ],
        bootstrap,
    )
    assert result.returncode == 0 and "Error" not in result.stdout, result.stdout + result.stderr
    rows, header = {}, None
    for fields in (line.split() for line in result.stdout.splitlines()):
        if fields and fields[0] == "GROUP":
            header = fields
        elif header and len(fields) == len(header):
            row = dict(zip(header, fields))
            rows[int(row["PARTITION"])] = int(row["NEW-OFFSET"])
    return rows


def test_a_time_window_selects_the_offsets_the_tool_s_to_datetime_gives(
    celery_worker, cluster, kafka_bootstrap, topics
):
    source, target = topics(3)
    # Partition 0 in time order; partition 1 out of order (CreateTime set by producers); partition 2 all
    # before the window, so both lookups fall back to its end.
    stamps = {0: list(range(10)), 1: [5, 0, 6, 1, 7, 2, 8, 3, 9, 4], 2: [0, 1, 2]}
    _produce(
        kafka_bootstrap,
        source,
        [
            {"partition": p, "key": f"{p}-{i}".encode(), "value": b"v", "timestamp": BASE_MS + s * SECOND}
            for p, seconds in stamps.items()
            for i, s in enumerate(seconds)
        ],
    )
    t1, t2 = BASE_MS + 3 * SECOND, BASE_MS + 7 * SECOND + 500
    request = _request(source, target, time_from_ms=t1, time_to_ms=t2)
    preview = replay.preview_replay(client_for(cluster), request)
    starts, ends = _tool_offsets(kafka_bootstrap, source, t1), _tool_offsets(kafka_bootstrap, source, t2)
    assert {r["partition"]: (r["start"], r["end"]) for r in preview.ranges} == {p: (starts[p], ends[p]) for p in stamps}
    assert (starts, ends) == ({0: 3, 1: 0, 2: 3}, {0: 8, 1: 6, 2: 3})  # the situation this test is about

    operation = _wait_final(
        replay.request_replay(cluster=cluster, request=request, preview=preview, reason="test", actor="tester"),
        timeout=30,
    )
    assert operation.status == "succeeded", operation.error
    copied = kt.read_records(kafka_bootstrap, target)
    assert {p: [r[1].decode() for r in rows] for p, rows in copied.items()} == {
        p: [f"{p}-{i}" for i in range(starts[p], ends[p])] for p in stamps
    }
    # An offset window: partition 1's records stamped before t1 but placed after its start are copied too.
    assert [r[4] for r in copied[1]] == [BASE_MS + s * SECOND for s in (5, 0, 6, 1, 7, 2)]


def _replay_killed_mid_copy(
    celery_worker, cluster, bootstrap: str, source: str, target: str, count: int, **request_fields
) -> Operation:
    """`count` records per partition of 2, copied at 150/s; the worker is killed once 100 are copied, then
    a new one started. Returns the replay as the dead run left it."""
    _produce(
        bootstrap,
        source,
        [
            {
                "partition": i % 2,
                "key": f"k-{i}".encode(),
                "value": f"value {i}".encode() * 3,
                "headers": [("n", str(i).encode()), ("n", b"again")],
                "timestamp": BASE_MS + i,
            }
            for i in range(2 * count)
        ],
    )
    request = _request(source, target, offsets={0: (0, count), 1: (0, count)}, throttle_rps=150, **request_fields)
    operation = _replay(cluster, request)

    def copying():
        operation.refresh_from_db()
        return operation.status == "running" and operation.progress_copied >= 100

    try:
        kt.wait_for(copying, timeout=30, interval=0.05, what="the copy to be well under way")
        celery_worker.kill()
    finally:
        celery_worker.start()
    operation.refresh_from_db()
    return operation


def test_a_worker_killed_mid_copy_is_resumed_and_every_record_arrives_exactly_once(
    celery_worker, cluster, kafka_bootstrap, topics
):
    source, target = topics(2)
    count = 300
    operation = _replay_killed_mid_copy(celery_worker, cluster, kafka_bootstrap, source, target, count)
    copied_before = operation.progress_copied
    assert operation.status == "running" and copied_before < 2 * count  # nobody reported back
    assert replay.resume_stale_replays() == []  # its run reported a moment ago: not stale yet
    assert replay.resume_stale_replays(stale_after=timedelta(0)) == [operation.pk]

    _wait_final(operation, timeout=60)
    assert operation.status == "succeeded", operation.error
    assert operation.progress_copied == 2 * count and operation.replay_attempt == 2
    copied = kt.read_records(kafka_bootstrap, target)
    source_records = kt.read_records(kafka_bootstrap, source)
    assert Counter(r[1] for rows in copied.values() for r in rows) == Counter(
        r[1] for rows in source_records.values() for r in rows
    )  # each key once: no gap, no duplicate
    assert _copies(copied) == _copies(source_records)  # in order, all fields
    assert _actions(operation) == ["requested", "started", "resumed", "succeeded"]
    resumed = AuditEvent.objects.get(operation=operation, action="resumed")
    assert sum(r["copied"] for r in resumed.plan) >= copied_before


def test_at_least_once_copies_every_record_without_transactions_and_a_killed_run_only_adds_duplicates(
    celery_worker, cluster, kafka_bootstrap, topics
):
    source, target = topics(2)
    operation = _replay_killed_mid_copy(
        celery_worker, cluster, kafka_bootstrap, source, target, 300, exactly_once=False
    )
    assert operation.replay.exactly_once is False  # recorded with the request
    assert replay.resume_stale_replays(stale_after=timedelta(0)) == [operation.pk]
    _wait_final(operation, timeout=60)
    assert operation.status == "succeeded", operation.error

    # No transactions: a read_uncommitted reader sees the same as a read_committed one, and the
    # target has no transaction markers (its offsets are all records).
    committed = kt.read_records(kafka_bootstrap, target)
    assert kt.read_records(kafka_bootstrap, target, isolation="read_uncommitted") == committed
    assert all(rows == [] or rows[-1][0] == len(rows) - 1 for rows in committed.values())
    source_records = kt.read_records(kafka_bootstrap, source)
    for p, rows in source_records.items():
        copies = [r[1:] for r in committed[p]]
        # What the killed run wrote (a prefix), then the resumed run from its last checkpoint, which is
        # no later than where the killed run got: src[:k] + src[c:] with c <= k. Nothing else.
        expected = [r[1:] for r in rows]
        twice = len(copies) - len(expected)  # k - c
        assert twice >= 0 and any(copies == expected[: c + twice] + expected[c:] for c in range(len(expected) + 1)), p


def test_cancel_stops_the_copy_within_two_seconds_and_says_how_many_were_copied(
    celery_worker, cluster, kafka_bootstrap, topics
):
    source, target = topics(1)
    _produce(kafka_bootstrap, source, [{"partition": 0, "key": f"k-{i}".encode(), "value": b"v"} for i in range(400)])
    operation = _replay(cluster, _request(source, target, offsets={0: (0, 400)}, throttle_rps=40))

    def copying():
        operation.refresh_from_db()
        return operation.status == "running" and operation.progress_copied > 0

    kt.wait_for(copying, timeout=30, interval=0.05, what="the copy to start")
    asked = time.monotonic()
    replay.cancel_replay(operation, "alice")
    _wait_final(operation, timeout=10)
    assert time.monotonic() - asked < 2.0
    assert operation.status == "cancelled"
    copied = operation.progress_copied
    assert 0 < copied < 400
    assert f"Cancelled by alice: {copied} of 400 records were copied" in operation.error
    time.sleep(1)  # nothing arrives after it said it stopped
    assert len(kt.read_records(kafka_bootstrap, target)[0]) == copied
    assert _actions(operation) == ["requested", "started", "cancel_requested", "cancelled"]
    assert AuditEvent.objects.get(operation=operation, action="cancel_requested").actor == "alice"
    with pytest.raises(replay.ReplayError, match="is cancelled, so there is nothing to cancel"):
        replay.cancel_replay(operation, "alice")


def test_a_pending_replay_is_cancelled_at_once_and_never_runs(
    transactional_db, use_test_redis, cluster, kafka_bootstrap, topics
):
    source, target = topics(1)
    _produce(kafka_bootstrap, source, [{"partition": 0, "key": b"k", "value": b"v"}])
    operation = _replay(cluster, _request(source, target, offsets={0: (0, 1)}), dispatch=False)
    replay.cancel_replay(operation, "alice")
    assert operation.status == "cancelled" and "nothing was copied" in operation.error
    replay.run_replay(operation.pk)  # a late task finds nothing to do
    assert kt.read_records(kafka_bootstrap, target) == {0: []}


@pytest.mark.parametrize(
    "fields, message",
    [
        ({"offsets": {0: (7, 2)}}, "The range 7-2 of partition 0 is reversed"),
        ({"offsets": {0: (3, 3)}}, "is empty"),
        ({"offsets": {0: (20, 30)}}, "outside the logs (partition 0: 0 to 5)"),
        ({"time_from_ms": BASE_MS + 60 * SECOND, "time_to_ms": BASE_MS + 120 * SECOND}, "has a timestamp in"),
        ({"offsets": {0: (0, 5), 4: (0, 1)}}, "partition 4 does not exist"),
        ({"topic": "{unknown}", "offsets": {0: (0, 5)}}, "Topic '{unknown}' does not exist"),
        ({"target_topic": "{unknown}", "offsets": {0: (0, 5)}}, "Target topic '{unknown}' does not exist"),
        ({"target_topic": "{source}", "offsets": {0: (0, 2)}}, "would overlap its own copies"),
        ({"offsets": {0: (0, 5)}, "key_regex": "user-(\\d+"}, "does not compile"),
        ({"offsets": {0: (0, 5)}, "throttle_rps": 0}, "The throttle must be at least 1 record per second"),
    ],
)
def test_bad_input_is_refused_with_a_message_and_nothing_is_started(
    cluster, kafka_bootstrap, topics, unique, fields, message
):
    source, target = topics(2)
    _produce(
        kafka_bootstrap,
        source,
        [{"partition": 0, "key": b"k", "value": b"v", "timestamp": BASE_MS + i} for i in range(5)],
    )
    unknown = unique("no-such-topic")
    fields = {k: v.format(unknown=unknown, source=source) if isinstance(v, str) else v for k, v in fields.items()}
    request = _request(fields.pop("topic", source), fields.pop("target_topic", target), **fields)
    with pytest.raises(replay.ReplayError) as refused:
        replay.preview_replay(client_for(cluster), request)
    assert message.format(unknown=unknown) in str(refused.value)
    assert not Operation.objects.exists()
    assert kt.read_records(kafka_bootstrap, target) == {0: [], 1: []}


def test_the_preview_warns_about_what_the_target_would_do_to_the_copies(cluster, kafka_bootstrap, topics):
    # The source accepts future timestamps; the target is Kafka 4's default (at most 1 h ahead), keeps
    # records 7 days and stamps them itself.
    # Both configs are set when the topics are created: a config altered afterwards reaches the
    # partition's log a moment later, and a record produced meanwhile is judged by the old one.
    week = str(7 * 86_400_000)
    source, target = topics(
        1,
        target_config={"message.timestamp.type": "LogAppendTime", "retention.ms": week},
        source_config={"message.timestamp.after.max.ms": str(10 * 86_400_000)},
    )
    now = int(time.time() * 1000)
    _produce(
        kafka_bootstrap,
        source,
        [
            {"partition": 0, "key": b"old", "value": b'{"a": 1}', "timestamp": now - 30 * 86_400_000},
            {"partition": 0, "key": b"future", "value": b"\x00\x01", "timestamp": now + 2 * 3_600_000},
        ],
    )
    preview = replay.preview_replay(
        client_for(cluster), _request(source, target, offsets={0: (0, 2)}, key_equals="nobody")
    )
    text = "\n".join(preview.warnings)
    assert "uses LogAppendTime" in text
    assert preview.target == {
        "partitions": 1,
        "timestamp_type": "LogAppendTime",
        "retention_ms": 7 * 86_400_000,
        "source_partitions": 1,
        "source_timestamp_type": "CreateTime",
    }
    assert "The filter matches none of the 2 sampled records" in text
    assert [(s["key"], s["value_kind"], s["matches"]) for s in preview.sample] == [
        ("old", "json", False),
        ("future", "hex", False),
    ]
    # With a CreateTime target the timestamps are kept, so retention and the future limit matter.
    _, create_time = topics(1, target_config={"retention.ms": week})
    kept = "\n".join(
        replay.preview_replay(client_for(cluster), _request(source, create_time, offsets={0: (0, 2)})).warnings
    )
    assert "retention (7 days) deletes copies that old at once" in kept
    assert "Partition 0 offset 1 is stamped" in kept and "newer than the target accepts" in kept


def test_a_run_near_its_time_limit_hands_the_copy_to_a_new_task_which_finishes_it_exactly_once(
    celery_worker, cluster, kafka_bootstrap, topics
):
    source, target = topics(1)
    _produce(kafka_bootstrap, source, [{"partition": 0, "key": f"k-{i}".encode(), "value": b"v"} for i in range(200)])
    operation = _replay(cluster, _request(source, target, offsets={0: (0, 200)}, throttle_rps=50), dispatch=False)
    replay.run_replay(operation.pk, time_limit=4)  # here, in the test process: hands over after 2 s
    operation.refresh_from_db()
    assert operation.status == "running" and 0 < operation.progress_copied < 200
    _wait_final(operation, timeout=30)  # the worker's task took it over
    assert operation.status == "succeeded", operation.error
    assert operation.replay_attempt == 2 and operation.progress_copied == 200
    assert [r[1] for r in kt.read_records(kafka_bootstrap, target)[0]] == [f"k-{i}".encode() for i in range(200)]
    assert _actions(operation) == ["requested", "started", "resumed", "succeeded"]


def test_only_one_run_holds_a_replay_and_a_redelivered_task_takes_over_only_a_silent_one(transactional_db, cluster):
    from django.utils import timezone

    from groups.operations.replay_run import ReplayRun

    _claim = ReplayRun.claim

    operation = Operation.objects.create(
        kind=Operation.Kind.REPLAY, cluster=cluster, group_id="console-replay-x", plan=[], reason="r"
    )
    assert _claim(operation.pk, None) == 1
    assert _claim(operation.pk, None) is None  # a redelivered task while the run reports
    assert _claim(operation.pk, takeover=5) is None  # a stale hand-over
    Operation.objects.filter(pk=operation.pk).update(heartbeat=timezone.now() - timedelta(minutes=1))
    assert _claim(operation.pk, None) == 2  # the run went silent: the redelivered task resumes it
    assert _claim(operation.pk, takeover=1) is None
    assert _claim(operation.pk, takeover=2) == 3
    Operation.objects.filter(pk=operation.pk).update(status=Operation.Status.SUCCEEDED)
    assert _claim(operation.pk, takeover=3) is None


def test_runs_that_keep_dying_at_one_checkpoint_fail_the_replay_but_a_worker_outage_does_not(
    transactional_db, cluster, monkeypatch
):
    from django.utils import timezone

    from groups.operations.replay_run import ReplayRun
    from groups.operations.replays import MAX_STALLS

    _claim = ReplayRun.claim

    dispatched = []
    monkeypatch.setattr(replay, "dispatch_resume", lambda pk, attempt: dispatched.append(attempt) or True)
    request = _request("src", "dst", offsets={0: (0, 100)}, exactly_once=False)
    operation = Operation.objects.create(
        kind=Operation.Kind.REPLAY,
        cluster=cluster,
        reason="r",
        plan=[{"topic": "src", "partition": 0, "start": 0, "end": 100, "count": 100}],
        progress_total=100,
    )
    replay.save_request(operation, request, "console-replay-stalls")

    def run_dies(scanned: int) -> None:
        """A worker takes the replay, reads up to `scanned`, and is killed without a word."""
        current = Operation.objects.get(pk=operation.pk)
        assert _claim(operation.pk, None if current.status == "pending" else current.replay_attempt)
        Operation.objects.filter(pk=operation.pk).update(
            progress_scanned=scanned, progress_copied=scanned, heartbeat=timezone.now() - timedelta(minutes=5)
        )

    run_dies(40)
    assert replay.resume_stale_replays() == [operation.pk]
    # All workers down: the resumed task waits in the queue; reaper rounds do not count that.
    for _ in range(MAX_STALLS + 2):
        assert replay.resume_stale_replays() == [operation.pk]
    run_dies(60)  # progress since: the count starts again
    for _ in range(MAX_STALLS - 1):
        assert replay.resume_stale_replays() == [operation.pk]
        run_dies(60)
    assert replay.resume_stale_replays() == [operation.pk]  # MAX_STALLS runs stopped at 60: one more try
    run_dies(60)
    assert replay.resume_stale_replays() == []
    operation.refresh_from_db()
    assert operation.status == "failed" and operation.replay_stalls == MAX_STALLS + 1
    assert operation.error.startswith(
        f"Stopped after {MAX_STALLS + 1} runs in a row died at the same place (60 of 100 source offsets read)"
    )
    assert operation.error.endswith(
        "60 of 100 records had been copied before that; they stay in the target (at "
        "least once: the records copied after the last checkpoint before a worker died, "
        "one is taken every 0.5 s or 200,000 records copied, may be there twice)."
    )
    assert _actions(operation) == ["failed"]


def test_a_requester_who_lost_the_replay_right_meanwhile_is_refused_when_the_run_starts(
    cluster, kafka_bootstrap, topics, make_user
):
    from groups.models import Grant

    source, target = topics(1)
    _produce(kafka_bootstrap, source, [{"partition": 0, "key": b"k", "value": b"v"}])
    bob = make_user("bob", "Operator")
    request = _request(source, target, offsets={0: (0, 1)})
    operation = replay.request_replay(
        cluster=cluster,
        request=request,
        reason="r",
        actor="bob",
        requester=bob,
        preview=replay.preview_replay(client_for(cluster), request),
        dispatch=False,
    )
    Grant.objects.filter(user=bob).delete()
    replay.run_replay(operation.pk)
    operation.refresh_from_db()
    assert operation.status == "failed" and "bob may not replay records on cluster 'local'" in operation.error
    assert _actions(operation) == ["requested", "started", "denied", "failed"]
    assert kt.read_records(kafka_bootstrap, target) == {0: []}


def test_on_a_cluster_requiring_approval_a_replay_waits_and_runs_once_approved(
    celery_worker, cluster, kafka_bootstrap, topics, make_user
):
    from groups.operations import approvals

    cluster.require_approval = True
    cluster.save()
    source, target = topics(1)
    _produce(kafka_bootstrap, source, [{"partition": 0, "key": f"k-{i}".encode(), "value": b"v"} for i in range(5)])
    alice, carol = make_user("alice", "Operator"), make_user("carol", "Approver")
    request = _request(source, target, offsets={0: (1, 4)}, keep_timestamps=False)
    operation = replay.request_replay(
        cluster=cluster,
        request=request,
        reason="r",
        actor="alice",
        requester=alice,
        preview=replay.preview_replay(client_for(cluster), request),
    )
    requested_at = int(time.time() * 1000)
    assert operation.status == "awaiting_approval"
    assert approvals.review(operation).blocked_reason is None
    approvals.approve(operation, carol, "checked with the team")
    _wait_final(operation, timeout=30)
    assert operation.status == "succeeded", operation.error
    copied = kt.read_records(kafka_bootstrap, target)[0]
    assert [r[1] for r in copied] == [b"k-1", b"k-2", b"k-3"]
    assert all(r[4] >= requested_at for r in copied)  # stamped when copied, as asked
    assert _actions(operation) == ["requested", "approved", "started", "succeeded"]


def test_a_copy_the_target_refuses_fails_the_replay_with_the_reason_and_leaves_no_partial_batch(
    celery_worker, cluster, kafka_bootstrap, topics
):
    # The target refuses timestamps more than an hour ahead (Kafka 4's default); the source, created
    # with its limit rather than altered after, accepts them from its first record on.
    source, target = topics(1, source_config={"message.timestamp.after.max.ms": str(10 * 86_400_000)})
    now = int(time.time() * 1000)
    _produce(
        kafka_bootstrap,
        source,
        [{"partition": 0, "key": f"k-{i}".encode(), "value": b"v", "timestamp": now} for i in range(5)]
        + [{"partition": 0, "key": b"future", "value": b"v", "timestamp": now + 2 * 3_600_000}],
    )
    operation = _wait_final(_replay(cluster, _request(source, target, offsets={0: (0, 6)})), timeout=60)
    assert operation.status == "failed"
    assert "Kafka refused a copy into" in operation.error and "stamp the copies now instead" in operation.error
    assert "Nothing was copied." in operation.error
    assert kt.read_records(kafka_bootstrap, target) == {0: []}  # the batch with the refused copy was aborted whole
    assert _actions(operation) == ["requested", "started", "failed"]
