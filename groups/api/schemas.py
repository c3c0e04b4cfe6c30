"""The shapes the JSON API answers and accepts; the OpenAPI schema at /api/schema/ is generated from them.

Optional fields with a default are left out of an answer that does not have them (routes answer with
`exclude_unset`), so an answer keeps exactly the keys it always had.
"""

from __future__ import annotations

from typing import Any

from ninja import Field, Schema


class Error(Schema):
    error: str = Field(description="What went wrong and what to do about it, for a person.")
    code: str = Field(description="A stable word for scripts: NOT_FOUND, FORBIDDEN, BAD_REQUEST, CONFLICT, ...")


class NoSnapshot(Error):
    last_failure: str | None
    snapshot: None


class SnapshotInfo(Schema):
    taken_at: str
    age_s: float
    duration_s: float | None
    stale: bool
    stale_reason: str | None


class Cluster(Schema):
    name: str
    bootstrap_servers: str


class Clusters(Schema):
    clusters: list[Cluster]


class GroupRow(Schema):
    group: str
    state: str
    protocol_type: str
    members: int
    topics: list[str]
    partitions: int
    lag: int | None
    lag_seconds: float | None
    lag_seconds_method: str | None
    lag_seconds_doubtful: bool
    status: str | None
    status_reason: str | None
    reset_by_operation: int | None
    catch_up_seconds: float | None
    retention_margin_seconds: float | None
    retention_note: str | None = Field(
        None, description="Why; beginning 'More than the topic's retention' when the margin lies beyond retention.ms."
    )
    replay_operation: int | None
    error: str | None


class GroupsPage(Schema):
    snapshot: SnapshotInfo
    total: int
    page: int
    per_page: int
    groups: list[GroupRow]


class TopicRow(Schema):
    topic: str
    internal: bool
    partitions: int
    messages: int | None
    groups: int
    lag: int | None
    max_lag_seconds: float | None
    max_lag_seconds_method: str | None = Field(None, description="How the group's figure behind it was told.")
    max_lag_seconds_doubtful: bool = False


class TopicsPage(Schema):
    snapshot: SnapshotInfo
    total: int
    page: int
    per_page: int
    topics: list[TopicRow]


class TopicPartition(Schema):
    topic: str
    partition: int


class Member(Schema):
    member_id: str
    client_id: str
    host: str
    assignment: list[TopicPartition]


class GroupPartition(Schema):
    topic: str
    partition: int
    committed: int | None
    log_start: int | None
    log_end: int | None
    lag: int | None
    lag_ms: int | None = Field(
        description="Read now, with the offsets beside it: the age of the record at the committed offset, in ms."
    )
    status: str | None
    lag_seconds: float | None = Field(
        description="From the last collection round (see `snapshot`), as lists and alerts use it: the age of the "
        "record at the committed offset then, told by `lag_seconds_method`."
    )
    lag_seconds_method: str | None
    lag_seconds_doubtful: bool = False


class ProtocolMember(Schema):
    member_id: str
    instance_id: str | None
    rack: str | None
    client_id: str
    host: str
    member_epoch: int
    member_type: str | None
    subscribed_topics: list[str]
    subscribed_regex: str | None
    assignment: list[TopicPartition]
    target_assignment: list[TopicPartition]
    reconciling: bool


class ConsumerProtocol(Schema):
    state: str
    group_epoch: int
    assignment_epoch: int
    assignor: str
    coordinator: str
    members: list[ProtocolMember]


class Forecasts(Schema):
    """What the last collection round forecast for the group, as its page and the group list show it."""

    catch_up_seconds: float | None = Field(None, description="Until caught up at current rates; 0 when caught up.")
    catch_up_note: str | None = Field(None, description="Catching up, falling behind, holding, and at what rate.")
    retention_margin_seconds: float | None = Field(
        None,
        description="Until retention deletes records it has not read; 0: deletable now, or already lost; the "
        "topic's retention.ms when the projection lies beyond it (the note then begins 'More than the topic's "
        "retention'); none for a group that keeps pace or catches up.",
    )
    retention_note: str | None = None


