"""Copy 1,000,000 records of 100 bytes between two 12-partition topics and time it next to a kcat pipe.

Console, both modes: the path a worker runs (`replay.run_replay`: claim, checkpointed copy,
progress in the database, audit), after a preview and a request. Transactional is the default
exactly-once replay; non-transactional is the at-least-once replay (`--at-least-once`): an
idempotent producer, its checkpoint committed after a flush.
kcat: `kcat -C -b B -t SRC -o beginning -e -q | kcat -P -b B -t DST` (Debian's kcat), over the same
records; it keeps only values: no keys, headers, timestamps or partitions. It is timed twice: as
written (librdkafka defaults, the pipe an operator types), and tuned, with the librdkafka
settings RangeCopier gives its consumer and producer (fetch sizes, queue, linger, batch) as far
as kcat's librdkafka knows them; the printout names any it does not know.

Every run writes into a fresh target and checks that it holds every record. Each round times
the three, in an order rotated from round to round so none always runs first on a cold broker
or last on a full disk; every round and the medians are printed. Without fetch.queue.backoff.ms
(librdkafka before 2.2), kcat's time moves in steps of about a second from round to round (its
consumer backs off fetching for 1 s when its queue is full), so run several rounds.

Usage: python bench/replay.py [--records 1000000] [--partitions 12] [--size 100] [--rounds 5]
(uses KAFKA_BOOTSTRAP if set, otherwise starts the local broker in a temp dir)
"""

import argparse
import re
import shlex
import statistics
import subprocess
import time
import uuid

from console_env import console_on_local_kafka  # also puts the repository on sys.path

# What groups/kafka/copier.py RangeCopier sets on its consumer and producer that changes throughput
# (its client-only settings, such as callbacks, transactions and the partitioner, are left out).
COPIER_CONSUMER = {
    "fetch.max.bytes": 52_428_800,
    "max.partition.fetch.bytes": 10_485_760,
    "queued.min.messages": 200_000,
    "fetch.queue.backoff.ms": 50,
}
COPIER_PRODUCER = {
    "linger.ms": 20,
    "batch.size": 1_000_000,
    "message.max.bytes": 16_777_216,
    "queue.buffering.max.messages": 1_000_000,
    "queue.buffering.max.kbytes": 1_048_576,
}
NAMES = {"kcat": "kcat", "kcat_tuned": "kcat tuned", "plain": "non-transactional", "txn": "transactional"}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--records", type=int, default=1_000_000)
    parser.add_argument("--partitions", type=int, default=12)
    parser.add_argument("--size", type=int, default=100, help="value size in bytes")
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    if args.rounds < 1:
        parser.error("--rounds must be at least 1")

    # Each run writes gigabytes (the source and every copy) into its broker's directory, removed after.
    with console_on_local_kafka("bench-replay-") as bootstrap:
        _bench(args, bootstrap)


