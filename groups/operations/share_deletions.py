"""Deletion of a share group (KIP-932): request, and its steps in the one lifecycle.

The same request `kafka-share-groups --delete` sends (DeleteGroups, which Kafka answers for a group
of any type), with the console's reason, audit, approval and role (`delete`). Kafka deletes only a
share group without members, so an active one is refused at the page, at approval and by the
worker, with nothing written. Deleting drops the group's start offsets: it cannot be undone.
"""

from __future__ import annotations

from datetime import timedelta

from django.conf import settings

from groups.kafka import ClusterClient, ConsoleError, ShareGroupDescription, ShareGroupNotFound, share_client_for
from groups.models import Cluster, Operation
from groups.operations import lifecycle
from groups.operations.active_groups import members_counted
from groups.operations.lifecycle import Review


def active_share_group_deletion_message(group: ShareGroupDescription) -> str:
    """Why an active share group cannot be deleted: its state and who is in it."""
    clients = ", ".join(sorted({m.client_id for m in group.members})) or "none listed"
    return (
        f"Deleting an active share group is refused: '{group.group_id}' is {group.state} with "
        f"{members_counted(len(group.members))} (client ids: {clients}), and Kafka deletes a share group only "
        "while it has no members. Stop its share consumers (its state must be Empty), then try again."
    )


def request_share_deletion(
    *,
    cluster: Cluster,
    group_id: str,
    reason: str,
    actor: str,
    requester=None,
    via: str = "web",
    source_ip: str | None = None,
    dispatch: bool = True,
) -> Operation:
    """Request the deletion of a share group (see `lifecycle.request`)."""
    return lifecycle.request(
        cluster=cluster,
        kind=Operation.Kind.SHARE_DELETE,
        plan=[],
        reason=reason,
        actor=actor,
        requester=requester,
        via=via,
        source_ip=source_ip,
        dispatch=dispatch,
        group_id=group_id,
    )


class ShareDeletionRun(lifecycle.Run, kind=Operation.Kind.SHARE_DELETE):
    """Under the group's lock: re-check that the share group has no members, delete it, and check that
    Kafka no longer knows it."""

    action = "delete"
    locks_group = True

    def left_behind(self, unexpected: bool) -> str:
        return "Check whether the share group still exists before retrying." if unexpected else ""

    def execute_steps(self, client: ClusterClient) -> None:
        group_id = self.operation.group_id
        share = share_client_for(self.operation.cluster)
        group = share.describe(group_id)
        if group.is_active:
            raise ConsoleError(
                f"{active_share_group_deletion_message(group)} Nothing was written.", code="GROUP_ACTIVE"
            )
        client.delete_group(group_id)
        try:
            left = share.describe(group_id)
        except ShareGroupNotFound:
            self.finish(Operation.Status.SUCCEEDED)
            return
        self.finish(
            Operation.Status.FAILED,
            error=f"Kafka accepted the deletion but still describes share group '{group_id}' ({left.state}).",
        )

    @classmethod
    def review(cls, operation: Operation) -> Review:
        """The share group as it stands now: a deletion can be approved only while it has no members."""
        try:
            group = share_client_for(operation.cluster).describe(operation.group_id)
        except ConsoleError as exc:
            return Review(error=exc.message)
        if group.is_active:
            return Review(error=active_share_group_deletion_message(group))
        return Review()

    @staticmethod
    def reap_stale() -> list[int]:
        """Fail the share-group deletions whose worker vanished; whether it applied is for a person to check."""
        stale = lifecycle.stale([Operation.Kind.SHARE_DELETE], timedelta(seconds=settings.OPERATION_STALE_AFTER))
        return lifecycle.fail_silent(stale, lambda _: "Check whether the share group still exists before retrying.")
