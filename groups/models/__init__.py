"""The console's rows, and the vocabulary they need: roles and the actions grants name.

One module per idea; everything is importable from `groups.models`, as Django and the rest of the
console expect.
"""

from groups.models.access import ACTIONS, ROLES, ApiToken, Grant, LoginFailure, role_choices
from groups.models.alerts import AlertDelivery, AlertEpisode, AlertRule, AlertState
from groups.models.audit import AppendOnlyQuerySet, AuditEvent
from groups.models.clusters import Cluster, parse_cluster_setting
from groups.models.history import HistoryChunk, HistoryPoint, HistoryRound, HistorySeries, HistoryWatermark
from groups.models.operations import Operation, Replay
from groups.models.preferences import UserPreferences
from groups.models.rebalances import GroupMembership, Rebalance
from groups.models.snapshots import Collection, DatedRecord, Snapshot, SnapshotGroup, SnapshotTopic

__all__ = [
    "ACTIONS",
    "ROLES",
    "AlertDelivery",
    "AlertEpisode",
    "AlertRule",
    "AlertState",
    "ApiToken",
    "AppendOnlyQuerySet",
    "AuditEvent",
    "Cluster",
    "Collection",
    "DatedRecord",
    "Grant",
    "GroupMembership",
    "HistoryChunk",
    "HistoryPoint",
    "HistoryRound",
    "HistorySeries",
    "HistoryWatermark",
    "LoginFailure",
    "Operation",
    "Rebalance",
    "Replay",
    "Snapshot",
    "SnapshotGroup",
    "SnapshotTopic",
    "UserPreferences",
    "parse_cluster_setting",
    "role_choices",
]