def _bench(args, bootstrap: str) -> None:
    from groups.kafka import TP, client_for
    from groups.models import Cluster
    from groups.operations import replays as replay
    from tests import kafkatools as kt

    run = uuid.uuid4().hex[:6]
    n, partitions = args.records, args.partitions
    source = f"bench-replay-src-{run}"
    kt.create_topic(bootstrap, source, partitions)
    t0 = time.perf_counter()
    _fill(bootstrap, source, n, partitions, args.size)
    print(f"wrote {n:,} records of {args.size} bytes into {partitions} partitions in {time.perf_counter() - t0:.1f}s")
    cluster = Cluster.objects.create(name="bench", bootstrap_servers=bootstrap)
    client = client_for(cluster)
    log = client.log_offsets([TP(source, p) for p in range(partitions)])
    ranges = {tp.partition: (0, offsets.end) for tp, offsets in log.items()}
    assert sum(end for _, end in ranges.values()) == n

    librdkafka, known = _kcat_properties()
    consume_x, produce_x, unknown = _kcat_settings(known)
    print(
        f"kcat tuned (librdkafka {librdkafka}) runs with RangeCopier's settings: "
        f"{' '.join(consume_x)} | {' '.join(produce_x)}"
    )
    if unknown:
        print(
            f"  not given to kcat, as its librdkafka lacks them: {', '.join(unknown)}"
            + (
                "; so its consumer pauses fetching for a fixed 1 s whenever its queue is full (the copier's: "
                f"{COPIER_CONSUMER['fetch.queue.backoff.ms']} ms)"
                if "fetch.queue.backoff.ms" in unknown
                else ""
            )
        )

    def pipe(name: str, consume_options: list[str], produce_options: list[str], round_: int) -> None:
        target = _target(bootstrap, f"bench-replay-{name.replace('_', '-')}-{run}-{round_}", partitions)
        consume = ["kcat", "-C", "-b", bootstrap, "-t", source, "-o", "beginning", "-e", "-q", *consume_options]
        produce = ["kcat", "-P", "-b", bootstrap, "-t", target, *produce_options]
        t0 = time.perf_counter()
        subprocess.run(f"{shlex.join(consume)} | {shlex.join(produce)}", shell=True, check=True)
        times[name].append(time.perf_counter() - t0)
        _check(client, target, partitions, n)

    def kcat(round_: int) -> None:
        pipe("kcat", [], [], round_)

    def kcat_tuned(round_: int) -> None:
        pipe("kcat_tuned", consume_x, produce_x, round_)

    def replay_(name: str, round_: int, exactly_once: bool) -> None:
        target = _target(bootstrap, f"bench-replay-{name}-{run}-{round_}", partitions)
        request = replay.ReplayRequest(
            topic=source,
            partitions=None,
            offsets=ranges,
            time_from_ms=None,
            time_to_ms=None,
            target_topic=target,
            exactly_once=exactly_once,
        )
        preview = replay.preview_replay(client, request)
        operation = replay.request_replay(
            cluster=cluster, request=request, preview=preview, reason="bench", actor="bench", dispatch=False
        )
        t0 = time.perf_counter()
        replay.run_replay(operation.pk)
        times[name].append(time.perf_counter() - t0)
        operation.refresh_from_db()
        assert operation.status == "succeeded", operation.error
        assert operation.progress_copied == n, operation.progress_copied
        _check(client, target, partitions, n)

    def plain(round_: int) -> None:
        replay_("plain", round_, exactly_once=False)

    def txn(round_: int) -> None:
        replay_("txn", round_, exactly_once=True)

    measure = {"kcat": kcat, "kcat_tuned": kcat_tuned, "plain": plain, "txn": txn}
    times = {name: [] for name in measure}
    names = list(measure)
    for round_ in range(args.rounds):
        order = names[round_ % len(names) :] + names[: round_ % len(names)]
        for name in order:
            measure[name](round_)
        print(
            f"round {round_ + 1} ({' -> '.join(NAMES[name] for name in order)}): "
            + ", ".join(f"{NAMES[name]} {times[name][-1]:.2f}s" for name in names)
        )

    rate = {name: n / statistics.median(values) for name, values in times.items()}
    print()
    print(
        f"{n:,} records of {args.size} bytes, {partitions} partitions -> {partitions} partitions "
        f"(median of {args.rounds} round{'s' if args.rounds > 1 else ''})"
    )
    print(f"  kcat -C | kcat -P pipe, as typed: {rate['kcat']:>10,.0f} records/s  (librdkafka defaults)")
    print(
        f"  the same pipe, tuned:             {rate['kcat_tuned']:>10,.0f} records/s"
        + (f"  (without {', '.join(unknown)})" if unknown else "")
    )
    print(
        f"  console, at-least-once replay:    {rate['plain']:>10,.0f} records/s  "
        f"({rate['plain'] / rate['kcat']:.2f} x kcat as typed, {rate['plain'] / rate['kcat_tuned']:.2f} x tuned; "
        "target >= 1.00)"
    )
    print(
        f"  console, transactional replay:    {rate['txn']:>10,.0f} records/s  "
        f"({rate['txn'] / rate['plain']:.2f} x non-transactional; target >= 0.85; "
        f"{rate['txn'] / rate['kcat']:.2f} x kcat as typed)"
    )
    if args.rounds < 3:
        print(
            f"  (only {args.rounds} round{'s' if args.rounds > 1 else ''}: a median of fewer than 3 is no more "
            "than an average; kcat's time jumps by about a second between rounds)"
        )


