"""How the console words an active group's refusal: its state, who is in it, and what to stop.

The common part of every refusal to change an active group (preview, worker, approval review); each
place adds what its reader should do next.
"""

from __future__ import annotations

from groups.kafka import GroupDescription


def members_counted(count: int) -> str:
    """ "1 member", "2 members": refusals quote the count."""
    return f"{count} member{'' if count == 1 else 's'}"


def active_group_message(group: GroupDescription, *, deleting: bool = False) -> str:
    """Why an active group's offsets cannot be changed (or, `deleting`, the group deleted): its state and
    who is in it.

    The common part of every such refusal (preview, worker, approval review); each place adds
    what its reader should do next.
    """
    clients = ", ".join(sorted({m.client_id for m in group.members})) or "none listed"
    kind = "Streams group" if group.type == "streams" else "Group"
    rule = (
        "Kafka deletes only a group without members."
        if deleting
        else "Kafka only accepts new offsets for an inactive group."
    )
    return (
        f"{kind} '{group.group_id}' is {group.state} with {members_counted(len(group.members))} "
        f"(client ids: {clients}): {rule}"
    )


def stop_members(group: GroupDescription) -> str:
    """What a person stops so that the group has no members: its consumers, or a streams group's application."""
    return "Stop every instance of its Kafka Streams application" if group.type == "streams" else "Stop its consumers"
