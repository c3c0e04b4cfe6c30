"""The local demo: a workload that keeps consumer groups in every state an operator meets, and the
command line of `make demo` (its orchestrator is demo_stack).

    python -m localkafka.demo run [--port 8000] [--dir STATE_DIR]
    python -m localkafka.demo traffic --bootstrap HOST:PORT [--prefix PREFIX]

The workload is a plain client of the cluster (producers and consumers), which is why it imports
confluent_kafka itself instead of going through the console's adapter.
"""

from __future__ import annotations

import argparse
import json
import logging
import random
import signal
import sys
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TypeVar

from confluent_kafka import Consumer, KafkaError, KafkaException, Message, Producer, ShareConsumer, TopicPartition
from confluent_kafka.admin import AdminClient, NewTopic, OffsetSpec

from localkafka import DEFAULT_STATE_DIR
from localkafka.demo_stack import run_demo

log = logging.getLogger("localkafka.demo")

T = TypeVar("T")

ADMIN_TIMEOUT = 30.0
COORDINATOR_LOADING = {
    KafkaError.COORDINATOR_LOAD_IN_PROGRESS,
    KafkaError.COORDINATOR_NOT_AVAILABLE,
    KafkaError.NOT_COORDINATOR,
}


def _pick(rng: random.Random, *choices: str) -> str:
    return rng.choice(choices)


@dataclass(frozen=True)
class DemoTopic:
    """A demo topic, and records shaped like what such a topic carries (the value is built from the key)."""

    name: str
    partitions: int
    records_per_second: float
    key: Callable[[random.Random], str]
    value: Callable[[random.Random, str], dict]

    def sample(self, rng: random.Random) -> tuple[str, str]:
        key = self.key(rng)
        return key, json.dumps(self.value(rng, key))


TOPICS = (
    DemoTopic(
        "orders",
        6,
        4,
        key=lambda r: f"customer-{r.randint(1, 400)}",
        value=lambda r, key: {
            "customer": key,
            "amount": round(r.uniform(5, 400), 2),
            "currency": _pick(r, "EUR", "USD", "GBP"),
        },
    ),
    DemoTopic(
        "payments",
        3,
        2,
        key=lambda r: f"order-{r.randint(1, 10_000)}",
        value=lambda r, key: {
            "order": key,
            "method": _pick(r, "card", "sepa", "paypal"),
            "status": _pick(r, "authorised", "captured"),
        },
    ),
    DemoTopic(
        "clicks",
        12,
        6,
        key=lambda r: f"session-{r.randint(1, 2_000)}",
        value=lambda r, key: {"session": key, "page": _pick(r, "/", "/cart", "/checkout", "/search", "/product/42")},
    ),
    DemoTopic(
        "audit-trail",
        1,
        0.5,
        key=lambda r: f"user-{r.randint(1, 50)}",
        value=lambda r, key: {"actor": key, "action": _pick(r, "login", "logout", "role.grant", "password.change")},
    ),
    DemoTopic(
        "inventory",
        4,
        1,
        key=lambda r: f"sku-{r.randint(1, 300):05d}",
        value=lambda r, key: {"sku": key, "warehouse": _pick(r, "ams", "fra", "dub"), "delta": r.randint(-5, 20)},
    ),
    DemoTopic(
        "refunds",
        2,
        0.5,
        key=lambda r: f"order-{r.randint(1, 10_000)}",
        value=lambda r, key: {"order": key, "reason": _pick(r, "damaged", "late", "changed-mind")},
    ),
)
TOPICS_BY_NAME = {topic.name: topic for topic in TOPICS}

# Group names say the situation they show, so the console's list reads like a legend.
STABLE_CLASSIC = "orders-stable-classic"
STABLE_KIP848 = "payments-stable-kip848"
STABLE_IDLE_MEMBER = "refunds-stable-idle-member"
EMPTY_WITH_LAG = "clicks-empty-with-lag"
PARTIAL_OFFSETS = "inventory-partial-offsets"
BELOW_LOG_START = "audit-trail-below-log-start"
# A share group (KIP-932): each inventory record goes to one of its consumers, which acknowledge it.
SHARE_WORKERS = "inventory-share-workers"
SHARE_MEMBERS = 2

SEED_RECORDS_PER_PARTITION = 20
PARTIALLY_COMMITTED_PARTITIONS = (0, 1)
BELOW_LOG_START_COMMIT = 2
BELOW_LOG_START_DELETE_BEFORE = 10