def _kcat_properties() -> tuple[str, set[str]]:
    """kcat's librdkafka version and the configuration properties it knows (`kcat -X list`)."""
    version = subprocess.run(["kcat", "-V"], capture_output=True, text=True).stdout
    found = re.search(r"librdkafka ([0-9][^ ]*)", version)
    listing = subprocess.run(["kcat", "-X", "list"], capture_output=True, text=True)
    known = {match[1] for match in re.finditer(r"^([a-z][a-z0-9._]*)\s+\|", listing.stdout + listing.stderr, re.M)}
    return (found[1] if found else "unknown version"), known


def _kcat_settings(known: set[str]) -> tuple[list[str], list[str], list[str]]:
    """-X options for kcat's consumer and producer, and the copier settings kcat's librdkafka lacks."""

    def options(settings: dict) -> list[str]:
        return [arg for name, value in settings.items() if name in known for arg in ("-X", f"{name}={value}")]

    unknown = [name for name in (*COPIER_CONSUMER, *COPIER_PRODUCER) if name not in known]
    return options(COPIER_CONSUMER), options(COPIER_PRODUCER), unknown


def _fill(bootstrap: str, topic: str, n: int, partitions: int, size: int) -> None:
    from confluent_kafka import Producer

    producer = Producer(
        {
            "bootstrap.servers": bootstrap,
            "linger.ms": 20,
            "batch.size": 1_000_000,
            "queue.buffering.max.messages": 1_000_000,
        }
    )
    # Printable and without newlines, so the kcat pipe carries each record as one line.
    value = (b"0123456789abcdefghijklmnopqrstuvwxyz" * (size // 36 + 1))[:size]
    for i in range(n):
        while True:
            try:
                producer.produce(topic, value, partition=i % partitions)
                break
            except BufferError:
                producer.poll(0.05)
    assert producer.flush(120) == 0


def _target(bootstrap: str, name: str, partitions: int) -> str:
    from tests import kafkatools as kt

    kt.create_topic(bootstrap, name, partitions)
    return name


def _check(client, topic: str, partitions: int, n: int) -> None:
    """Every record arrived: the target's offsets minus transaction markers (read_committed count).

    A committed transaction's markers land a moment after commit_transaction returns (seen: more
    than 100 ms on this machine), so a read_committed reader's end of partition below the high
    watermark is only the last stable offset on its way: read on until it reaches it.
    """
    from confluent_kafka import Consumer, KafkaError, TopicPartition

    from groups.kafka import TP

    consumer = Consumer(
        {
            **client._config,
            "group.id": "bench-replay-check",
            "enable.partition.eof": True,
            "isolation.level": "read_committed",
            "fetch.max.bytes": 52_428_800,
            "max.partition.fetch.bytes": 10_485_760,
        }
    )
    try:
        # Through the admin client (read_uncommitted): the true high watermark, not the stable offset.
        high = {
            tp.partition: offsets.end
            for tp, offsets in client.log_offsets([TP(topic, p) for p in range(partitions)]).items()
        }
        consumer.assign([TopicPartition(topic, p, 0) for p in range(partitions)])
        count, done, deadline = 0, set(), time.monotonic() + 300
        while len(done) < partitions and time.monotonic() < deadline:
            for message in consumer.consume(10_000, 0.5):
                error = message.error()
                if error is None:
                    count += 1
                elif error.code() != KafkaError._PARTITION_EOF:
                    raise AssertionError(f"reading {topic} back failed: {error.str()}")
                elif message.offset() >= high[message.partition()]:
                    done.add(message.partition())
        assert len(done) == partitions, f"{topic} was not read to its end in 300 s"
        assert count == n, f"{topic} holds {count:,} records, not {n:,}"
    finally:
        consumer.close()


if __name__ == "__main__":
    main()
