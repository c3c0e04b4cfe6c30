"""Seed a broker with a tier of consumer groups for bench/scale.py, and keep some of them live.

A tier is fixed by its numbers and a seeded random generator, so the same plan can be checked
against a broker seeded by an earlier run (`scale.py --reuse`). What a tier holds:

- topics whose records carry timestamps spread evenly over the hour before seeding (so lag in
  seconds runs from 0 to an hour across groups, and keeps growing while the state is reused,
  as it would for producers that went idle);
- one consumer group per topic slot, reading all of one topic, in one of these situations:
  lagging (Empty, committed somewhere behind the log end: most groups), caught up (committed at
  the log end), partial (Empty, lagging, no commit on half its partitions), live (Stable: members
  hold the partitions and do not commit, half classic and half KIP-848 "consumer" protocol).

Offsets are committed with the AdminClient (one OffsetCommit per group, all in flight at once):
measured on this machine for 1,000 groups of 20 partitions, 1.0-1.1 ms per group, against
1.8-4.9 ms (idle-busy machine) for kafka-python 3.0.12's `alter_group_offsets`, which waits for
each group in turn.

`python bench/seed_scale.py members BOOTSTRAP MANIFEST` is the live groups' process (started by scale.py):
it prints "ready" once every member holds its partitions and stops when its stdin closes.
"""

from __future__ import annotations

import json
import random
import sys
import time
from dataclasses import asdict, dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from confluent_kafka import (  # noqa: E402
    ConsumerGroupTopicPartitions,
    KafkaError,
    KafkaException,
    Producer,
    TopicPartition,
)
from confluent_kafka.admin import AdminClient, NewTopic, OffsetSpec  # noqa: E402

from tests import kafkatools as kt  # noqa: E402

VALUE = b"x" * 100
SPREAD_MS = 3_600_000


@dataclass(frozen=True)
class Tier:
    name: str
    groups: int
    topics: int
    partition_counts: tuple[int, ...]  # cycled over the topics
    records: int  # per partition
    live: int  # groups with live members
    caught_up: float  # share of groups committed at the log end
    partial: float  # share of groups with no commit on half their partitions


TIERS = {
    "S": Tier("S", groups=1_000, topics=50, partition_counts=(20,), records=100, live=10, caught_up=0.15, partial=0.02),
    # 11 and 12 partitions alternate: 2,300 topic-partitions, about 115,000 group-partition rows.
    "M": Tier(
        "M", groups=10_000, topics=200, partition_counts=(11, 12), records=100, live=20, caught_up=0.15, partial=0.02
    ),
}


@dataclass(frozen=True)
class Group:
    group_id: str
    situation: str  # lagging | caught-up | partial | live
    topic: str
    committed: dict[int, int]  # partition -> offset; partitions left out have no commit


@dataclass(frozen=True)
class Plan:
    tier: Tier
    topics: dict[str, int]  # name -> partitions
    groups: list[Group]

    @property
    def rows(self) -> int:
        """Group-partition rows `kafka-consumer-groups --describe` shows: committed or assigned partitions."""
        return sum(self.topics[g.topic] if g.situation == "live" else len(g.committed) for g in self.groups)

    def situations(self) -> dict[str, int]:
        counts: dict[str, int] = {}
        for group in self.groups:
            counts[group.situation] = counts.get(group.situation, 0) + 1
        return counts


