"""The console's figures must equal what Apache Kafka's own ConsumerGroupCommand prints."""

from __future__ import annotations

import pytest

from groups.snapshot.collector import COLLECTED, collect
from localkafka.broker import run_tool

pytestmark = [
    pytest.mark.integration,
    pytest.mark.django_db,
    pytest.mark.engine_neutral("figures are compared with Kafka's own tool"),
]


def _tables(stdout: str) -> list[dict[str, str]]:
    """Rows of the tool's whitespace-aligned tables; each group section repeats its header."""
    rows, header = [], None
    for line in stdout.splitlines():
        fields = line.split()
        if not fields:
            continue
        if fields[0] == "GROUP":
            header = fields
        elif header and len(fields) == len(header):
            rows.append(dict(zip(header, fields)))
    return rows


def _dash(value: int | None) -> str:
    return "-" if value is None else str(value)


def test_offsets_lag_and_owners_equal_the_kafka_tool(viewer_client, cluster, kafka_bootstrap, situations):
    group_args = [arg for g in situations.values() for arg in ("--group", g)]
    tool = run_tool("consumer-groups", ["--describe", "--offsets", *group_args], kafka_bootstrap)
    assert tool.returncode == 0, tool.stderr
    tool_rows = _tables(tool.stdout)
    assert {r["GROUP"] for r in tool_rows} == set(situations.values()), tool.stdout

    for name, group in situations.items():
        response = viewer_client.get(f"/api/clusters/local/groups/{group}/")
        assert response.status_code == 200, response.content
        console = response.json()
        member_by_id = {m["member_id"]: m for m in console["members"]}
        owner = {(a["topic"], a["partition"]): m for m in console["members"] for a in m["assignment"]}
        expected = {(r["TOPIC"], int(r["PARTITION"])): r for r in tool_rows if r["GROUP"] == group}
        seen = {(p["topic"], p["partition"]): p for p in console["partitions"]}
        assert set(seen) == set(expected), f"{name}: partitions differ"
        for tp, row in expected.items():
            p = seen[tp]
            assert _dash(p["committed"]) == row["CURRENT-OFFSET"], f"{name} {tp} committed"
            assert _dash(p["log_end"]) == row["LOG-END-OFFSET"], f"{name} {tp} log end"
            assert _dash(p["lag"]) == row["LAG"], f"{name} {tp} lag"
            member = owner.get(tp)
            assert (member["member_id"] if member else "-") == row["CONSUMER-ID"], f"{name} {tp} owner"
            # The tool prints Java's '/127.0.0.1'; the console, as its pages, '127.0.0.1'.
            assert ("/" + member["host"] if member else "-") == row["HOST"], f"{name} {tp} host"
            assert (member["client_id"] if member else "-") == row["CLIENT-ID"], f"{name} {tp} client id"
        assert set(member_by_id) >= {r["CONSUMER-ID"] for r in expected.values() if r["CONSUMER-ID"] != "-"}

    # The situations themselves, so a broken fixture cannot pass silently.
    below = viewer_client.get(f"/api/clusters/local/groups/{situations['below_start']}/").json()["partitions"][0]
    assert below["committed"] == 5 and below["log_start"] == 20 and below["lag"] == 35
    partial = viewer_client.get(f"/api/clusters/local/groups/{situations['partial']}/").json()["partitions"]
    assert [(p["partition"], p["committed"]) for p in partial] == [(0, 7)]
    classic = viewer_client.get(f"/api/clusters/local/groups/{situations['stable_classic']}/").json()
    assert classic["state"] == "Stable" and classic["protocol_type"] == "classic"
    no_commit = [p for p in classic["partitions"] if p["partition"] == 2][0]
    assert no_commit["committed"] is None and no_commit["lag"] is None and no_commit["log_end"] == 10
    kip848 = viewer_client.get(f"/api/clusters/local/groups/{situations['stable_consumer']}/").json()
    assert kip848["protocol_type"] == "consumer" and kip848["state"] == "Stable"


def test_members_and_assignments_equal_the_kafka_tool(viewer_client, cluster, kafka_bootstrap, situations):
    live = [situations["stable_classic"], situations["stable_consumer"]]
    group_args = [arg for g in live for arg in ("--group", g)]
    tool = run_tool("consumer-groups", ["--describe", "--members", "--verbose", *group_args], kafka_bootstrap)
    assert tool.returncode == 0, tool.stderr
    tool_rows = _tables(tool.stdout)

    for group in live:
        console = viewer_client.get(f"/api/clusters/local/groups/{group}/").json()
        tool_members = {r["CONSUMER-ID"]: r for r in tool_rows if r["GROUP"] == group}
        assert set(tool_members) == {m["member_id"] for m in console["members"]}
        for m in console["members"]:
            row = tool_members[m["member_id"]]
            assert row["HOST"] == "/" + m["host"] and row["CLIENT-ID"] == m["client_id"]
            assert int(row["#PARTITIONS"]) == len(m["assignment"])
            by_topic: dict[str, list[int]] = {}
            for a in m["assignment"]:
                by_topic.setdefault(a["topic"], []).append(a["partition"])
            rendered = ";".join(f"{t}:{','.join(map(str, sorted(ps)))}" for t, ps in sorted(by_topic.items())) or "-"
            assert row["CURRENT-ASSIGNMENT"] == rendered


def test_group_list_agrees_with_the_tool_on_state_and_members(
    viewer_client, cluster, kafka_bootstrap, situations, use_test_redis
):
    # The list reads the collector's snapshot: one round, then the tool.
    assert collect(cluster).outcome == COLLECTED
    tool = run_tool("consumer-groups", ["--list", "--state", "--type"], kafka_bootstrap)
    assert tool.returncode == 0, tool.stderr
    tool_groups = {}
    for line in tool.stdout.splitlines()[1:]:
        fields = line.split()
        if len(fields) == 3:
            tool_groups[fields[0]] = (fields[1].lower(), fields[2])
    console = {}
    for group in situations.values():
        listed = viewer_client.get("/api/clusters/local/groups/", {"q": group}).json()["groups"]
        console.update({g["group"]: g for g in listed})
    for group in situations.values():
        assert (console[group]["protocol_type"], console[group]["state"]) == tool_groups[group]
    assert console[situations["stable_classic"]]["members"] == 2
    assert console[situations["empty_lag"]]["lag"] == (30 - 10) + (20 - 10) + (10 - 10)
    assert console[situations["empty_lag"]]["partitions"] == 3
