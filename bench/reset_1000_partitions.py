"""Reset a group with 1,000 partitions end to end and time it next to Apache Kafka's tool.

Console: preview (facts read once + plan) and execution (claim, Redis lock, re-check of state
and drift, one alter call, read-back verification, audit) -- the path the worker runs.
Tool: `kafka-consumer-groups --reset-offsets --execute` on the same group, same strategy.

Usage: python bench/reset_1000_partitions.py [--partitions 1000] [--rounds 3]
(uses KAFKA_BOOTSTRAP if set, otherwise starts the local broker in a temp dir)
"""

import argparse
import statistics
import time
import uuid

from console_env import console_on_local_kafka  # also puts the repository on sys.path


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--partitions", type=int, default=1000)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()

    with console_on_local_kafka("bench-reset-", redis=True) as bootstrap:
        _bench(args, bootstrap)


def _bench(args, bootstrap: str) -> None:
    from groups.kafka import client_for
    from groups.models import Cluster, Operation
    from groups.operations import resets
    from localkafka.broker import run_tool
    from tests import kafkatools as kt

    topic, group = f"bench-{uuid.uuid4().hex[:6]}", f"bench-group-{uuid.uuid4().hex[:6]}"
    n = args.partitions
    kt.create_topic(bootstrap, topic, n)
    kt.produce(bootstrap, topic, {p: 10 for p in range(n)})
    cluster = Cluster.objects.create(name="bench", bootstrap_servers=bootstrap)
    client = client_for(cluster)

    console_plan, console_exec, tool_exec = [], [], []
    for round_ in range(args.rounds):
        # Alternate targets so every round really moves every partition.
        start_at, target, flag = (
            (10, "to-earliest", "--to-earliest") if round_ % 2 == 0 else (0, "to-latest", "--to-latest")
        )
        kt.commit(bootstrap, group, {(topic, p): start_at for p in range(n)})
        t0 = time.perf_counter()
        preview = resets.preview_reset(client, group, target, scope_text=topic)
        t1 = time.perf_counter()
        op = resets.request_operation(
            cluster=cluster,
            group_id=group,
            kind=Operation.Kind.RESET,
            plan=resets.plan_rows(preview.plan),
            reason="bench",
            actor="bench",
            strategy=target,
            scope=topic,
            dispatch=False,
        )
        resets.run_operation(op.pk)
        t2 = time.perf_counter()
        op.refresh_from_db()
        assert op.status == "succeeded", op.error
        assert len(op.plan) == n
        console_plan.append(t1 - t0)
        console_exec.append(t2 - t1)

        kt.commit(bootstrap, group, {(topic, p): start_at for p in range(n)})
        t3 = time.perf_counter()
        tool = run_tool(
            "consumer-groups",
            ["--reset-offsets", "--group", group, "--topic", topic, flag, "--execute", "--timeout", "60000"],
            bootstrap,
            timeout=300,
        )
        t4 = time.perf_counter()
        assert tool.returncode == 0 and tool.stdout.count(topic) == n, tool.stdout[-500:] + tool.stderr[-500:]
        tool_exec.append(t4 - t3)

    med = statistics.median
    console_total = med([a + b for a, b in zip(console_plan, console_exec)])
    print(f"partitions: {n}, rounds: {args.rounds} (medians)")
    print(f"console plan (read facts + plan):           {med(console_plan):7.3f} s")
    print(f"console execute (lock, re-check, apply, verify, audit): {med(console_exec):7.3f} s")
    print(f"console end to end:                         {console_total:7.3f} s")
    print(f"kafka-consumer-groups --execute (incl. JVM start): {med(tool_exec):7.3f} s")
    print(f"ratio console / tool:                       {console_total / med(tool_exec):7.2f}")


if __name__ == "__main__":
    main()
