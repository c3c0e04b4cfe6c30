"""The lag collector against the real broker, Redis, and Celery worker and beat."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import threading
import time
from io import StringIO
from pathlib import Path

import pytest
from confluent_kafka import Producer, TopicPartition
from confluent_kafka.admin import OffsetSpec
from django.conf import settings
from django.core.management import CommandError, call_command
from django.db import connection

from groups.kafka import ConsoleError, admin_clients, client_for
from groups.models import (
    Cluster,
    Collection,
    Operation,
    Replay,
    Snapshot,
    SnapshotGroup,
    SnapshotTopic,
)
from groups.snapshot import history, queries
from groups.snapshot.collector import COLLECTED, FAILED, SKIPPED, collect
from groups.snapshot.lock import ClusterLock
from localkafka.broker import run_tool
from tests import kafkatools as kt
from tests.databases import shared_database_url
from tests.integration import test_parity_with_kafka_tool as parity

pytestmark = [pytest.mark.integration]

ROOT = Path(__file__).resolve().parents[2]
TIER_S_GROUPS, TIER_S_PARTITIONS = 1000, 20


@pytest.fixture(scope="session")  # pytest-django runs transactional tests last, after other modules
def tier_s(kafka_bootstrap):
    """1,000 Empty groups, each with offsets committed on the 20 partitions of one of ten topics."""
    prefix = f"tier-s-{os.getpid()}"
    topics = [f"{prefix}-t{i}" for i in range(10)]
    # pytest-django runs transactional tests last, so in a run of several modules this module's tests
    # are split and its fixtures set up twice: the second time finds the tier seeded.
    existing = kt.admin(kafka_bootstrap).list_topics(timeout=10).topics
    for topic in topics:
        if topic not in existing:
            kt.create_topic(kafka_bootstrap, topic, TIER_S_PARTITIONS)
            kt.produce(kafka_bootstrap, topic, {p: 30 for p in range(TIER_S_PARTITIONS)})
    groups = {
        f"{prefix}-g{i:04d}": {(topics[i % 10], p): (i + p) % 30 for p in range(TIER_S_PARTITIONS)}
        for i in range(TIER_S_GROUPS)
    }
    kt.commit_many(kafka_bootstrap, groups)
    return groups


def _command_env(redis_url: str, **extra: str) -> dict[str, str]:
    """A `manage.py` child process on this test's database and Redis."""
    return {
        **os.environ,
        "REDIS_URL": redis_url,
        "DATABASE_URL": shared_database_url(),
        **extra,
    }


def _log_end(bootstrap: str, topic: str) -> int:
    answer = kt.admin(bootstrap).list_offsets({TopicPartition(topic, 0): OffsetSpec.latest()})
    return next(iter(answer.values())).result(timeout=10).offset


def _served(cluster) -> int | None:
    return Collection.objects.filter(cluster=cluster).values_list("snapshot_id", flat=True).first()


@pytest.mark.django_db
def test_snapshot_offsets_log_ends_and_lag_equal_the_kafka_tool(cluster, kafka_bootstrap, situations, use_test_redis):
    report = collect(cluster)
    assert report.outcome == COLLECTED, report.describe()
    snapshot = queries.latest_snapshot(cluster).snapshot

    group_args = [arg for g in situations.values() for arg in ("--group", g)]
    tool = run_tool("consumer-groups", ["--describe", "--offsets", *group_args], kafka_bootstrap)
    assert tool.returncode == 0, tool.stderr
    tool_rows = parity._tables(tool.stdout)
    assert {r["GROUP"] for r in tool_rows} == set(situations.values()), tool.stdout
    for name, group in situations.items():
        row = queries.group_row(snapshot, group)
        assert row is not None, f"{name} missing from the snapshot"
        expected = {(r["TOPIC"], int(r["PARTITION"])): r for r in tool_rows if r["GROUP"] == group}
        seen = {(p.topic, p.partition): p for p in queries.partition_details(row)}
        assert set(seen) == set(expected), f"{name}: partitions differ"
        for tp, tool_row in expected.items():
            p = seen[tp]
            assert parity._dash(p.committed) == tool_row["CURRENT-OFFSET"], f"{name} {tp} committed"
            assert parity._dash(p.log_end) == tool_row["LOG-END-OFFSET"], f"{name} {tp} log end"
            assert parity._dash(p.lag) == tool_row["LAG"], f"{name} {tp} lag"
            assert (p.owner.member_id if p.owner else "-") == tool_row["CONSUMER-ID"], f"{name} {tp} owner"
        known = [int(r["LAG"]) for r in expected.values() if r["LAG"] != "-"]
        assert row.lag == (sum(known) if known else None), f"{name} total lag"

    # The situations themselves, so a broken fixture cannot pass silently.
    below = queries.partition_details(queries.group_row(snapshot, situations["below_start"]))[0]
    assert (below.committed, below.log_start, below.lag) == (5, 20, 35)
    classic = queries.group_row(snapshot, situations["stable_classic"])
    assert (classic.state, classic.type, classic.members) == ("Stable", "classic", 2)
    assert queries.group_row(snapshot, situations["stable_consumer"]).type == "consumer"