class Group(Forecasts):
    group: str
    state: str
    protocol_type: str
    coordinator: str
    snapshot: SnapshotInfo | None
    status: str | None
    status_reason: str | None
    lag_seconds: float | None = Field(description="From the last collection round: its worst partition's.")
    lag_seconds_method: str | None = None
    lag_seconds_doubtful: bool = False
    lag: int | None = Field(None, description="Read now: the sum of its partitions' lags (those past the end count 0).")
    members: list[Member]
    partitions: list[GroupPartition]
    consumer_protocol: ConsumerProtocol | None = Field(None, description="Only for a `consumer`-protocol group.")
    consumer_protocol_error: str | None = Field(None, description="Why the coordinator could not describe it.")


class HistoryPoint(Schema):
    t: str
    lag: int | None
    lag_seconds: float | None
    status: str | int | None
    span_s: float
    lag_max: int | None = None
    lag_seconds_max: float | None = None
    worst_status: str | int | None = None
    rounds: int | None = None


class HistoryMove(Schema):
    id: int
    t: str
    kind: str


class RebalanceMember(Schema):
    member_id: str
    client_id: str
    host: str


class RebalanceMove(Schema):
    topic: str
    partition: int
    from_: RebalanceMember | None = Field(alias="from")
    to: RebalanceMember | None
    committed: int | None = Field(description="The group's last commit seen before the rebalance.")
    log_end: int | None = Field(description="The partition's log end seen after it.")
    redelivery_upper_bound: int | None = Field(
        description="Records the new owner could read again at most: log end minus last commit; null if unknown."
    )


class HistoryRebalance(Schema):
    t: str = Field(description="When a collection round saw it; it happened since the round before.")
    generation: int | None = Field(description="The KIP-848 group epoch; Kafka does not report a classic group's.")
    previous_generation: int | None
    joined: list[RebalanceMember]
    left: list[RebalanceMember]
    moved: list[RebalanceMove]
    redelivery_upper_bound: int | None


class History(Schema):
    group: str
    since: str
    until: str
    points: list[HistoryPoint]
    operations: list[HistoryMove]
    rebalances: list[HistoryRebalance]


class TopicReader(Schema):
    group: str
    state: str
    partitions: int
    lag: int | None
    status: str
    replay_operation: int | None
    type: str = Field(description='The group\'s kind: "consumer", "classic", "share" or "streams".')


class TopicLogPartition(Schema):
    partition: int
    log_start: int | None
    log_end: int | None
    newest_offset: int | None
    newest_ms: int | None


class Topic(Schema):
    topic: str
    snapshot: SnapshotInfo
    internal: bool
    partitions: list[TopicLogPartition]
    readers: list[TopicReader]
    hidden_checkpoint_groups: int


class ShareGroupRow(Schema):
    group: str
    state: str


class ShareGroups(Schema):
    share_groups: list[ShareGroupRow]


class ShareMember(Schema):
    member_id: str
    client_id: str
    host: str
    rack: str | None
    member_epoch: int
    subscribed_topics: list[str]
    assignment: list[TopicPartition]


# Why a share-partition's collected figures may be null while its live ones are not.
_SAME_READ = (
    "Null where the round saw another start offset or position (`collected_note`), so that the answer never pairs "
    "one offset with a judgement of another."
)


class SharePartition(Schema):
    topic: str
    partition: int
    start_offset: int | None
    leader_epoch: int | None
    lag: int | None
    log_start: int | None
    log_end: int | None
    consumers: list[str]
    error: str | None
    status: str | None = Field(
        description=f"From the last collection round, which judges a share-partition at its position (the log end "
        f"minus the lag), given only where that round saw the start offset and position this read sees. {_SAME_READ}"
    )
    lag_seconds: float | None = Field(
        description=f"From the last collection round: the age of the record at the position it saw. {_SAME_READ}"
    )
    lag_seconds_method: str | None
    lag_seconds_doubtful: bool = False
    collected_note: str | None = Field(
        description="Why `status` and `lag_seconds` are null: the last round did not see the share-partition, "
        "or saw another start offset or position than this read (it names both)."
    )


