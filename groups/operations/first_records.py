"""The first record each partition of a reset's plan will give its group, as the reset preview shows it:
read in one batch, and the reading recorded in the audit log as any reading of records is."""

from __future__ import annotations

from groups import browse
from groups.kafka import TP, ClusterClient
from groups.kafka.records import first_records
from groups.planning import resets as planning
from groups.planning.time_text import format_time_ms


def first_records_after(
    client: ClusterClient, plan: planning.ResetPlan, *, actor: str, cluster: str, group_id: str, source_ip: str | None
) -> list[dict]:
    """Per planned partition, the first record the group will read after the reset, read in one batch; audited.

    Each row has topic, partition, offset (the planned one) and state: "record" (with timestamp_ms,
    timestamp_type, time, key and value excerpts, None for null), "end" (the log ends at the offset:
    no record yet), "deleted" (below the log start, `log_start`) or "unread" (no answer within the deadline).
    """
    below = {TP(r.topic, r.partition) for r in plan.rows if r.log_start is not None and r.after < r.log_start}
    wanted = {TP(row.topic, row.partition): row.after for row in plan.rows if row.after < row.log_end}
    found = first_records(client, wanted)
    rows, read = [], []
    for row in plan.rows:
        tp = TP(row.topic, row.partition)
        out: dict = {"topic": row.topic, "partition": row.partition, "offset": row.after}
        if tp in below:  # retention deleted it: the consumer's auto.offset.reset decides where it starts
            out.update(state="deleted", log_start=row.log_start)
        elif tp not in wanted or (tp in found and found[tp] is None):
            out["state"] = "end"
        elif tp not in found:
            out["state"] = "unread"
        else:
            record = found[tp]
            assert record is not None
            read.append(
                browse.read_row(
                    row.topic, row.partition, [record], note=f"first record after the reset of '{group_id}' (preview)"
                )
            )
            out.update(
                state="record",
                record_offset=record.offset,
                timestamp_ms=record.timestamp_ms,
                timestamp_type=record.timestamp_type,
                time=format_time_ms(record.timestamp_ms, sep=" ", missing=""),
                key=browse.excerpt(record.key),
                value=browse.excerpt(record.value),
            )
        rows.append(out)
    if read:
        browse.audit_read(actor=actor, cluster=cluster, group_id=group_id, source_ip=source_ip, rows=read)
    return rows