# Classic members that vanish without leaving (a killed demo) are evicted after this, not the
# 45 s default, so a restarted demo is Stable again quickly. KIP-848 members must not set it:
# the broker owns their timeouts.
CLASSIC_MEMBER_CONFIG = {"session.timeout.ms": 10_000, "heartbeat.interval.ms": 3_000}
KIP848_MEMBER_CONFIG = {"group.protocol": "consumer"}


def lagging_pace(now: float) -> float:
    """Seconds the lagging group spends per record at time `now`.

    Slower than the producer for 90 s, then free to catch up for 30 s: its lag is always
    visible on the console and never runs away.
    """
    return 0.75 if now % 120 < 90 else 0.0


def unpaced(now: float) -> float:
    return 0.0


@dataclass(frozen=True)
class LiveGroup:
    """A group whose members poll for as long as the workload runs, one thread each."""

    name: str
    topic: str
    members: int
    config: dict
    pace: Callable[[float], float]


LIVE_GROUPS = (
    LiveGroup(STABLE_CLASSIC, "orders", 2, CLASSIC_MEMBER_CONFIG, lagging_pace),
    LiveGroup(STABLE_KIP848, "payments", 2, KIP848_MEMBER_CONFIG, unpaced),
    # Three members on two partitions: one of them always stays without work.
    LiveGroup(STABLE_IDLE_MEMBER, "refunds", 3, CLASSIC_MEMBER_CONFIG, unpaced),
)


def _retry_while_coordinator_loads(call: Callable[[], T]) -> T:
    """call(), repeated while the group coordinator is being set up.

    On a new cluster the first group request creates __consumer_offsets, and for a moment the
    broker answers that it is not (yet) the coordinator.
    """
    deadline = time.monotonic() + ADMIN_TIMEOUT
    while True:
        try:
            return call()
        except KafkaException as exc:
            if exc.args[0].code() not in COORDINATOR_LOADING or time.monotonic() > deadline:
                raise
        time.sleep(0.5)


def _raise_on_partition_errors(what: str, partitions: list[TopicPartition]) -> None:
    failed = [f"{tp.topic}[{tp.partition}]: {tp.error}" for tp in partitions if tp.error is not None]
    if failed:
        raise RuntimeError(f"{what} failed: {'; '.join(failed)}")


