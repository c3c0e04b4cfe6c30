"""A share group's snapshot row carries the broker's start offsets and lag, not the consumer-group rules'."""

from __future__ import annotations

from groups.kafka import TP, SharePartitionOffset
from groups.kafka.collect import PartitionReading
from groups.snapshot import rows
from groups.snapshot.evaluate import GroupRow
from groups.snapshot.share_rows import NO_STATUS_REASON, fill_share_rows


def _row(group_id: str, type_: str) -> GroupRow:
    return GroupRow(group_id, "Empty", type_, 0, [], 0, None, "", "", status="OK", status_reason="ok")


def test_a_share_rows_figures_are_the_brokers_and_other_rows_are_left_alone():
    share, classic = _row("s", "share"), _row("c", "classic")
    offsets = {
        "s": (
            SharePartitionOffset(TP("t", 0), 5, 0, 3),
            SharePartitionOffset(TP("t", 1), None, None, None),
            SharePartitionOffset(TP("u", 0), 2, 0, 4),
        )
    }
    partitions = {TP("t", 0): PartitionReading(1, 9), TP("u", 0): PartitionReading(0, 6)}
    fill_share_rows([share, classic], offsets, partitions)
    assert (share.topics, share.partitions, share.lag) == (["t", "u"], 3, 7)
    assert (share.status, share.status_reason) == ("", NO_STATUS_REASON)
    decoded = rows.decode_group_detail(share.detail)
    assert [(p.topic, p.partition, p.committed, p.log_start, p.log_end, p.lag) for p in decoded] == [
        ("t", 0, 5, 1, 9, 3),
        ("t", 1, None, None, None, None),
        ("u", 0, 2, 0, 6, 4),
    ]
    assert (classic.status, classic.lag, classic.detail) == ("OK", None, "")


def test_a_share_group_without_state_has_no_lag():
    share = _row("s", "share")
    fill_share_rows([share], {}, {})
    assert (share.partitions, share.lag, share.topics) == (0, None, [])