class ShareGroup(Forecasts):
    group: str
    type: str
    state: str
    snapshot: SnapshotInfo | None
    status: str | None = Field(
        None,
        description="The last collection round's (as of `snapshot`), judged on the position its lag implies: the log "
        "end minus the lag. Each share-partition's stands beside this read's offsets only where they are those the "
        "round judged.",
    )
    status_reason: str | None
    lag_seconds: float | None
    lag_seconds_method: str | None = None
    lag_seconds_doubtful: bool = False
    group_epoch: int
    assignment_epoch: int
    assignor: str
    coordinator: str
    members: list[ShareMember]
    partitions: list[SharePartition]
    lag: int | None


class StreamsSubtopology(Schema):
    id: str
    source_topics: list[str]
    repartition_sink_topics: list[str]
    repartition_source_topics: list[str]
    state_changelog_topics: list[str]


class StreamsTasks(Schema):
    subtopology: str
    partitions: list[int]


class StreamsAssignment(Schema):
    active: list[StreamsTasks]
    standby: list[StreamsTasks]
    warmup: list[StreamsTasks]


class StreamsMember(Schema):
    member_id: str
    member_epoch: int
    process_id: str
    client_id: str
    host: str
    instance_id: str | None
    rack: str | None
    topology_epoch: int
    is_classic: bool = Field(description="Whether the member joined with the classic protocol.")
    assignment: StreamsAssignment
    target_assignment: StreamsAssignment


class StreamsPartition(Schema):
    topic: str
    partition: int
    committed: int | None
    log_start: int | None
    log_end: int | None
    lag: int | None
    subtopology: str | None = Field(description="The sub-topology whose task reads the partition.")
    member_id: str | None = Field(description="The member running that task.")
    status: str | None
    lag_seconds: float | None
    lag_seconds_method: str | None
    lag_seconds_doubtful: bool = False


class StreamsGroup(Forecasts):
    group: str
    type: str
    state: str
    snapshot: SnapshotInfo | None
    status: str | None
    status_reason: str | None
    lag_seconds: float | None
    lag_seconds_method: str | None = None
    lag_seconds_doubtful: bool = False
    group_epoch: int
    assignment_epoch: int
    topology_epoch: int | None = Field(description="None until the group's topology is initialised.")
    coordinator: str
    subtopologies: list[StreamsSubtopology]
    members: list[StreamsMember]
    partitions: list[StreamsPartition]
    lag: int | None


class Operation(Schema):
    id: int
    kind: str = Field(description="reset, delete_group, delete_offsets, replay or share_reset.")
    status: str = Field(description="awaiting_approval, pending, running, succeeded, failed or cancelled.")
    cluster: str
    group: str = Field(description="Empty for a replay, which changes no group.")
    strategy: str
    value: str
    scope: str
    reason: str
    requester: str | None
    requested_via: str
    created: str
    started: str | None
    finished: str | None
    expires_at: str | None = Field(description="When a request awaiting approval lapses.")
    decided_by: str | None
    decided_at: str | None
    decision_comment: str
    undo_of: int | None
    error: str
    plan: list[dict[str, Any]] = Field(description="Per partition (a replay: per source range), absolute offsets.")
    outcome: list[dict[str, Any]] = Field(description="Per partition, what the worker found after applying.")
    internal_topics: list[dict[str, Any]] = Field(
        description="A streams group's internal topics it deletes (topic, partitions, role), and once run whether "
        "each went (deleted, error)."
    )
    page: str = Field(description="The operation's page in the console.")


class OperationsPage(Schema):
    total: int
    page: int
    per_page: int
    operations: list[Operation]


class Approvals(Schema):
    operations: list[Operation]


class AuditEvent(Schema):
    id: int
    time: str
    actor: str
    source_ip: str | None
    action: str
    cluster: str
    group: str
    topics: list[str]
    reason: str
    outcome: str
    error: str
    operation_id: int | None
    hash: str
    plan: Any = Field(description="The plan the event recorded, if any.")


class AuditPage(Schema):
    total: int
    page: int
    per_page: int
    events: list[AuditEvent]
