"""The console's only door to Kafka: typed facts out, one error type with a readable message.

`admin` reads groups, offsets and topics and makes the two group writes; `copier` copies record
ranges between topics; `offsets_helper` reads committed offsets in a child process (see there
why); `offset_deletion` deletes committed offsets through kafka-python (imported as a module, so
only its callers load that client); `share` reads and resets share groups (KIP-932) and
`streams` describes streams groups (KIP-1071), which librdkafka does not carry. Callers import
what they need from this package.
"""

from groups.kafka.admin import ClusterClient, client_for
from groups.kafka.admin_clients import offset_fetcher
from groups.kafka.convert import STATE_NAMES, TYPE_NAMES
from groups.kafka.copier import RangeCopier
from groups.kafka.offsets_helper import HelperDied, OffsetFetcher
from groups.kafka.share import (
    SHARE_INACTIVE_STATES,
    ShareClient,
    ShareGroupDescription,
    ShareGroupListing,
    ShareGroupNotFound,
    ShareGroupState,
    ShareMember,
    SharePartitionOffset,
    share_client_for,
)
from groups.kafka.streams import (
    StreamsGroupDescription,
    StreamsGroupNotFound,
    describe_group_to_change,
    describe_streams_group,
    streams_description_for,
)
from groups.kafka.values import (
    CHECKPOINT_CADENCE,
    INACTIVE_STATES,
    TP,
    ConsoleError,
    CopyJob,
    CopyProgress,
    GroupDescription,
    GroupListing,
    LogOffsets,
    Member,
    Record,
    RecordFilter,
    TopicFacts,
)

__all__ = [
    "StreamsGroupDescription",
    "StreamsGroupNotFound",
    "describe_group_to_change",
    "describe_streams_group",
    "streams_description_for",
    "CHECKPOINT_CADENCE",
    "INACTIVE_STATES",
    "SHARE_INACTIVE_STATES",
    "STATE_NAMES",
    "TP",
    "TYPE_NAMES",
    "ClusterClient",
    "ConsoleError",
    "CopyJob",
    "CopyProgress",
    "GroupDescription",
    "GroupListing",
    "HelperDied",
    "LogOffsets",
    "Member",
    "OffsetFetcher",
    "RangeCopier",
    "Record",
    "RecordFilter",
    "ShareClient",
    "ShareGroupDescription",
    "ShareGroupListing",
    "ShareGroupNotFound",
    "ShareGroupState",
    "ShareMember",
    "SharePartitionOffset",
    "TopicFacts",
    "client_for",
    "offset_fetcher",
    "share_client_for",
]