def plan(tier: Tier) -> Plan:
    """The tier's topics and groups, the same at every call."""
    rng = random.Random(f"scale-{tier.name}")
    topics = {f"scale-t{j:03d}": tier.partition_counts[j % len(tier.partition_counts)] for j in range(tier.topics)}
    names = list(topics)
    live_every = tier.groups // tier.live
    groups = []
    for i in range(tier.groups):
        # Shifted by one topic per pass over the topics, so the live groups do not all land on one topic.
        topic = names[(i + i // len(names)) % len(names)]
        partitions = range(topics[topic])
        draw = rng.random()
        if i % live_every == live_every // 2:
            situation = "live"
        elif draw < tier.caught_up:
            situation = "caught-up"
        elif draw < tier.caught_up + tier.partial:
            situation = "partial"
        else:
            situation = "lagging"
        if situation == "caught-up":
            committed = {p: tier.records for p in partitions}
        else:
            # Lags from 1 record to the whole partition: an hour of records at most, in time.
            committed = {p: rng.randrange(tier.records) for p in partitions}
            if situation == "partial":
                committed = {p: o for p, o in committed.items() if p % 2 == 0}
        groups.append(Group(f"scale-{tier.name}-{i:05d}-{situation}", situation, topic, committed))
    return Plan(tier, topics, groups)


def seed(bootstrap: str, tier: Tier) -> dict:
    """Create the tier on an empty broker; the manifest (what was seeded, when, how long each step took)."""
    the_plan = plan(tier)
    admin = AdminClient({"bootstrap.servers": bootstrap})
    seeded_at_ms = int(time.time() * 1000)
    steps = {}
    t0 = time.perf_counter()
    _create_topics(admin, the_plan.topics)
    steps["topics_s"] = time.perf_counter() - t0
    t0 = time.perf_counter()
    _produce(bootstrap, the_plan.topics, tier.records, seeded_at_ms)
    steps["records_s"] = time.perf_counter() - t0
    t0 = time.perf_counter()
    kt.wait_for_group_coordinator(bootstrap)
    _commit(admin, the_plan.groups)
    steps["commits_s"] = time.perf_counter() - t0
    return {
        "tier": tier.name,
        "tier_spec": asdict(tier),
        "seeded_at_ms": seeded_at_ms,
        "seconds": steps,
        "topics": len(the_plan.topics),
        "topic_partitions": sum(the_plan.topics.values()),
        "records": sum(the_plan.topics.values()) * tier.records,
        "groups": len(the_plan.groups),
        "rows": the_plan.rows,
        "situations": the_plan.situations(),
        "live_groups": [{"group_id": g.group_id, "topic": g.topic} for g in the_plan.groups if g.situation == "live"],
    }


def check(bootstrap: str, tier: Tier) -> str | None:
    """Why the broker does not hold the tier's seeded state (gone, or another tier), or None if it does."""
    the_plan = plan(tier)
    admin = AdminClient({"bootstrap.servers": bootstrap})
    existing = admin.list_topics(timeout=30).topics
    missing = [t for t in the_plan.topics if t not in existing]
    if missing:
        return f"{len(missing)} of the tier's {len(the_plan.topics)} topics are missing (e.g. {missing[0]})"
    ends = _log_ends(admin, [TopicPartition(t, p) for t, n in the_plan.topics.items() for p in range(n)])
    short = [str(tp) for tp, end in ends.items() if end != tier.records]
    if short:
        return f"{len(short)} partitions do not hold {tier.records} records (e.g. {short[0]})"
    kt.wait_for_group_coordinator(bootstrap)
    listed = admin.list_consumer_groups(request_timeout=60).result(timeout=90).valid
    found = {g.group_id for g in listed}
    absent = [g.group_id for g in the_plan.groups if g.group_id not in found]
    if absent:
        return f"{len(absent)} of the tier's {len(the_plan.groups)} groups are missing (e.g. {absent[0]})"
    return None


def _log_ends(admin: AdminClient, partitions: list[TopicPartition], patience_s: float = 90) -> dict[str, int]:
    """Log end of each partition; a broker just restarted answers with retriable errors while it loads them."""
    deadline = time.monotonic() + patience_s
    while True:
        futures = admin.list_offsets({tp: OffsetSpec.latest() for tp in partitions}, request_timeout=60)
        try:
            return {f"{tp.topic}-{tp.partition}": f.result(timeout=90).offset for tp, f in futures.items()}
        except KafkaException as error:
            # UNKNOWN_LEADER_EPOCH is not marked retriable, but a restarted broker gives it for a second or two.
            waiting = error.args[0].retriable() or error.args[0].code() == KafkaError.UNKNOWN_LEADER_EPOCH
            if not waiting or time.monotonic() > deadline:
                raise
            time.sleep(1)


def _create_topics(admin: AdminClient, topics: dict[str, int]) -> None:
    futures = admin.create_topics([NewTopic(name, n, 1) for name, n in topics.items()], request_timeout=120)
    for future in futures.values():
        future.result(timeout=180)
    # Leaders reach the metadata a moment after creation; producing before that fails.
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        metadata = admin.list_topics(timeout=30).topics
        if all(
            name in metadata
            and len(metadata[name].partitions) == n
            and all(p.leader >= 0 for p in metadata[name].partitions.values())
            for name, n in topics.items()
        ):
            return
        time.sleep(0.5)
    raise TimeoutError("the seeded topics did not get leaders within 120 s")


def _produce(bootstrap: str, topics: dict[str, int], records: int, seeded_at_ms: int) -> None:
    producer = Producer(
        {
            "bootstrap.servers": bootstrap,
            "linger.ms": 50,
            "batch.num.messages": 10_000,
            "queue.buffering.max.messages": 1_000_000,
        }
    )
    spacing = SPREAD_MS // records
    for k in range(records):
        timestamp = seeded_at_ms - (records - 1 - k) * spacing
        for topic, partitions in topics.items():
            for partition in range(partitions):
                while True:
                    try:
                        producer.produce(topic, VALUE, partition=partition, timestamp=timestamp)
                        break
                    except BufferError:
                        producer.poll(0.05)
        producer.poll(0)
    remaining = producer.flush(120)
    if remaining:
        raise RuntimeError(f"{remaining} seeded records were not acknowledged within 120 s")


def _commit(admin: AdminClient, groups: list[Group]) -> None:
    futures = {}
    for group in groups:
        if group.committed:
            offsets = [TopicPartition(group.topic, p, o) for p, o in group.committed.items()]
            futures.update(
                admin.alter_consumer_group_offsets(
                    [ConsumerGroupTopicPartitions(group.group_id, offsets)], request_timeout=120
                )
            )
    for group_id, future in futures.items():
        # Per-partition errors do not fail the future: they sit on each partition.
        failed = [tp for tp in future.result(timeout=180).topic_partitions if tp.error]
        if failed:
            raise RuntimeError(f"committing offsets of {group_id} failed on {failed[0]}: {failed[0].error}")


def run_members(bootstrap: str, manifest_path: Path) -> None:
    manifest = json.loads(manifest_path.read_text())
    members = [
        kt.Member(
            bootstrap, g["group_id"], [g["topic"]], client_id="scale-live", protocol="consumer" if i % 2 else "classic"
        )
        for i, g in enumerate(manifest["live_groups"])
    ]
    for member in members:
        member.wait_assigned(timeout=120)
    print("ready", flush=True)
    sys.stdin.read()
    for member in members:
        member.stop()


if __name__ == "__main__":
    if len(sys.argv) != 4 or sys.argv[1] != "members":
        sys.exit("usage: python bench/seed_scale.py members BOOTSTRAP MANIFEST (started by bench/scale.py)")
    run_members(sys.argv[2], Path(sys.argv[3]))