class DemoWorkload:
    """Demo topics, records and consumer groups on one cluster.

    Every topic and group name starts with `prefix`, so tests that share a broker do not
    collide. `seed()` is idempotent; `start()` runs producers and the live groups in threads
    until `stop()`.
    """

    def __init__(self, bootstrap: str, prefix: str = "") -> None:
        self.bootstrap = bootstrap
        self.prefix = prefix
        self._admin = AdminClient({"bootstrap.servers": bootstrap})
        self._stopping = threading.Event()
        self._threads: list[threading.Thread] = []
        self._producer: Producer | None = None

    def name(self, base: str) -> str:
        return self.prefix + base

    def seed(self) -> None:
        """Create the topics, and the groups that only exist as committed offsets unless they already do."""
        self._create_topics()
        seeders = {
            EMPTY_WITH_LAG: ("clicks", self._seed_empty_with_lag),
            PARTIAL_OFFSETS: ("inventory", self._seed_partial_offsets),
            BELOW_LOG_START: ("audit-trail", self._seed_below_log_start),
        }
        for group, (topic, seeder) in seeders.items():
            if self._has_committed_offsets(self.name(group), topic):
                log.info("group %s already seeded", self.name(group))
            else:
                seeder()
                log.info("seeded group %s", self.name(group))

    def start(self) -> None:
        """Produce to every topic and run the live groups, each member in its own thread."""
        self._producer = Producer({"bootstrap.servers": self.bootstrap, "linger.ms": 50})
        for topic in TOPICS:
            self._spawn(f"produce {topic.name}", self._produce_forever, self._producer, topic)
        for group in LIVE_GROUPS:
            for member in range(group.members):
                self._spawn(f"{group.name} #{member}", self._consume_forever, group)
        for member in range(SHARE_MEMBERS):
            self._spawn(f"{SHARE_WORKERS} #{member}", self._share_consume_forever, member)

    def stop(self, timeout: float = 30.0) -> None:
        """Stop producing, close every consumer (members leave their groups) and flush."""
        self._stopping.set()
        deadline = time.monotonic() + timeout
        for thread in self._threads:
            thread.join(max(0.0, deadline - time.monotonic()))
        if self._producer is not None:
            self._producer.flush(max(0.0, deadline - time.monotonic()))

    def _spawn(self, label: str, target: Callable, *args) -> None:
        def run() -> None:
            try:
                target(*args)
            except Exception:
                log.exception("%s stopped on an error", label)

        thread = threading.Thread(target=run, name=label, daemon=True)
        thread.start()
        self._threads.append(thread)

    def _create_topics(self) -> None:
        # Replication factor -1 takes the cluster's default, so the demo also runs on a real cluster.
        new_topics = [NewTopic(self.name(topic.name), topic.partitions, -1) for topic in TOPICS]
        futures = self._admin.create_topics(new_topics, operation_timeout=ADMIN_TIMEOUT, request_timeout=ADMIN_TIMEOUT)
        for name, future in futures.items():
            try:
                future.result()
                log.info("created topic %s", name)
            except KafkaException as exc:
                if exc.args[0].code() != KafkaError.TOPIC_ALREADY_EXISTS:
                    raise

    def _has_committed_offsets(self, group: str, topic: str) -> bool:
        # A consumer, not the AdminClient: in librdkafka 2.16 an admin group request that times
        # out (as the first one on a new cluster can) corrupts the client, which then aborts
        # or hangs when destroyed.
        consumer = Consumer({"bootstrap.servers": self.bootstrap, "group.id": group, "enable.auto.commit": False})
        try:
            partitions = [TopicPartition(self.name(topic), p) for p in range(TOPICS_BY_NAME[topic].partitions)]
            found = _retry_while_coordinator_loads(lambda: consumer.committed(partitions, timeout=ADMIN_TIMEOUT))
            return any(tp.offset >= 0 for tp in found)
        finally:
            consumer.close()

    def _fill(self, topic: str) -> None:
        """Write seed records into every partition of a demo topic, so a seeded group has something to lag behind."""
        producer = Producer({"bootstrap.servers": self.bootstrap, "linger.ms": 20})
        demo_topic = TOPICS_BY_NAME[topic]
        rng = random.Random()
        for partition in range(demo_topic.partitions):
            for _ in range(SEED_RECORDS_PER_PARTITION):
                key, value = demo_topic.sample(rng)
                producer.produce(self.name(topic), key=key, value=value, headers=_headers(), partition=partition)
        if producer.flush(ADMIN_TIMEOUT) > 0:
            raise RuntimeError(f"could not write seed records to {self.name(topic)} within {ADMIN_TIMEOUT:.0f} s")

    def _log_offsets(self, topic: str, spec: OffsetSpec) -> dict[int, int]:
        request = {TopicPartition(self.name(topic), p): spec for p in range(TOPICS_BY_NAME[topic].partitions)}
        futures = self._admin.list_offsets(request, request_timeout=ADMIN_TIMEOUT)
        return {tp.partition: future.result().offset for tp, future in futures.items()}

    def _commit(self, group: str, offsets: list[TopicPartition]) -> None:
        """Commit offsets for a group nobody is a member of, as a tool that assigns partitions would."""
        consumer = Consumer({"bootstrap.servers": self.bootstrap, "group.id": group, "enable.auto.commit": False})
        try:
            results = _retry_while_coordinator_loads(lambda: consumer.commit(offsets=offsets, asynchronous=False))
            _raise_on_partition_errors(f"commit for {group}", results)
        finally:
            consumer.close()

    def _seed_empty_with_lag(self) -> None:
        """Join as a real subscriber, consume half of every partition, commit, and leave."""
        topic, group = self.name("clicks"), self.name(EMPTY_WITH_LAG)
        self._fill("clicks")
        start = self._log_offsets("clicks", OffsetSpec.earliest())
        end = self._log_offsets("clicks", OffsetSpec.latest())
        targets = {p: start[p] + (end[p] - start[p]) // 2 for p in start}
        consumer = Consumer(
            {
                "bootstrap.servers": self.bootstrap,
                "group.id": group,
                "auto.offset.reset": "earliest",
                "enable.auto.commit": False,
                "enable.auto.offset.store": False,
                **CLASSIC_MEMBER_CONFIG,
            }
        )
        try:
            consumer.subscribe([topic])
            consumed = {p: start[p] for p in targets}
            deadline = time.monotonic() + 60
            while any(consumed[p] < targets[p] for p in targets):
                if time.monotonic() > deadline:
                    raise RuntimeError(f"{group} did not consume half of {topic} within 60 s")
                message = consumer.poll(1.0)
                if message is None or message.error() or message.offset() >= targets[message.partition()]:
                    continue
                consumer.store_offsets(message=message)
                consumed[message.partition()] = message.offset() + 1
            _raise_on_partition_errors(f"commit for {group}", consumer.commit(asynchronous=False))
        finally:
            consumer.close()

    def _seed_partial_offsets(self) -> None:
        self._fill("inventory")
        start = self._log_offsets("inventory", OffsetSpec.earliest())
        end = self._log_offsets("inventory", OffsetSpec.latest())
        offsets = [
            TopicPartition(self.name("inventory"), p, start[p] + (end[p] - start[p]) // 2)
            for p in PARTIALLY_COMMITTED_PARTITIONS
        ]
        self._commit(self.name(PARTIAL_OFFSETS), offsets)

    def _seed_below_log_start(self) -> None:
        """Commit an early offset, then delete the records up to past it, as retention would."""
        topic = self.name("audit-trail")
        self._fill("audit-trail")
        log_start = self._log_offsets("audit-trail", OffsetSpec.earliest())[0]
        self._commit(self.name(BELOW_LOG_START), [TopicPartition(topic, 0, log_start + BELOW_LOG_START_COMMIT)])
        delete = TopicPartition(topic, 0, log_start + BELOW_LOG_START_DELETE_BEFORE)
        for future in self._admin.delete_records([delete], request_timeout=ADMIN_TIMEOUT).values():
            future.result()

    def _produce_forever(self, producer: Producer, topic: DemoTopic) -> None:
        rng = random.Random()
        interval = 1.0 / topic.records_per_second
        while not self._stopping.wait(interval * rng.uniform(0.5, 1.5)):
            key, value = topic.sample(rng)
            producer.produce(
                self.name(topic.name), key=key, value=value, headers=_headers(), on_delivery=_delivery_report
            )
            producer.poll(0)

    def _consume_forever(self, group: LiveGroup) -> None:
        consumer = Consumer(
            {
                "bootstrap.servers": self.bootstrap,
                "group.id": self.name(group.name),
                "auto.offset.reset": "earliest",
                **group.config,
            }
        )
        try:
            consumer.subscribe([self.name(group.topic)])
            while not self._stopping.is_set():
                message = consumer.poll(1.0)
                if message is None:
                    continue
                if message.error():
                    log.warning("%s: %s", self.name(group.name), message.error())
                    continue
                self._stopping.wait(group.pace(time.time()))
        finally:
            consumer.close()

    def _share_consume_forever(self, member: int) -> None:
        # Made and used in this thread only: a share consumer refuses calls from two threads at once.
        consumer = ShareConsumer(
            {
                "bootstrap.servers": self.bootstrap,
                "group.id": self.name(SHARE_WORKERS),
                "client.id": f"inventory-worker-{member}",
            }
        )
        try:
            consumer.subscribe([self.name("inventory")])
            while not self._stopping.is_set():
                for message in consumer.poll(1.0):
                    if message.error():
                        log.warning("%s: %s", self.name(SHARE_WORKERS), message.error())
                    else:
                        self._stopping.wait(lagging_pace(time.time()))
        finally:
            consumer.close()


def _headers() -> list[tuple[str, bytes]]:
    return [
        ("content-type", b"application/json"),
        ("source", b"kafka-console-demo"),
        ("trace-id", uuid.uuid4().hex.encode()),
        ("produced-at", datetime.now(UTC).isoformat(timespec="milliseconds").encode()),
    ]


def _delivery_report(error: KafkaError | None, message: Message) -> None:
    if error is not None:
        log.warning("could not deliver a record to %s: %s", message.topic(), error)


def run_traffic(bootstrap: str, prefix: str = "") -> int:
    """Seed the demo topics and groups, then keep them moving until SIGINT or SIGTERM."""
    stop = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda signum, frame: stop.set())
    workload = DemoWorkload(bootstrap, prefix)
    workload.seed()
    if stop.is_set():
        return 0
    workload.start()
    log.info("demo traffic running on %s; stop with Ctrl-C", bootstrap)
    while not stop.wait(1.0):
        pass
    log.info("stopping demo traffic")
    workload.stop()
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m localkafka.demo", description=__doc__.split("\n\n")[0])
    commands = parser.add_subparsers(dest="command", required=True)
    run = commands.add_parser("run", help="start Kafka, Redis, the worker, the web server and demo traffic")
    run.add_argument("--port", type=int, default=8000, help="port of the web server (default 8000)")
    run.add_argument(
        "--dir",
        dest="state_dir",
        type=Path,
        default=DEFAULT_STATE_DIR,
        help="state directory of the broker, Redis, logs and password (default: <repo>/.localkafka)",
    )
    traffic = commands.add_parser("traffic", help="seed demo topics and groups, then keep them moving")
    traffic.add_argument("--bootstrap", required=True, help="HOST:PORT of the cluster")
    traffic.add_argument("--prefix", default="", help="prefix of every topic and group name")
    args = parser.parse_args(argv)
    if args.command == "run":
        return run_demo(args.port, args.state_dir)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(threadName)s: %(message)s")
    return run_traffic(args.bootstrap, args.prefix)


if __name__ == "__main__":
    sys.exit(main())