@pytest.mark.django_db
def test_a_round_at_tier_s_completes_and_prints_its_duration(cluster, tier_s, use_test_redis, capsys):
    out = StringIO()
    call_command("collect_lag", "--cluster", cluster.name, "-v", "2", stdout=out)
    with capsys.disabled():
        print(f"\ntier S ({TIER_S_GROUPS} groups x {TIER_S_PARTITIONS} partitions): {out.getvalue().strip()}")
    assert "collected in" in out.getvalue()

    info = queries.latest_snapshot(cluster)
    assert not info.stale and info.snapshot.group_count >= TIER_S_GROUPS
    rows = SnapshotGroup.objects.filter(snapshot=info.snapshot, group_id__in=list(tier_s))
    assert rows.count() == TIER_S_GROUPS
    # Each seeded group's lag is what was committed against 30 records per partition.
    for row in rows.filter(group_id__in=list(tier_s)[:50]):
        assert row.lag == sum(30 - offset for offset in tier_s[row.group_id].values())
        assert row.partitions == TIER_S_PARTITIONS and row.state == "Empty"
    # Pages sort and page in the database.
    top = list(queries.group_rows(info.snapshot, sort="-lag")[:5])
    assert [r.lag for r in top] == sorted((r.lag for r in top), reverse=True)


@pytest.mark.django_db
def test_a_deleted_group_and_a_deleted_topic_disappear_from_the_next_snapshot(
    cluster, kafka_bootstrap, unique, use_test_redis
):
    topic, group, kept = unique("short-lived"), unique("deleted-group"), unique("kept-group")
    kt.create_topic(kafka_bootstrap, topic, 2)
    kt.produce(kafka_bootstrap, topic, {0: 5, 1: 5})
    kt.commit(kafka_bootstrap, group, {(topic, 0): 1})
    kt.commit(kafka_bootstrap, kept, {(topic, 1): 2})
    assert collect(cluster).outcome == COLLECTED
    first = queries.latest_snapshot(cluster).snapshot
    assert queries.group_row(first, group) and queries.topic_row(first, topic).groups == 2

    kt.admin(kafka_bootstrap).delete_consumer_groups([group])[group].result(timeout=30)
    kt.admin(kafka_bootstrap).delete_topics([topic])[topic].result(timeout=30)
    kt.wait_for(lambda: topic not in kt.admin(kafka_bootstrap).list_topics(timeout=10).topics, what="topic deletion")
    assert collect(cluster).outcome == COLLECTED
    second = queries.latest_snapshot(cluster).snapshot
    assert queries.group_row(second, group) is None
    assert queries.topic_row(second, topic) is None
    # A group whose topic went keeps its row; its partition has no log end any more, as the tool shows it,
    # until the coordinator drops the offsets of the deleted topic (it does so on its own, at its pace).
    remaining = queries.partition_details(queries.group_row(second, kept))
    assert [(p.topic, p.committed, p.log_end, p.lag) for p in remaining] in ([(topic, 2, None, None)], [])


