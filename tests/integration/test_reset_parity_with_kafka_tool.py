"""`manage.py reset_offsets` must plan and apply what Apache Kafka's own ConsumerGroupCommand does."""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import NamedTuple

import pytest
from django.core.management import CommandError, call_command

from groups.kafka import client_for
from groups.models import AuditEvent, Operation
from localkafka.broker import run_tool
from tests import kafkatools as kt
from tests.databases import shared_database_url

pytestmark = [
    pytest.mark.integration,
    pytest.mark.engine_neutral("plans are compared with Kafka's own tool; the database holds the cluster and users"),
]

BASE_DIR = Path(__file__).resolve().parents[2]
CLI_USER = "cli-operator"

# Log ends of topic a (3 partitions) and b (2 partitions); half of each is written 3 h ago, half 1 h ago.
A_ENDS, B_ENDS = (20, 10, 40), (16, 6)
A2_LOG_START = 30
COMMITS = {
    "full": {("a", 0): 12, ("a", 1): 7, ("a", 2): 35, ("b", 0): 10, ("b", 1): 2},
    "partial": {("a", 0): 3, ("b", 1): 6},
    "below_start": {("a", 2): 5},
}


def _tool_time(moment: datetime) -> str:
    """The only form the tool's --to-datetime accepts: exactly three fractional digits, here UTC."""
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}"


@dataclass(frozen=True)
class World:
    bootstrap: str
    topics: dict[str, str]
    groups: dict[str, str]
    between_batches: str
    after_all_records: str

    def fill(self, args: list[str]) -> list[str]:
        return [arg.format(**self.topics, between=self.between_batches, after=self.after_all_records) for arg in args]

    def offsets(self, plan: dict[tuple[str, int], int]) -> dict[tuple[str, int], int]:
        """A plan written with the topic keys "a" and "b", under the real topic names."""
        return {(self.topics[topic], partition): offset for (topic, partition), offset in plan.items()}


