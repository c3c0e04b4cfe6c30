"""What the JSON API's actions accept and answer (the reads' shapes are in groups.api.schemas); the
OpenAPI schema at /api/schema/ is generated from both."""

from __future__ import annotations

from typing import Annotated, Any

from ninja import Field, Schema
from pydantic import BeforeValidator, ConfigDict, WithJsonSchema, model_validator

from groups import forms
from groups.operations.resets import STRATEGIES
from groups.operations.share_resets import SHARE_STRATEGIES


def _one_of(choices) -> dict:
    """The values a form's choice takes, as the schema's enum (the form still checks them, with its words)."""
    return {"enum": [value for value, _ in choices]}


def _number_as_text(value: Any) -> Any:
    # The forms read text; a JSON integer (5, -8) is the same value a client would write as "5" or "-8".
    # bool is an int in Python, but `true` is no number.
    return str(value) if isinstance(value, int) and not isinstance(value, bool) else value


# A field the forms read as text that often holds one whole number (an offset, a shift, a partition):
# a JSON string or integer.
TextOrNumber = Annotated[
    str, BeforeValidator(_number_as_text), WithJsonSchema({"anyOf": [{"type": "string"}, {"type": "integer"}]})
]


class _Input(Schema):
    """A request body: a field it does not know is refused, never ignored. A misspelt `scope` ignored
    would reset every partition of the group."""

    model_config = ConfigDict(extra="forbid")


class ResetIn(_Input):
    strategy: str = Field(
        description="As kafka-consumer-groups --reset-offsets names them.",
        json_schema_extra=_one_of(STRATEGIES.items()),
    )
    value: TextOrNumber = Field(
        "", description="What the strategy needs: an offset, ±N, a time, a duration, a group, CSV text."
    )
    scope: str = Field("", description="Topics or partitions such as `orders orders2:0,2`; empty for all committed.")


class ShareResetIn(_Input):
    strategy: str = Field(json_schema_extra=_one_of(SHARE_STRATEGIES.items()))
    value: TextOrNumber = ""
    scope: str = Field("", description="Topics or partitions; empty for every share-partition of the group.")


class OffsetDeletionIn(_Input):
    scope: str = Field(description="As kafka-consumer-groups --delete-offsets --topic takes it: `orders orders2:0,2`.")


class ReplayIn(_Input):
    """The replay form's fields, by the same names and with the same defaults."""

    target_topic: str
    partitions_mode: str = Field(
        "all", description="some: then `partitions`.", json_schema_extra=_one_of(forms.PARTITION_CHOICES)
    )
    partitions: TextOrNumber = Field("", description="Such as 0,2,5.")
    range_mode: str = Field(
        "offsets",
        description="offsets: then `offsets`; time: then `time_from`, `time_to`.",
        json_schema_extra=_one_of(forms.RANGE_CHOICES),
    )
    offsets: str = Field("", description=forms.RANGE_FORM)
    time_from: str = ""
    time_to: str = ""
    key_filter: str = Field(
        "none", description="equals or regex: then `key`.", json_schema_extra=_one_of(forms.KEY_FILTERS)
    )
    key: str = ""
    header_filter: str = Field(
        "none", description="present or equals: then `header_name`.", json_schema_extra=_one_of(forms.HEADER_FILTERS)
    )
    header_name: str = ""
    header_value: str = ""
    partitioning: str = Field("same", json_schema_extra=_one_of(forms.PARTITIONING_CHOICES))
    timestamps: str = Field("keep", json_schema_extra=_one_of(forms.TIMESTAMP_CHOICES))
    delivery: str = Field("exactly-once", json_schema_extra=_one_of(forms.DELIVERY_CHOICES))
    throttle: int | None = Field(None, description="Records per second; none for as fast as the cluster takes them.")

    @model_validator(mode="after")
    def _no_field_its_mode_ignores(self) -> ReplayIn:
        """A field given while the mode that reads it is off would be ignored, and the replay copy more than
        asked (every partition, every record): refused instead, saying which mode to set."""
        unused = [
            (field, mode, wanted)
            for field, mode, wanted in (
                ("partitions", "partitions_mode", "some"),
                ("offsets", "range_mode", "offsets"),
                ("time_from", "range_mode", "time"),
                ("time_to", "range_mode", "time"),
                ("key", "key_filter", "equals or regex"),
                ("header_name", "header_filter", "present or equals"),
                ("header_value", "header_filter", "equals"),
            )
            if getattr(self, field) and getattr(self, mode) not in wanted.split(" or ")
        ]
        if unused:
            raise ValueError(
                "; ".join(
                    f"{field} is given but {mode} is {getattr(self, mode)!r}, so it would be ignored: set {mode} "
                    f"to {wanted}, or leave {field} out"
                    for field, mode, wanted in unused
                )
            )
        return self


