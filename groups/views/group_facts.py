"""Facts the group and topic pages show beside their own tables: a KIP-848 group as its coordinator holds
it (true state, epochs, each member's target assignment) and the durability of topics.

Each page includes one fragment per fact and gets its context from one call here. A fact that cannot be
read leaves its error in the context for its fragment to show; the rest of the page is unaffected.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from django.http import HttpRequest

from groups import durability
from groups.kafka import ConsoleError, GroupDescription, client_for
from groups.kafka.consumer_groups import ConsumerProtocolGroup, consumer_group_client_for
from groups.kafka.durability import read_replication
from groups.models import Cluster
from groups.reading import GroupDetail
from groups.views.common import is_partial


def group_page_facts(request: HttpRequest, cluster: Cluster, detail: GroupDetail) -> dict[str, Any]:
    """The KIP-848 view of a `consumer` group (on every refresh: its state moves), and on the full page
    only, the durability of the topics it reads (settings that rarely change, read once per visit)."""
    facts = group_protocol(cluster, detail.description)
    if not is_partial(request):
        facts |= topics_durability(cluster, {row.topic for row in detail.rows})
        facts["uncovered"] = uncovered_partitions(facts.get("durability") or [], detail)
    return facts


def uncovered_partitions(
    topics: Iterable[durability.TopicDurability], detail: GroupDetail
) -> list[tuple[str, list[int], int]]:
    """(topic, partitions, of how many) of each topic the group reads where it has neither a committed offset
    nor an owner on some partitions: a consumer assigned one starts where its auto.offset.reset says."""
    seen = {(row.topic, row.partition) for row in detail.rows}
    out = []
    for topic in topics:
        missing = [p for p in range(len(topic.partitions)) if (topic.topic, p) not in seen]
        if missing:
            out.append((topic.topic, missing, len(topic.partitions)))
    return out


def topic_page_facts(request: HttpRequest, cluster: Cluster, topic: str) -> dict[str, Any]:
    """The durability of the topic, on the full page only."""
    if is_partial(request):
        return {}
    facts = topics_durability(cluster, [topic])
    found = facts.get("durability") or []
    return {"topic_durability": found[0] if found else None, "durability_error": facts.get("durability_error")}


def group_protocol(cluster: Cluster, description: GroupDescription) -> dict[str, Any]:
    """`group_protocol` (a ConsumerProtocolGroup) for a `consumer` group, or `group_protocol_error`."""
    if description.type != "consumer":
        return {}
    try:
        return {"group_protocol": consumer_group_client_for(cluster).describe(description.group_id)}
    except ConsoleError as error:
        return {"group_protocol_error": error}


def topics_durability(cluster: Cluster, topics: Iterable[str]) -> dict[str, Any]:
    """`durability`: one judged TopicDurability per existing topic, by name; or `durability_error`."""
    try:
        facts = read_replication(client_for(cluster), topics)
    except ConsoleError as error:
        return {"durability_error": error}
    return {"durability": [durability.judge(facts[name]) for name in sorted(facts)]}


def group_protocol_json(cluster: Cluster, description: GroupDescription) -> dict[str, Any]:
    """The API's `consumer_protocol` object for a `consumer` group (null with `consumer_protocol_error`
    when the coordinator cannot say); nothing for a classic group."""
    facts = group_protocol(cluster, description)
    if "group_protocol_error" in facts:
        return {"consumer_protocol": None, "consumer_protocol_error": facts["group_protocol_error"].message}
    group: ConsumerProtocolGroup | None = facts.get("group_protocol")
    if group is None:
        return {}
    return {
        "consumer_protocol": {
            "state": group.state,
            "group_epoch": group.group_epoch,
            "assignment_epoch": group.assignment_epoch,
            "assignor": group.assignor,
            "coordinator": group.coordinator,
            "members": [
                {
                    "member_id": m.member_id,
                    "instance_id": m.instance_id,
                    "rack": m.rack,
                    "client_id": m.client_id,
                    "host": m.display_host,
                    "member_epoch": m.member_epoch,
                    "member_type": m.member_type,
                    "subscribed_topics": list(m.subscribed_topics),
                    "subscribed_regex": m.subscribed_regex,
                    "assignment": [{"topic": tp.topic, "partition": tp.partition} for tp in m.assignment],
                    "target_assignment": [{"topic": tp.topic, "partition": tp.partition} for tp in m.target_assignment],
                    "reconciling": m.reconciling,
                }
                for m in group.members
            ],
        }
    }