@pytest.fixture(scope="module")
def world(kafka_bootstrap) -> World:
    """Shared by the dry-run cases, which change nothing; tests that commit use groups of their own."""
    b, run = kafka_bootstrap, uuid.uuid4().hex[:8]
    topics = {"a": f"reset-a-{run}", "b": f"reset-b-{run}"}
    kt.create_topic(b, topics["a"], len(A_ENDS))
    kt.create_topic(b, topics["b"], len(B_ENDS))
    now = datetime.now(UTC)
    for hours_ago in (3, 1):
        stamp = int((now - timedelta(hours=hours_ago)).timestamp() * 1000)
        kt.produce(b, topics["a"], {p: end // 2 for p, end in enumerate(A_ENDS)}, timestamp_ms=stamp)
        kt.produce(b, topics["b"], {p: end // 2 for p, end in enumerate(B_ENDS)}, timestamp_ms=stamp)
    groups = {name: f"reset-{name}-{run}" for name in COMMITS}
    for name, offsets in COMMITS.items():
        kt.commit(b, groups[name], {(topics[t], p): o for (t, p), o in offsets.items()})
    # Retention's effect: everything of the first batch and part of the second is gone from a-2.
    kt.delete_records(b, topics["a"], 2, before=A2_LOG_START)
    return World(b, topics, groups, _tool_time(now - timedelta(hours=2)), _tool_time(now - timedelta(minutes=30)))


def _tool_rows(stdout: str) -> list[dict[str, str]]:
    """Rows of the tool's aligned tables; the tool's "Warn: ..." lines never match the header's width."""
    header, rows = None, []
    for fields in (line.split() for line in stdout.splitlines()):
        if fields and fields[0] == "GROUP":
            header = fields
        elif header and len(fields) == len(header):
            rows.append(dict(zip(header, fields)))
    return rows


def _tool(bootstrap: str, *args: str) -> str:
    result = run_tool("consumer-groups", list(args), bootstrap)
    assert result.returncode == 0 and "Error" not in result.stdout, result.stdout + result.stderr
    return result.stdout


def _group_args(groups: list[str]) -> list[str]:
    return [arg for group in groups for arg in ("--group", group)]


def _tool_plans(bootstrap: str, groups: list[str], args: list[str]) -> dict[str, dict[tuple[str, int], int]]:
    stdout = _tool(bootstrap, "--reset-offsets", *_group_args(groups), *args, "--dry-run")
    plans: dict[str, dict[tuple[str, int], int]] = {group: {} for group in groups}
    for row in _tool_rows(stdout):
        plans[row["GROUP"]][(row["TOPIC"], int(row["PARTITION"]))] = int(row["NEW-OFFSET"])
    return plans


@pytest.fixture(autouse=True)
def cli_user(make_user):
    """The console user every command here runs as (--as): an Operator of every cluster."""
    return make_user(CLI_USER, "Operator")


def _console(group: str, *args: str) -> tuple[str, str]:
    out, err = io.StringIO(), io.StringIO()
    call_command(
        "reset_offsets", "--cluster", "local", "--group", group, "--as", CLI_USER, *args, stdout=out, stderr=err
    )
    return out.getvalue(), err.getvalue()


def _console_rows(group: str, *args: str) -> list[dict]:
    return json.loads(_console(group, *args, "--dry-run", "--output", "json")[0])


def _console_plan(group: str, *args: str) -> dict[tuple[str, int], int]:
    return {(row["topic"], row["partition"]): row["after"] for row in _console_rows(group, *args)}


def _committed(cluster, group: str) -> dict[tuple[str, int], int]:
    return client_for(cluster).committed_offsets([group])[group]


class Case(NamedTuple):
    strategy: list[str]
    scope: list[str]
    groups: list[str]
    # Values the reference (kafka-semantics.md A.3.4, A.3.5) gives for the situation each case is
    # about, so a fixture that stopped producing that situation cannot pass unnoticed.
    pinned: dict[tuple[str, str, int], int]


ALL = ["--all-topics"]
MIXED = ["--topic", "{a}:0,2", "--topic", "{b}"]
CASES = {
    "to-earliest": Case(["--to-earliest"], ALL, ["full", "partial"], {("full", "a", 2): A2_LOG_START}),
    "to-latest": Case(["--to-latest"], ["--topic", "{a}"], ["full", "partial"], {("partial", "a", 1): 10}),
    "to-current": Case(
        ["--to-current"],
        MIXED,
        ["full", "partial", "below_start"],
        {("below_start", "a", 2): 5, ("partial", "b", 0): 16, ("full", "a", 0): 12},
    ),
    "to-offset in range, above the end, below the start": Case(
        ["--to-offset", "15"],
        ALL,
        ["full", "below_start"],
        {("full", "a", 0): 15, ("full", "a", 1): 10, ("full", "a", 2): A2_LOG_START},
    ),
    "shift-by forward, clamped at the end": Case(
        ["--shift-by", "5"],
        ALL,
        ["full", "partial", "below_start"],
        {("full", "a", 0): 17, ("full", "a", 1): 10, ("full", "a", 2): 40, ("below_start", "a", 2): A2_LOG_START},
    ),
    "shift-by back, clamped at the start": Case(
        ["--shift-by", "-8"],
        MIXED,
        ["full"],
        {("full", "a", 0): 4, ("full", "a", 2): A2_LOG_START, ("full", "b", 1): 0},
    ),
    "to-datetime between the batches": Case(
        ["--to-datetime", "{between}"],
        ["--topic", "{b}"],
        ["full", "partial"],
        {("full", "b", 0): 8, ("partial", "b", 1): 3},
    ),
    "to-datetime after every record": Case(
        ["--to-datetime", "{after}"], ["--topic", "{a}:0,2"], ["full"], {("full", "a", 0): 20, ("full", "a", 2): 40}
    ),
    "by-duration": Case(
        ["--by-duration", "PT2H"],
        ALL,
        ["full", "partial"],
        {("full", "a", 1): 5, ("full", "a", 2): A2_LOG_START, ("partial", "a", 0): 10},
    ),
}


@pytest.mark.django_db
@pytest.mark.parametrize("case", CASES.values(), ids=CASES.keys())
def test_the_dry_run_plans_the_offsets_the_kafka_tool_plans(case, world, cluster):
    args = world.fill(case.strategy + case.scope)
    tool = _tool_plans(world.bootstrap, [world.groups[name] for name in case.groups], args)
    for name in case.groups:
        console = _console_plan(world.groups[name], *args)
        assert console == tool[world.groups[name]], name
    for (name, topic, partition), offset in case.pinned.items():
        assert tool[world.groups[name]][(world.topics[topic], partition)] == offset, (name, topic, partition)


@pytest.mark.django_db
def test_a_file_exported_by_the_kafka_tool_plans_the_same_offsets_in_both(cluster, kafka_bootstrap, unique, tmp_path):
    topic, source, target = unique("file"), unique("file-source"), unique("file-target")
    kt.create_topic(kafka_bootstrap, topic, 3)
    kt.produce(kafka_bootstrap, topic, {0: 20, 1: 20, 2: 10})
    kt.commit(kafka_bootstrap, source, {(topic, 0): 1, (topic, 1): 2, (topic, 2): 3})
    kt.commit(kafka_bootstrap, target, {(topic, 0): 4})

    export_args = ["--topic", topic, "--to-offset", "12"]
    exported = _tool(kafka_bootstrap, "--reset-offsets", "--group", source, *export_args, "--export", "--dry-run")
    console_csv = _console(source, *export_args, "--dry-run", "--output", "csv")[0]
    assert sorted(console_csv.splitlines()) == sorted(line for line in exported.splitlines() if line)
    assert console_csv == f"{topic},0,12\n{topic},1,12\n{topic},2,10\n"

    plan_file = tmp_path / "plan.csv"
    plan_file.write_text(exported)
    # Retention passing the file's offset after the export: both must clamp it to the new start.
    kt.delete_records(kafka_bootstrap, topic, 0, before=15)
    tool = _tool_plans(kafka_bootstrap, [target], ["--from-file", str(plan_file)])[target]
    rows = _console_rows(target, "--from-file", str(plan_file))
    assert {(r["topic"], r["partition"]): r["after"] for r in rows} == tool
    assert tool == {(topic, 0): 15, (topic, 1): 12, (topic, 2): 10}
    assert [r["clamped"] for r in rows] == ["requested 12 is below the log start 15", None, None]


@pytest.mark.django_db
def test_from_group_copies_what_the_kafka_tool_copies_through_an_exported_file(world, cluster, unique, tmp_path):
    source, target = unique("reset-copy-source"), unique("reset-copy-target")
    kt.commit(world.bootstrap, source, world.offsets({("a", 0): 12, ("a", 1): 7, ("a", 2): 5, ("b", 1): 2}))
    # The tool's way to copy a group: export its commits as they are (--to-current), import them.
    plan_file = tmp_path / "copy.csv"
    plan_file.write_text(
        _tool(
            world.bootstrap,
            "--reset-offsets",
            "--group",
            source,
            "--all-topics",
            "--to-current",
            "--export",
            "--dry-run",
        )
    )
    tool = _tool_plans(world.bootstrap, [target], ["--from-file", str(plan_file)])[target]
    assert _console_plan(target, "--from-group", source, "--all-topics") == tool
    assert tool == world.offsets({("a", 0): 12, ("a", 1): 7, ("a", 2): A2_LOG_START, ("b", 1): 2})


@pytest.mark.django_db(transaction=True)
def test_execute_commits_what_the_kafka_tool_then_describes(world, cluster, use_test_redis, cli_user):
    runs = {
        f"reset-exec-{name}-{uuid.uuid4().hex[:8]}": world.fill(args)
        for name, args in (
            ("to-offset", ["--to-offset", "15", "--all-topics"]),
            ("shift-by", ["--shift-by", "-8", *MIXED]),
            ("to-datetime", ["--to-datetime", "{between}", "--topic", "{b}"]),
        )
    }
    expected = {}
    for group, args in runs.items():
        kt.commit(world.bootstrap, group, world.offsets(COMMITS["full"]))
        plan = _console_plan(group, *args)
        stdout, _ = _console(group, *args, "--execute", "--reason", "parity test")
        operation = Operation.objects.get(group_id=group)
        assert f"Operation #{operation.pk} succeeded." in stdout
        assert operation.status == "succeeded" and operation.requested_via == "cli"
        assert operation.requester == cli_user
        assert [(o["topic"], o["partition"], o["verified"]) for o in operation.outcome] == [
            (topic, partition, True) for topic, partition in sorted(plan)
        ]
        requested = AuditEvent.objects.get(operation=operation, action="requested")
        assert requested.actor == CLI_USER
        # Partitions outside the scope keep their commit.
        expected[group] = {**world.offsets(COMMITS["full"]), **plan}

    described = _tool_rows(_tool(world.bootstrap, "--describe", "--offsets", *_group_args(list(runs))))
    for group in runs:
        assert {
            (r["TOPIC"], int(r["PARTITION"])): int(r["CURRENT-OFFSET"]) for r in described if r["GROUP"] == group
        } == expected[group], group


@pytest.mark.django_db(transaction=True)
def test_an_execution_that_fails_exits_with_the_operations_error_and_writes_nothing(world, cluster, settings, unique):
    # Nothing listens on port 1, so the group lock cannot be taken and the operation must fail.
    settings.REDIS_URL = "redis://127.0.0.1:1/0"
    group = unique("reset-no-lock")
    kt.commit(world.bootstrap, group, world.offsets(COMMITS["full"]))
    with pytest.raises(CommandError) as failed:
        _console(group, "--all-topics", "--to-earliest", "--execute", "--reason", "parity test")
    operation = Operation.objects.get(group_id=group)
    assert operation.status == "failed"
    assert str(failed.value) == f"Operation #{operation.pk} failed: {operation.error}"
    assert "Redis is unavailable" in operation.error
    assert _committed(cluster, group) == world.offsets(COMMITS["full"])


@pytest.mark.django_db
def test_shift_by_over_a_partition_without_a_commit_is_refused_by_both_and_writes_nothing(world, cluster, unique):
    group = unique("reset-shift-uncommitted")
    kt.commit(world.bootstrap, group, world.offsets(COMMITS["partial"]))
    args = ["--shift-by", "1", "--topic", world.topics["a"], "--execute"]

    tool = run_tool("consumer-groups", ["--reset-offsets", "--group", group, *args], world.bootstrap)
    assert tool.returncode == 1 and "Cannot shift offset for partition" in tool.stderr, tool.stdout + tool.stderr
    a = world.topics["a"]
    with pytest.raises(CommandError, match=f"Cannot shift offset for partitions {a}-1, {a}-2 since there is no"):
        _console(group, *args, "--reason", "parity test")

    assert _committed(cluster, group) == world.offsets(COMMITS["partial"])
    assert not Operation.objects.filter(group_id=group).exists()


@pytest.mark.django_db
def test_an_active_group_is_shown_its_plan_but_execute_writes_nothing(world, cluster, unique):
    group, a = unique("reset-active"), world.topics["a"]
    kt.commit(world.bootstrap, group, {(a, 0): 12})
    member = kt.Member(world.bootstrap, group, [a], client_id="still-running")
    try:
        member.wait_assigned()
        stdout, stderr = _console(group, "--topic", f"{a}:0", "--to-earliest", "--dry-run", "--output", "json")
        assert [(r["partition"], r["before"], r["after"]) for r in json.loads(stdout)] == [(0, 12, 0)]
        assert "Kafka only accepts new offsets for an inactive group" in stderr
        with pytest.raises(CommandError, match="inactive group.*Nothing was written"):
            _console(group, "--topic", f"{a}:0", "--to-earliest", "--execute", "--reason", "parity test")
    finally:
        member.stop()
    assert _committed(cluster, group) == {(a, 0): 12}
    assert not Operation.objects.filter(group_id=group).exists()


@pytest.mark.django_db
def test_json_and_table_output_show_the_plan_and_its_clamps(world, cluster):
    a, b = world.topics["a"], world.topics["b"]
    assert _console_rows(world.groups["full"], "--to-offset", "15", "--all-topics") == [
        {"topic": a, "partition": 0, "before": 12, "after": 15, "log_start": 0, "log_end": 20, "clamped": None},
        {
            "topic": a,
            "partition": 1,
            "before": 7,
            "after": 10,
            "log_start": 0,
            "log_end": 10,
            "clamped": "requested 15 is above the log end 10",
        },
        {
            "topic": a,
            "partition": 2,
            "before": 35,
            "after": 30,
            "log_start": 30,
            "log_end": 40,
            "clamped": "requested 15 is below the log start 30",
        },
        {"topic": b, "partition": 0, "before": 10, "after": 15, "log_start": 0, "log_end": 16, "clamped": None},
        {
            "topic": b,
            "partition": 1,
            "before": 2,
            "after": 6,
            "log_start": 0,
            "log_end": 6,
            "clamped": "requested 15 is above the log end 6",
        },
    ]

    table = _console(world.groups["partial"], "--to-current", "--topic", f"{a}:0,1", "--dry-run")[0].splitlines()
    assert table[0] == f"Group '{world.groups['partial']}' on cluster 'local' is Empty."
    assert table[1].split() == [
        "TOPIC",
        "PARTITION",
        "BEFORE",
        "AFTER",
        "LOG-START",
        "LOG-END",
        "LAG",
        "BEFORE→AFTER",
        "CLAMPED/NOTE",
    ]
    assert table[2].split() == [a, "0", "3", "3", "0", "20", "17→17"]
    assert table[3].split()[:7] == [a, "1", "-", "10", "0", "10", "-→0"]
    assert "no committed offset; set to the log end" in table[3]
    assert table[4].startswith("Total lag 17 → 17 ")
    assert table[-1].startswith("Dry run: nothing was written.")


@pytest.mark.django_db
@pytest.mark.parametrize(
    "args, message",
    [
        (
            ["--topic", "{a}:9", "--to-earliest", "--dry-run"],
            "The partition {a}-9 does not exist; {a} has partitions 0 to 2.",
        ),
        (
            ["--topic", "{a}", "--to-datetime", "2024-01-01", "--dry-run"],
            "Invalid date and time '2024-01-01': it must contain a 'T'",
        ),
        (
            ["--from-file", "/nonexistent/plan.csv", "--dry-run"],
            "Cannot read the reset file '/nonexistent/plan.csv': No such file or directory.",
        ),
        (["--to-earliest", "--dry-run"], "One of the reset scopes should be defined"),
        (["--all-topics", "--to-earliest", "--execute"], "--execute needs --reason"),
        (
            ["--all-topics", "--to-earliest", "--dry-run", "--delete-internal-topics"],
            "--delete-internal-topics deletes a streams group's internal topics, but group",
        ),
    ],
    ids=[
        "missing partition",
        "date without T",
        "unreadable file",
        "no scope",
        "execute without reason",
        "internal topics of a classic group",
    ],
)
def test_a_mistake_is_refused_with_a_message_that_names_it(args, message, world, cluster):
    with pytest.raises(CommandError) as refused:
        _console(world.groups["full"], *world.fill(args))
    assert str(refused.value).startswith(world.fill([message])[0])


@pytest.mark.django_db
def test_an_unknown_cluster_is_named_with_the_registered_ones(cluster):
    with pytest.raises(CommandError, match=r"^Unknown cluster 'prod'\. Registered clusters: local\.$"):
        call_command(
            "reset_offsets",
            "--cluster",
            "prod",
            "--group",
            "g",
            "--as",
            CLI_USER,
            "--all-topics",
            "--to-earliest",
            "--dry-run",
            stdout=io.StringIO(),
        )


# Committed rows, so the manage.py process sees the cluster.
@pytest.mark.django_db(transaction=True)
def test_from_a_shell_an_error_is_one_line_on_stderr_and_a_failing_exit(world, cluster):
    a = world.topics["a"]
    result = subprocess.run(
        [
            sys.executable,
            "manage.py",
            "reset_offsets",
            "--cluster",
            "local",
            "--group",
            world.groups["full"],
            "--as",
            CLI_USER,
            "--topic",
            f"{a}:9",
            "--to-earliest",
            "--dry-run",
        ],
        cwd=BASE_DIR,
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, "DATABASE_URL": shared_database_url()},
    )
    assert result.returncode == 1
    assert result.stdout == ""
    assert result.stderr == f"CommandError: The partition {a}-9 does not exist; {a} has partitions 0 to 2.\n"