class Confirm(_Input):
    token: str = Field(description="The token a preview answered with; it expires after 15 minutes.")
    reason: str = Field(description="Why: recorded with the operation and in the audit log.")


class ReasonIn(_Input):
    reason: str


_DELETE_INTERNAL_TOPICS = (
    "A streams group's: also delete its application's internal topics that the preview listed, once the group "
    "change succeeded (needs the right to delete the group)."
)


class ResetConfirm(Confirm):
    delete_internal_topics: bool = Field(False, description=_DELETE_INTERNAL_TOPICS)


class GroupDeletionIn(ReasonIn):
    delete_internal_topics: bool = Field(False, description=_DELETE_INTERNAL_TOPICS)


class CommentIn(_Input):
    comment: str = Field("", description="Required to reject; optional to approve.")


class ResetRow(Schema):
    topic: str
    partition: int
    before: int | None
    after: int
    log_start: int
    log_end: int
    clamped: str | None
    note: str | None


class FirstRecord(Schema):
    topic: str
    partition: int
    offset: int = Field(description="The planned offset.")
    state: str = Field(
        description="record: the record the group reads first; end: the log ends there (no record yet); "
        "unread: no answer in time, or the offset left the log meanwhile."
    )
    record_offset: int | None = None
    timestamp_ms: int | None = None
    timestamp_type: str | None = None
    time: str | None = None
    key: str | None = Field(None, description="An excerpt: text as text, other bytes as hex; null for a null key.")
    value: str | None = Field(None, description="An excerpt, as the key's.")


class FirstRecords(Schema):
    rows: list[FirstRecord] = []
    error: str = Field("", description="Why the records could not be read.")
    refused: str = Field("", description="The role that may see them, when the caller lacks it.")


class InternalTopic(Schema):
    topic: str
    partitions: int
    role: str = Field(description="repartition or changelog")


class KeptTopic(Schema):
    topic: str
    why: str


class InternalTopics(Schema):
    """A streams group's internal topics, as kafka-streams-groups --delete-all-internal-topics picks them."""

    delete: list[InternalTopic] = Field(description="What `delete_internal_topics` deletes with the group change.")
    kept: list[KeptTopic] = Field(description="Other repartition and changelog topics of its topology, left alone.")
    warning: str = Field(description="What a reset without deleting them leaves behind.")


class ResetPreview(Schema):
    group: str
    state: str
    plan: list[ResetRow]
    first_records: FirstRecords | None = Field(
        None, description="The record each planned partition reads first after the reset (group resets only)."
    )
    warnings: list[str]
    zone_assumed: bool = Field(description="Whether a time without a zone was read as UTC.")
    blocked_reason: str | None = Field(description="Why this plan cannot be requested; then there is no token.")
    token: str | None
    request_url: str = Field(description="Where to send the token with a reason.")
    internal_topics: InternalTopics | None = Field(None, description="A streams group's internal topics.")


class DeletionRow(Schema):
    topic: str
    partition: int
    before: int | None
    log_start: int | None
    log_end: int | None


class OffsetDeletionPreview(Schema):
    group: str
    state: str
    plan: list[DeletionRow]
    blocked_reason: str | None
    token: str | None
    request_url: str


class GroupDeletionPreview(Schema):
    group: str
    state: str
    members: int
    blocked_reason: str | None
    request_url: str
    internal_topics: InternalTopics | None = Field(None, description="A streams group's internal topics.")
    plan: list[DeletionRow] = Field(
        default_factory=list, description="Every offset the group has committed: what deleting it deletes."
    )


class ShareStartOffset(Schema):
    topic: str
    partition: int
    start_offset: int | None
    leader_epoch: int | None
    lag: int | None
    error: str | None


class ShareDeletionPreview(Schema):
    group: str
    state: str
    members: int
    start_offsets: list[ShareStartOffset] = Field(description="What the deletion drops; it cannot be undone.")
    blocked_reason: str | None = Field(description="Why the share group cannot be deleted now; None if it can.")
    request_url: str = Field(description="Where to send a reason to request the deletion.")


class ReplayPreview(Schema):
    topic: str
    target_topic: str
    ranges: list[dict[str, Any]]
    total: int
    warnings: list[str]
    target: dict[str, Any]
    sample: list[dict[str, Any]]
    zone_assumed: bool
    token: str
    request_url: str