@pytest.mark.django_db
@pytest.mark.engine_neutral("a stopped broker and what the round tells of it; the stale mark is one UPDATE")
def test_a_stopped_broker_leaves_the_previous_snapshot_served_and_stale_with_the_reason(
    tmp_path, use_test_redis, settings
):
    from localkafka.broker import LocalKafka

    settings.KAFKA_REQUEST_TIMEOUT = 3.0
    broker = LocalKafka(tmp_path / "own-broker")
    try:
        bootstrap = broker.start()
        kt.wait_for_group_coordinator(bootstrap)
        kt.create_topic(bootstrap, "orders", 1)
        kt.produce(bootstrap, "orders", {0: 10})
        kt.commit(bootstrap, "billing", {("orders", 0): 4})
        own = Cluster.objects.create(name="own", bootstrap_servers=bootstrap)
        assert collect(own).outcome == COLLECTED
        before = queries.latest_snapshot(own)
        assert not before.stale and queries.group_row(before.snapshot, "billing").lag == 6
        collected_at = int(before.snapshot.taken_at.timestamp() * 1000)
    finally:
        broker.stop()

    retired = admin_clients.retired
    report = collect(own)
    assert report.outcome == FAILED
    assert f"Kafka at {bootstrap} did not answer" in report.reason
    after = queries.latest_snapshot(own)
    assert after.snapshot.pk == before.snapshot.pk
    assert after.stale and after.stale_reason == report.reason
    assert after.age_seconds >= before.age_seconds
    assert queries.group_row(after.snapshot, "billing").lag == 6
    assert Snapshot.objects.filter(cluster=own).count() == 1
    # The gap invents nothing: the group's history holds the one round that read Kafka.
    points = history.read_series(own.pk, history.SERIES_GROUP, "billing", since_ms=collected_at - 60_000)
    assert [(p.t_ms, p.last[0]) for p in points] == [(collected_at, 6)]
    collection = Collection.objects.get(cluster=own)
    assert collection.failed_rounds == 1 and collection.stale_since is not None

    # A group page opened during the outage asks the group's coordinator, and times out. librdkafka's client is
    # then left unable to reach the coordinator ever after, though the broker comes back (groups.kafka.admin_clients):
    # the timed-out client is given up, and once the broker is back a new one answers the page and the round.
    with pytest.raises(ConsoleError):  # a timeout, or "the group coordinator is not available"
        client_for(own).describe_groups(["billing"])
    assert admin_clients.retired > retired
    try:
        assert broker.start() == bootstrap
        kt.wait_for_group_coordinator(bootstrap)
        assert client_for(own).describe_groups(["billing"])["billing"].state == "Empty"
        back = collect(own)
        assert back.outcome == COLLECTED, back.reason
    finally:
        broker.stop()
    served = queries.latest_snapshot(own)
    assert not served.stale and queries.group_row(served.snapshot, "billing").lag == 6


@pytest.mark.django_db(transaction=True)
def test_a_round_killed_while_writing_leaves_the_previous_snapshot_served_and_the_next_round_works(
    cluster, tier_s, use_test_redis
):
    assert collect(cluster).outcome == COLLECTED
    served = _served(cluster)

    child = subprocess.Popen(
        [sys.executable, "manage.py", "collect_lag", "--cluster", cluster.name, "-v", "2"],
        cwd=ROOT,
        env=_command_env(use_test_redis, COLLECT_LOCK_SECONDS="3"),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        seen = []
        for line in child.stdout:
            seen.append(line)
            if ": writing " in line:
                break
        assert ": writing " in "".join(seen), "".join(seen)
        if connection.vendor == "sqlite":
            # The write has begun once SQLite's rollback journal exists (a transaction is changing pages).
            database = Path(settings.DATABASES["default"]["NAME"])
            journal = database.with_name(database.name + "-journal")
            kt.wait_for(journal.exists, timeout=10, interval=0.001, what="the round's write transaction")
        # PostgreSQL has no journal file to watch: the kill follows the round's own "writing" line, at or
        # just before its transaction; either way nothing half-written may be served.
        child.send_signal(signal.SIGKILL)
    finally:
        with contextlib.suppress(ProcessLookupError):
            child.kill()
        child.wait(timeout=30)
    assert child.returncode == -signal.SIGKILL

    assert _served(cluster) == served
    assert SnapshotGroup.objects.filter(snapshot_id=served).count() >= TIER_S_GROUPS

    # The killed round's lock expires after COLLECT_LOCK_SECONDS; then the next round runs normally.
    report = kt.wait_for(
        lambda: (r := collect(cluster)).outcome != SKIPPED and r,
        timeout=30,
        interval=0.5,
        what="the dead round's lock to expire",
    )
    assert report.outcome == COLLECTED, report.describe()
    assert _served(cluster) == report.snapshot_id != served
    assert set(Snapshot.objects.filter(cluster=cluster).values_list("pk", flat=True)) == {served, report.snapshot_id}
    assert SnapshotGroup.objects.filter(snapshot_id=report.snapshot_id).count() >= TIER_S_GROUPS


@pytest.mark.django_db(transaction=True)
def test_an_overrun_round_is_skipped_and_counted(cluster, tier_s, use_test_redis):
    child = subprocess.Popen(
        [sys.executable, "manage.py", "collect_lag", "--cluster", cluster.name, "-v", "2"],
        cwd=ROOT,
        env=_command_env(use_test_redis),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        assert ": reading Kafka" in child.stdout.readline()
        overrun = collect(cluster)  # while the command's round holds the cluster
        assert overrun.outcome == SKIPPED and "still running" in overrun.reason
        output = child.stdout.read()
    finally:
        child.wait(timeout=120)
    assert child.returncode == 0, output
    assert "collected in" in output
    collection = Collection.objects.get(cluster=cluster)
    assert collection.skipped_rounds == 1 and collection.rounds == 1

    with ClusterLock(cluster.pk) as held:
        assert held.acquired
        assert collect(cluster).outcome == SKIPPED
    assert Collection.objects.get(cluster=cluster).skipped_rounds == 2
    assert collect(cluster).outcome == COLLECTED


def test_collect_lag_names_the_registered_clusters_when_given_an_unknown_one(cluster):
    with pytest.raises(CommandError, match="Unknown cluster 'nope'. Registered clusters: local"):
        call_command("collect_lag", "--cluster", "nope")


@pytest.mark.django_db(transaction=True)
def test_beat_runs_each_clusters_round_at_its_period_on_the_collection_queue(cluster, use_test_redis, tmp_path):
    cluster.collect_every_seconds = 5
    cluster.save()
    log_path = tmp_path / "collection-worker.log"
    with open(log_path, "w") as log:
        # A worker that consumes the collection queue only, with beat inside it: rounds it runs came
        # through that queue.
        worker = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "celery",
                "-A",
                "console",
                "worker",
                "--beat",
                "-Q",
                "collection",
                "--schedule",
                str(tmp_path / "beat-schedule"),
                "--concurrency",
                "1",
                "-l",
                "info",
                "--without-mingle",
                "--without-gossip",
                "-n",
                f"collection-{os.getpid()}@%h",
            ],
            cwd=ROOT,
            # A Redis database of its own: the run's shared worker, which consumes the collection queue
            # too, must not take the rounds this test counts.
            env=_command_env(use_test_redis.rsplit("/", 1)[0] + "/7"),
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        try:
            kt.wait_for(
                lambda: Collection.objects.filter(cluster=cluster, rounds__gte=2).exists(),
                timeout=90,
                interval=0.5,
                what="two collection rounds from beat",
            )
            first_two = time.monotonic()
            kt.wait_for(
                lambda: Collection.objects.filter(cluster=cluster, rounds__gte=3).exists(),
                timeout=30,
                interval=0.5,
                what="a third round",
            )
            period = time.monotonic() - first_two
        finally:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(worker.pid, signal.SIGTERM)
            try:
                worker.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(worker.pid, signal.SIGKILL)
                worker.wait(timeout=30)
    text = log_path.read_text()
    assert "groups.tasks.collect_cluster" in text and "succeeded" in text, text[-3000:]
    assert period < 5 + 5, f"rounds came {period:.1f} s apart, for a period of 5 s"
    assert not queries.latest_snapshot(cluster).stale
    assert SnapshotTopic.objects.filter(snapshot_id=_served(cluster)).exists()


@pytest.mark.django_db
@pytest.mark.engine_neutral(
    "lag in seconds and status over real time; the rows it writes are those every collector test writes"
)
def test_a_group_that_stops_consuming_lags_by_the_time_it_stopped_and_is_ok_again_once_caught_up(
    cluster, kafka_bootstrap, unique, use_test_redis, settings
):
    settings.COLLECT_WINDOW_ROUNDS = 5
    topic, group = unique("steady"), unique("stops")
    kt.create_topic(kafka_bootstrap, topic, 1)
    stop = threading.Event()

    def produce_steadily():  # 20 records a second, each with its real creation time
        producer = Producer({"bootstrap.servers": kafka_bootstrap, "linger.ms": 0})
        while not stop.wait(0.05):
            producer.produce(topic, value=b"x", partition=0)
            producer.poll(0)
        producer.flush(10)

    producer = threading.Thread(target=produce_steadily, daemon=True)
    producer.start()
    try:
        time.sleep(2)
        assert collect(cluster).outcome == COLLECTED  # the collector was running before the group stopped
        end = _log_end(kafka_bootstrap, topic)
        stopped_at = time.time()  # the record at `end` is produced within 50 ms of this
        kt.commit(kafka_bootstrap, group, {(topic, 0): end})  # caught up, then it stops consuming
        rounds = []
        # A full window of rounds (5) and then some, and 15 s at least, however slow a round is.
        while len(rounds) < 7 or time.time() - stopped_at < 15:
            time.sleep(1)
            assert collect(cluster).outcome == COLLECTED
            rounds.append(queries.group_row(queries.latest_snapshot(cluster).snapshot, group))
        behind = rounds[-1]
        elapsed = queries.latest_snapshot(cluster).snapshot.taken_at.timestamp() - stopped_at
    finally:
        stop.set()
        producer.join(timeout=30)
    assert abs(behind.lag_seconds - elapsed) <= 0.1 * elapsed, (behind.lag_seconds, elapsed, behind.lag_seconds_method)
    assert behind.lag > 0 and behind.status == "ERR" and "STOP" in behind.status_reason, behind.status_reason
    assert rounds[0].status == "NEW", rounds[0].status_reason  # behind, the window not complete yet

    kt.commit(kafka_bootstrap, group, {(topic, 0): _log_end(kafka_bootstrap, topic)})
    assert collect(cluster).outcome == COLLECTED
    caught_up = queries.group_row(queries.latest_snapshot(cluster).snapshot, group)
    assert (caught_up.lag, caught_up.lag_seconds, caught_up.status) == (0, 0.0, "OK")


@pytest.mark.django_db
def test_a_replays_checkpoint_group_is_labelled_with_its_operation_and_hidden_unless_asked(
    cluster, kafka_bootstrap, unique, use_test_redis
):
    topic = unique("replayed")
    kt.create_topic(kafka_bootstrap, topic, 1)
    kt.produce(kafka_bootstrap, topic, {0: 3})
    checkpoint = f"console-replay-{unique('op')}"
    operation = Operation.objects.create(kind=Operation.Kind.REPLAY, cluster=cluster, reason="replay for the test")
    Replay.objects.create(operation=operation, copy_group=checkpoint, topic=topic, target_topic=f"{topic}-copy")
    kt.commit(kafka_bootstrap, checkpoint, {(topic, 0): 2})
    assert collect(cluster).outcome == COLLECTED
    snapshot = queries.latest_snapshot(cluster).snapshot
    assert queries.group_row(snapshot, checkpoint).replay_operation_id == operation.pk
    assert not queries.group_rows(snapshot, search=checkpoint).exists()
    assert queries.group_rows(snapshot, search=checkpoint, include_replay=True).get().lag == 1


@pytest.mark.django_db(transaction=True)  # beat closes connections that are in a transaction
def test_beat_runs_a_clusters_first_round_at_once_and_keeps_the_last_run_of_one_it_ran(cluster, tmp_path):
    from console.celery import app
    from groups.snapshot.beat import ClusterScheduler, entry_name

    cluster.collect_every_seconds = 3600
    cluster.save()
    scheduler = ClusterScheduler(app=app, schedule_filename=str(tmp_path / "beat-schedule"), lazy=True)
    scheduler.setup_schedule()
    scheduler._refresh()
    entry = scheduler.schedule[entry_name(cluster.name)]
    # Not an hour after beat started (the review's cluster that a restarted beat never collected).
    assert entry.is_due().is_due
    ran = app.now()
    scheduler.schedule[entry.name] = entry._next_instance(ran)
    scheduler._refresh()  # the clusters read again, as every 30 s
    again = scheduler.schedule[entry.name]
    assert again.last_run_at == ran and not again.is_due().is_due
    scheduler.close()
